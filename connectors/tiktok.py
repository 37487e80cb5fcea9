"""TikTok: creator info, Direct Post with chunked FILE_UPLOAD, status polling, cancel, Display API metrics, token refresh.

Contract: shared/platform-contracts.md section 1 (developers.tiktok.com content-posting-api reference and
media-transfer guide). TikTok has no idempotency key and no native scheduling: the `publish_id` from init is the
handle, saved before a byte is sent, and an interrupted post is finished by asking its status, never re-initialised
while it may still go out.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import requests

from campaign.manifest import Account
from connectors.base import AccountCheck, ConnectorError, ErrorKind, MetricReading, PostContent, PublishResult, SaveRef
from connectors.common import Deps, client, deps_from, limiter, poll, token_manager
from connectors.http import HttpClient, Rate, body_of
from connectors.tokens import TokenSet

PLATFORM = "tiktok"
LABEL = "TikTok"

MB = 1024 * 1024
# Media transfer guide: chunks of 5-64 MB, the last one up to 128 MB; a file under 5 MB goes whole; 1-1000 chunks.
MIN_CHUNK = 5 * MB
MAX_CHUNK = 64 * MB
MAX_LAST_CHUNK = 128 * MB
MAX_CHUNKS = 1000
DEFAULT_CHUNK = 10 * MB
UPLOAD_URL_LIFETIME_S = 3600  # upload_url is valid for one hour after init

# Per-token limits from the reference (requests per minute).
RATES = {
    "creator_info": Rate(20, 60),
    "init": Rate(6, 60),
    "status": Rate(30, 60),
    "display": Rate(600, 60),
}

# The privacy levels Chorus will post with, best first; SELF_ONLY only when the credentials ask for it.
PUBLIC_LEVELS = ("PUBLIC_TO_EVERYONE", "FOLLOWER_OF_CREATOR")

HOUR = 3600.0
# error.code (init, creator info, status) -> (kind, words for the comms officer, wait for RATE_LIMITED).
REASONS: dict[str, tuple[ErrorKind, str, float | None]] = {
    "spam_risk_too_many_posts": (ErrorKind.RATE_LIMITED, "TikTok's daily post limit for this account is reached; "
                                 "Chorus will post it later", 6 * HOUR),
    "spam_risk_too_many_pending_share": (ErrorKind.RATE_LIMITED, "too many posts are waiting in this account's "
                                         "TikTok inbox; Chorus will try later", 6 * HOUR),
    "reached_active_user_cap": (ErrorKind.RATE_LIMITED, "the Chorus TikTok app has reached its daily user cap; "
                                "Chorus will try later", 6 * HOUR),
    "rate_limit_exceeded": (ErrorKind.RATE_LIMITED, "TikTok asked Chorus to slow down", 60.0),
    "spam_risk_user_banned_from_posting": (ErrorKind.PERMANENT, "TikTok has banned this account from posting; "
                                           "contact TikTok support", None),
    "unaudited_client_can_only_post_to_private_accounts": (
        ErrorKind.PERMANENT, "the Chorus app is not yet audited by TikTok, so it may only post privately "
        "(set the credentials' PRIVACY_LEVEL to SELF_ONLY, or have the app audited)", None),
    "url_ownership_unverified": (ErrorKind.PERMANENT, "TikTok needs the video's web address to be verified as "
                                 "yours; upload the file instead", None),
    "privacy_level_option_mismatch": (ErrorKind.PERMANENT, "the privacy level is not one this TikTok account "
                                      "allows", None),
    "access_token_invalid": (ErrorKind.AUTH_EXPIRED, "TikTok no longer accepts the account's access token", None),
    "scope_not_authorized": (ErrorKind.NEEDS_RECONNECT, "the account did not grant Chorus the TikTok permission "
                             "video.publish; reconnect it and allow posting", None),
    "scope_permission_missed": (ErrorKind.NEEDS_RECONNECT, "the account did not grant Chorus a TikTok permission it "
                                "needs; reconnect it and allow posting", None),
    "invalid_param": (ErrorKind.PERMANENT, "TikTok rejected the post's settings", None),
    "invalid_file_upload": (ErrorKind.PERMANENT, "TikTok rejected the upload's size or chunking", None),
    "internal_error": (ErrorKind.RETRYABLE, "TikTok had an internal problem; Chorus will try again", None),
    "invalid_publish_id": (ErrorKind.PERMANENT, "TikTok does not know this post's publish id", None),
    "token_not_authorized_for_specified_publish_id": (
        ErrorKind.PERMANENT, "this post was started by another TikTok account's token", None),
    # OAuth (flat shape): a refresh token that no longer works means a person must reconnect.
    "invalid_grant": (ErrorKind.AUTH_EXPIRED, "TikTok refused to renew the account's access", None),
    "invalid_client": (ErrorKind.PERMANENT, "TikTok does not recognise the Chorus app's client key or secret", None),
}

# Status fail_reason -> words. `internal` is retryable (a fresh init), the rest are final.
FAIL_REASONS = {
    "file_format_check_failed": "TikTok could not read the video file format",
    "duration_check_failed": "the video is longer than this TikTok account may post",
    "frame_rate_check_failed": "TikTok needs 23-60 frames per second",
    "picture_size_check_failed": "TikTok needs each side of the picture between 360 and 4096 pixels",
    "internal": "TikTok had an internal problem processing the video",
    "video_pull_failed": "TikTok could not download the video",
    "publish_cancelled": "the post was cancelled",
    "auth_removed": "the account removed Chorus's access while the video was processing",
    "spam_risk_too_many_posts": "TikTok's daily post limit for this account was reached",
    "spam_risk_user_banned_from_posting": "TikTok has banned this account from posting",
    "spam_risk_text": "TikTok flagged the post's text as spam; change the description",
    "spam_risk": "TikTok flagged the post as spam risk",
}


def classify(response: requests.Response, body: Any) -> ConnectorError | None:
    """TikTok's error body: `{"error": {"code", "message", "log_id"}}`, or OAuth's flat `{error, error_description}`."""
    code = message = None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            code, message = err.get("code"), err.get("message")
        elif isinstance(err, str):
            code, message = err, body.get("error_description")
    if not code or code == "ok":
        return None
    kind, words, wait = REASONS.get(code, (None, None, None))
    if kind is None:
        if response.status_code >= 500:
            kind, words = ErrorKind.RETRYABLE, "TikTok had a temporary problem; Chorus will try again"
        elif response.status_code == 401:
            kind, words = ErrorKind.AUTH_EXPIRED, "TikTok no longer accepts the account's access token"
        elif response.status_code == 429:
            kind, words, wait = ErrorKind.RATE_LIMITED, "TikTok asked Chorus to slow down", 60.0
        else:
            kind, words = ErrorKind.PERMANENT, "TikTok refused the post"
    reason = f"{code}: {message}" if message else code
    return ConnectorError(kind, LABEL, words, reason=reason, status=response.status_code, retry_after_s=wait)


def plan_chunks(size: int, preferred: int = DEFAULT_CHUNK) -> tuple[int, int]:
    """(chunk_size, total_chunk_count) under TikTok's rules; the last chunk takes the remainder."""
    if size <= 0:
        raise ValueError("empty video")
    if size < MIN_CHUNK or size <= min(preferred, MAX_CHUNK):
        return size, 1
    chunk = max(MIN_CHUNK, min(preferred, MAX_CHUNK))
    # total = floor(size / chunk) per the guide, so the last chunk is chunk + remainder; keep it within 128 MB.
    total = size // chunk
    while total > MAX_CHUNKS:
        chunk *= 2
        total = size // chunk
    return chunk, total


def chunk_ranges(size: int, chunk: int, total: int) -> list[tuple[int, int]]:
    """[(first_byte, last_byte)] inclusive, the last range running to the end of the file."""
    out = [(i * chunk, (i + 1) * chunk - 1) for i in range(total)]
    out[-1] = (out[-1][0], size - 1)
    return out


def _content_type(path: Path) -> str:
    return {".mov": "video/quicktime", ".webm": "video/webm"}.get(path.suffix.lower(), "video/mp4")


class TikTokConnector:
    platform = PLATFORM
    metric_vocabulary = PLATFORM
    native_scheduling = False
    # TikTok does not publish a number; its cap answers spam_risk_too_many_posts. Keep well under what
    # posting tools report (about 15 a day) so the campaign never triggers the spam checks.
    daily_post_cap = 15

    def __init__(self, account: Account, base_url: str, deps: Deps, *, chunk_size: int = DEFAULT_CHUNK):
        self.account = account
        self.base = base_url.rstrip("/")
        self.options = deps.options
        self.chunk_size = chunk_size
        self.tokens = token_manager(PLATFORM, account, deps, self._refresh, label=LABEL)
        self.limiter = limiter(PLATFORM, account, deps, RATES, label=LABEL)
        self.http: HttpClient = client(PLATFORM, deps, label=LABEL, auth=self.tokens.auth, classify=classify,
                                       limiter=self.limiter)
        self.oauth: HttpClient = client(PLATFORM, deps, label=LABEL, classify=classify)

    def __repr__(self) -> str:
        return f"TikTokConnector({self.account.id!r})"

    # ---- tokens ----

    def _refresh(self, tokens: TokenSet) -> dict[str, Any]:
        # POST /v2/oauth/token/ (form); TikTok rotates the refresh token.
        answer = self.oauth.json("POST", f"{self.base}/v2/oauth/token/", idempotent=True, auth=False, data={
            "client_key": tokens.client_id or "", "client_secret": tokens.client_secret or "",
            "grant_type": "refresh_token", "refresh_token": tokens.refresh_token or ""})
        return answer or {}

    # ---- calls ----

    def _call(self, path: str, payload: dict[str, Any], *, bucket: str, idempotent: bool) -> dict[str, Any]:
        """POST a JSON call; TikTok can answer 200 with an error code, which is a failure like any other."""
        response = self.http.request("POST", f"{self.base}{path}", json=payload, bucket=bucket, idempotent=idempotent,
                                     headers={"Content-Type": "application/json; charset=UTF-8"})
        body = body_of(response) or {}
        err = classify(response, body)
        if err is not None:
            raise err
        return body.get("data") or {}

    def creator_info(self) -> dict[str, Any]:
        return self._call("/v2/post/publish/creator_info/query/", {}, bucket="creator_info", idempotent=True)

    def status(self, publish_id: str) -> dict[str, Any]:
        return self._call("/v2/post/publish/status/fetch/", {"publish_id": publish_id}, bucket="status",
                          idempotent=True)

    # ---- publishing ----

    def _privacy(self, info: dict[str, Any]) -> str:
        options = list(info.get("privacy_level_options") or [])
        wanted = self.tokens.tokens().extra.get("privacy_level")
        if wanted:
            if wanted not in options:
                raise ConnectorError(ErrorKind.PERMANENT, LABEL,
                                     f"this TikTok account does not allow privacy level {wanted}; it allows "
                                     f"{', '.join(options) or 'none'}", reason="privacy_level_option_mismatch")
            return wanted
        for level in PUBLIC_LEVELS:
            if level in options:
                return level
        raise ConnectorError(ErrorKind.PERMANENT, LABEL,
                             "this TikTok account only allows private posts, so a campaign post would reach no one; "
                             "make the account public, or set the credentials' PRIVACY_LEVEL to SELF_ONLY to post "
                             "privately anyway", reason=f"privacy options: {', '.join(options)}")

    def publish(self, content: PostContent, ref: dict[str, Any], save_ref: SaveRef) -> PublishResult:
        ref = dict(ref or {})
        if ref.get("publish_id"):
            state = self.status(ref["publish_id"])
            outcome = self._outcome(ref, state)
            if outcome is not None:
                return outcome
            if state.get("status") == "FAILED":
                return self._failed(ref, state, save_ref)
            uploaded = int(state.get("uploaded_bytes") or 0)
            if uploaded < int(ref["video_size"]):
                if self.options.clock() >= float(ref.get("upload_url_expires_at", 0)):
                    # The upload address has lapsed, so this publish task can never finish: start a new one.
                    save_ref({})
                    return self.publish(content, {}, save_ref)
                self._upload(content.video_path, ref, uploaded)
            return self._wait(ref, save_ref)
        info = self.creator_info()
        privacy = self._privacy(info)
        limit = info.get("max_video_post_duration_sec")
        if content.duration_s is not None and limit and content.duration_s > float(limit):
            # Checked before init: TikTok would accept the upload and fail it later with duration_check_failed.
            raise ConnectorError(ErrorKind.PERMANENT, LABEL, f"the video lasts {content.duration_s:.0f} s but this "
                                 f"TikTok account may post at most {limit} s; shorten it for TikTok",
                                 reason="max_video_post_duration_sec")
        size = content.video_path.stat().st_size
        chunk, total = plan_chunks(size, self.chunk_size)
        title = content.text if not content.title else f"{content.title}\n\n{content.text}".strip()
        data = self._call("/v2/post/publish/video/init/", {
            "post_info": {"title": title[:2200], "privacy_level": privacy, "disable_duet": False,
                          "disable_stitch": False, "disable_comment": False,
                          "brand_content_toggle": False, "brand_organic_toggle": False},
            "source_info": {"source": "FILE_UPLOAD", "video_size": size, "chunk_size": chunk,
                            "total_chunk_count": total},
        }, bucket="init", idempotent=False)
        ref = {"publish_id": data["publish_id"], "upload_url": data["upload_url"], "video_size": size,
               "chunk_size": chunk, "total_chunks": total, "privacy_level": privacy,
               "upload_url_expires_at": self.options.clock() + UPLOAD_URL_LIFETIME_S - 60}
        save_ref(ref)  # before the first byte: from now on this post is finished, never started again
        self._upload(content.video_path, ref, 0)
        return self._wait(ref, save_ref)

    def _upload(self, video: Path, ref: dict[str, Any], start_at: int) -> None:
        """Send the chunks from `start_at` on; after a lost answer, ask TikTok how far it got and go on from there."""
        size, chunk, total = int(ref["video_size"]), int(ref["chunk_size"]), int(ref["total_chunks"])
        ranges = chunk_ranges(size, chunk, total)
        offset = start_at
        failures = 0
        with video.open("rb") as f:
            while offset < size:
                index = next((i for i, (first, _) in enumerate(ranges) if first == offset), None)
                if index is None:
                    raise ConnectorError(ErrorKind.PERMANENT, LABEL, "TikTok reports an upload position that is not "
                                         "a chunk boundary", reason=f"uploaded_bytes={offset}")
                first, last = ranges[index]
                f.seek(first)
                data = f.read(last - first + 1)
                try:
                    response = self.http.request(
                        "PUT", ref["upload_url"], auth=False, retry=False, idempotent=True, ok=(416,),
                        data=data, headers={"Content-Type": _content_type(video), "Content-Length": str(len(data)),
                                            "Content-Range": f"bytes {first}-{last}/{size}"})
                except ConnectorError as err:
                    if err.kind not in (ErrorKind.RETRYABLE, ErrorKind.RATE_LIMITED, ErrorKind.UNKNOWN_OUTCOME):
                        raise
                    failures += 1
                    if failures >= self.options.max_attempts:
                        raise
                    self.options.sleep(min(self.options.backoff_s * 2 ** failures, self.options.backoff_max_s))
                    offset = self._uploaded(ref, offset)
                    continue
                if response.status_code == 416:
                    # Range mismatch: TikTok already has more (or less) than we thought; ask where it is.
                    failures += 1
                    if failures >= self.options.max_attempts:
                        raise ConnectorError(ErrorKind.RETRYABLE, LABEL, "TikTok kept refusing the upload position",
                                             reason="416 range mismatch")
                    offset = self._uploaded(ref, offset)
                    continue
                offset = _uploaded_from(response, last + 1)

    def _uploaded(self, ref: dict[str, Any], fallback: int) -> int:
        state = self.status(ref["publish_id"])
        if state.get("status") == "FAILED":
            raise self._fail_error(state)
        if state.get("status") in ("PUBLISH_COMPLETE", "SEND_TO_USER_INBOX"):
            return int(ref["video_size"])
        return int(state.get("uploaded_bytes") if state.get("uploaded_bytes") is not None else fallback)

    def _wait(self, ref: dict[str, Any], save_ref: SaveRef) -> PublishResult:
        state, done = poll(lambda: self.status(ref["publish_id"]),
                           lambda s: s.get("status") in ("PUBLISH_COMPLETE", "FAILED", "SEND_TO_USER_INBOX"),
                           self.options)
        outcome = self._outcome(ref, state)
        if outcome is not None:
            return outcome
        if state.get("status") == "FAILED":
            return self._failed(ref, state, save_ref)
        return PublishResult("processing", None, ref)

    def _outcome(self, ref: dict[str, Any], state: dict[str, Any]) -> PublishResult | None:
        status = state.get("status")
        if status == "PUBLISH_COMPLETE":
            ids = state.get("publicaly_available_post_id") or state.get("publicly_available_post_id") or []
            post_id = str(ids[0]) if ids else None
            # Post ids arrive only after moderation and only for public posts; metrics wait until then.
            url = f"https://www.tiktok.com/@{self.account.handle.lstrip('@')}/video/{post_id}" if post_id else None
            return PublishResult("published", post_id, ref, url)
        if status == "SEND_TO_USER_INBOX":
            return PublishResult("published", None, ref, None)
        return None

    def _fail_error(self, state: dict[str, Any]) -> ConnectorError:
        reason = state.get("fail_reason") or "unknown"
        words = FAIL_REASONS.get(reason, "TikTok could not publish the video")
        kind = ErrorKind.RETRYABLE if reason == "internal" else (
            ErrorKind.NEEDS_RECONNECT if reason == "auth_removed" else ErrorKind.PERMANENT)
        return ConnectorError(kind, LABEL, words, reason=reason)

    def _failed(self, ref: dict[str, Any], state: dict[str, Any], save_ref: SaveRef) -> PublishResult:
        err = self._fail_error(state)
        if err.kind == ErrorKind.RETRYABLE:
            # TikTok's own failure ended this publish task without a post: a new task may be started.
            save_ref({})
        raise err

    def reconcile(self, content: PostContent, ref: dict[str, Any]) -> PublishResult | None:
        publish_id = (ref or {}).get("publish_id")
        if not publish_id:
            # Without a publish id no upload was ever accepted, and a FILE_UPLOAD post cannot go out without one.
            return None
        try:
            state = self.status(publish_id)
        except ConnectorError as err:
            if err.reason and err.reason.startswith("invalid_publish_id"):
                return None
            raise
        outcome = self._outcome(ref, state)
        if outcome is not None:
            return outcome
        if state.get("status") == "FAILED":
            return None
        return PublishResult("processing", None, dict(ref))

    def cancel(self, ref: dict[str, Any]) -> None:
        if ref.get("publish_id"):
            self._call("/v2/post/publish/cancel/", {"publish_id": ref["publish_id"]}, bucket="init", idempotent=True)

    # ---- metrics and account ----

    def fetch_metrics(self, posts: list[tuple[str, dt.datetime | None]]) -> list[MetricReading]:
        ids = [p for p, _ in posts if p]
        fields = "id,like_count,comment_count,share_count,view_count"
        out: list[MetricReading] = []
        for i in range(0, len(ids), 20):  # video.query takes at most 20 ids
            response = self.http.request("POST", f"{self.base}/v2/video/query/", params={"fields": fields},
                                         json={"filters": {"video_ids": ids[i:i + 20]}}, bucket="display",
                                         idempotent=True)
            body = body_of(response) or {}
            err = classify(response, body)
            if err is not None:
                raise err
            for video in (body.get("data") or {}).get("videos") or []:
                for name in ("view_count", "like_count", "comment_count", "share_count"):
                    if video.get(name) is not None:
                        out.append(MetricReading(str(video["id"]), name, float(video[name]), {name: video[name]}))
        return out

    def check(self) -> AccountCheck:
        try:
            info = self.creator_info()
            privacy = self._privacy(info)
        except ConnectorError as err:
            return AccountCheck(self.account.id, PLATFORM, False, err.message, err.kind)
        return AccountCheck(self.account.id, PLATFORM, True,
                            f"connected as @{info.get('creator_username', '?')}; posts as {privacy}; videos up to "
                            f"{info.get('max_video_post_duration_sec', '?')} s")


def _uploaded_from(response: requests.Response, fallback: int) -> int:
    """The next offset from `Content-Range: bytes 0-{last}/{total}` on a 206/201 answer."""
    value = response.headers.get("Content-Range", "")
    try:
        span = value.split(" ", 1)[1].split("/", 1)[0]
        return int(span.split("-", 1)[1]) + 1
    except (IndexError, ValueError):
        return fallback


def make_connector(account: Account, settings: Any, *, store: Any = None, **kwargs: Any) -> TikTokConnector:
    deps = deps_from(settings, kwargs)
    return TikTokConnector(account, settings.base_url("tiktok"), deps,
                           chunk_size=int(kwargs.get("chunk_size") or DEFAULT_CHUNK))
