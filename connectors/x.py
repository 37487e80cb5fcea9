"""X: chunked media upload (v2 initialize / append / finalize / status), subtitles, the post, public and non-public
metrics, OAuth 2.0 refresh with rotating refresh tokens.

Contract: shared/platform-contracts.md section 6 (docs.x.com media-upload-chunked, xdevplatform/xdk OpenAPI).
X has no idempotency key and rejects duplicate text with a 403, so POST /2/tweets is never retried blindly: the
media key is saved before the post is sent, and after a lost answer the account's recent posts are searched for a
post carrying that media before anything is sent again.
"""
from __future__ import annotations

import base64
import datetime as dt
import unicodedata
from typing import Any

import requests

from campaign.manifest import Account
from connectors.base import AccountCheck, ConnectorError, ErrorKind, MetricReading, PostContent, PublishResult, SaveRef
from connectors.common import Deps, client, deps_from, limiter, poll, token_manager
from connectors.http import HttpClient, Rate, body_of
from connectors.tokens import TokenSet

PLATFORM = "x"
LABEL = "X"

SEGMENT = 4 * 1024 * 1024  # APPEND segments (X accepts up to 5 MB; 0-999 segments)
MAX_SEGMENTS = 1000
TEXT_LIMIT = 280
METRICS_BATCH = 100
RECENT_POSTS = 20  # how many of the account's latest posts reconciliation reads

# X sends x-rate-limit-* headers on 15-minute windows, which HttpClient honours; these buckets keep the post
# call under X's documented per-user window for creating posts before X has to refuse.
RATES = {"post": Rate(100, 15 * 60)}

PROBLEMS: dict[str, tuple[ErrorKind, str]] = {
    "usage-capped": (ErrorKind.RATE_LIMITED, "the Chorus X app has used its monthly allowance; posts wait until "
                     "it resets or the plan is raised"),
    "not-authorized-for-resource": (ErrorKind.PERMANENT, "X does not allow this account to do that"),
    "client-forbidden": (ErrorKind.NEEDS_RECONNECT, "the Chorus X app is not allowed to use this endpoint; check the "
                         "app's access level in the X developer portal"),
    "unsupported-authentication": (ErrorKind.NEEDS_RECONNECT, "X needs a user token for this; reconnect the account"),
    "invalid-request": (ErrorKind.PERMANENT, "X rejected the request"),
    "resource-not-found": (ErrorKind.PERMANENT, "X could not find the post or media"),
    "duplicate-rules": (ErrorKind.PERMANENT, "X refused a duplicate"),
}


def classify(response: requests.Response, body: Any) -> ConnectorError | None:
    """X's RFC 7807 problem (`{"title","detail","type","status"}`), `errors[]`, or OAuth's flat error."""
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("error"), str):  # OAuth token endpoint
        kind = ErrorKind.AUTH_EXPIRED if body["error"] == "invalid_request" or body["error"] == "invalid_grant" \
            else ErrorKind.PERMANENT
        return ConnectorError(kind, LABEL, "X refused to renew the account's access" if kind == ErrorKind.AUTH_EXPIRED
                              else "X refused the app's credentials",
                              reason=f"{body['error']}: {body.get('error_description', '')}", status=response.status_code)
    detail = str(body.get("detail") or body.get("title") or "")
    problem = str(body.get("type") or "").rsplit("/", 1)[-1]
    errors = body.get("errors") or []
    if not problem and errors and isinstance(errors[0], dict):
        if errors[0].get("code") == 88:
            return None  # "Rate limit exceeded": the status and headers say it all
        detail = detail or str(errors[0].get("message") or errors[0].get("detail") or "")
        problem = str(errors[0].get("type") or "").rsplit("/", 1)[-1]
    if "duplicate content" in detail.lower():
        return ConnectorError(ErrorKind.PERMANENT, LABEL, "X refused the post as a duplicate of one already on "
                              "the account", reason=f"duplicate: {detail}", status=response.status_code)
    if problem in PROBLEMS and response.status_code != 401:
        kind, words = PROBLEMS[problem]
        wait = 24 * 3600.0 if kind == ErrorKind.RATE_LIMITED else None
        return ConnectorError(kind, LABEL, words, reason=f"{problem}: {detail}" if detail else problem,
                              status=response.status_code, retry_after_s=wait)
    return None


def post_text(content: PostContent) -> str:
    """The post's text within X's 280 characters: title, description and hashtags, the description shortened first."""
    tags = " ".join(f"#{t}" for t in content.hashtags)
    head = content.title.strip()
    body = content.description.strip()

    def join(desc: str) -> str:
        return "\n\n".join(x for x in (head, desc, tags) if x)

    text = join(body)
    if _weight(text) <= TEXT_LIMIT:
        return text
    while body and _weight(join(body + "…")) > TEXT_LIMIT:
        body = body[:-1]
    text = join(body.rstrip() + "…" if body else "")
    while _weight(text) > TEXT_LIMIT:
        text = text[:-1]
    return text


def _weight(text: str) -> int:
    """X counts most CJK and emoji as two characters; count them so a post is never cut by X."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") or ord(ch) > 0xFFFF else 1 for ch in text)


class XConnector:
    platform = PLATFORM
    metric_vocabulary = PLATFORM
    native_scheduling = False
    daily_post_cap = None  # X's limits come back in x-rate-limit headers, which the HTTP client obeys

    def __init__(self, account: Account, base_url: str, deps: Deps, *, segment_size: int = SEGMENT):
        self.account = account
        self.base = base_url.rstrip("/")
        self.options = deps.options
        self.segment_size = segment_size
        self.tokens = token_manager(PLATFORM, account, deps, self._refresh, label=LABEL)
        self.limiter = limiter(PLATFORM, account, deps, RATES, label=LABEL)
        self.http: HttpClient = client(PLATFORM, deps, label=LABEL, auth=self.tokens.auth, classify=classify,
                                       limiter=self.limiter)
        self.oauth: HttpClient = client(PLATFORM, deps, label=LABEL, classify=classify)

    def __repr__(self) -> str:
        return f"XConnector({self.account.id!r})"

    def _refresh(self, tokens: TokenSet) -> dict[str, Any]:
        form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token or "",
                "client_id": tokens.client_id or ""}
        # A confidential client authenticates with Basic auth; a public (PKCE) client sends only its id.
        headers = {"Authorization": _basic(tokens.client_id or "", tokens.client_secret)} if tokens.client_secret else {}
        response = self.oauth.request("POST", f"{self.base}/2/oauth2/token", auth=False, idempotent=True, data=form,
                                      headers=headers)
        return body_of(response) or {}

    # ---- media ----

    def _upload(self, path, media_type: str, category: str, ref: dict[str, Any], key: str,
                save_ref: SaveRef) -> dict[str, Any]:
        """Upload one file (video or subtitles) and wait until X has processed it; progress is kept in ref[key]."""
        state = dict(ref.get(key) or {})
        size = path.stat().st_size
        if state.get("media_id") and self.options.clock() >= float(state.get("expires_at", 0)):
            state = {}  # expired media can no longer be attached: upload again (nothing was posted with it)
        if not state.get("media_id"):
            data = self.http.json("POST", f"{self.base}/2/media/upload/initialize", idempotent=False, json={
                "media_type": media_type, "total_bytes": size, "media_category": category})["data"]
            state = {"media_id": str(data["id"]), "media_key": data.get("media_key"), "size": size, "segments": 0,
                     "expires_at": self.options.clock() + float(data.get("expires_after_secs") or 86400) - 300}
            ref[key] = state
            save_ref(dict(ref))
        segment = max(self.segment_size, -(-size // MAX_SEGMENTS))
        count = max(1, -(-size // segment))
        if not state.get("finalized"):
            with path.open("rb") as f:
                for index in range(int(state.get("segments", 0)), count):
                    f.seek(index * segment)
                    chunk = f.read(segment)
                    # A segment is addressed by its index, so sending it again replaces it: safe to retry.
                    self.http.request("POST", f"{self.base}/2/media/upload/{state['media_id']}/append",
                                      idempotent=True, files={"media": ("blob", chunk, "application/octet-stream")},
                                      data={"segment_index": str(index)})
                    state["segments"] = index + 1
                    ref[key] = state
                    save_ref(dict(ref))
            info = self.http.json("POST", f"{self.base}/2/media/upload/{state['media_id']}/finalize",
                                  idempotent=True)
            state["finalized"] = True
            ref[key] = state
            save_ref(dict(ref))
            processing = ((info or {}).get("data") or {}).get("processing_info")
        else:
            processing = self._status(state["media_id"]).get("processing_info")
        if processing:
            def check() -> dict[str, Any]:
                return self._status(state["media_id"]).get("processing_info") or {"state": "succeeded"}

            last, done = poll(check, lambda p: p.get("state") in ("succeeded", "failed"), self.options)
            if not done:
                raise ConnectorError(ErrorKind.RETRYABLE, LABEL, "X is still processing the video; Chorus will "
                                     "go on at the next run", reason=f"processing {last.get('progress_percent')}%")
            if last.get("state") == "failed":
                error = last.get("error") or {}
                ref[key] = {}
                save_ref(dict(ref))  # a failed media id is dead; a new upload may follow if the fault was X's
                raise ConnectorError(ErrorKind.PERMANENT, LABEL, "X could not process the video",
                                     reason=str(error.get("message") or error.get("name") or "processing failed"))
        return state

    def _status(self, media_id: str) -> dict[str, Any]:
        return (self.http.json("GET", f"{self.base}/2/media/upload",
                               params={"command": "STATUS", "media_id": media_id}) or {}).get("data") or {}

    # ---- publishing ----

    def publish(self, content: PostContent, ref: dict[str, Any], save_ref: SaveRef) -> PublishResult:
        ref = dict(ref or {})
        if ref.get("tweet_id"):
            return self._result(ref)
        if ref.get("post_sent"):
            # An earlier attempt sent the post and its answer was lost: look for it before anything else.
            found = self._find_post(ref)
            if found is not None:
                save_ref(found.ref)
                return found
        video = self._upload(content.video_path, "video/mp4", "amplify_video", ref, "video", save_ref)
        if content.captions_srt is not None and not ref.get("subtitles_done"):
            subs = self._upload(content.captions_srt, "text/srt", "subtitles", ref, "subtitles", save_ref)
            self.http.request("POST", f"{self.base}/2/media/subtitles", idempotent=True, json={
                "id": video["media_id"], "media_category": "TweetVideo",
                "subtitles": {"id": subs["media_id"], "language_code": content.language,
                              "display_name": content.language}})
            ref["subtitles_done"] = True
            save_ref(dict(ref))
        ref["post_sent"] = True
        save_ref(dict(ref))  # before the post: from now on a lost answer is looked for, never sent blindly
        try:
            answer = self.http.json("POST", f"{self.base}/2/tweets", idempotent=False, bucket="post", json={
                "text": post_text(content), "media": {"media_ids": [video["media_id"]]}})
        except ConnectorError as err:
            if err.kind == ErrorKind.RATE_LIMITED or err.kind == ErrorKind.AUTH_EXPIRED:
                ref["post_sent"] = False  # refused before it was made: nothing to look for
                save_ref(dict(ref))
            elif err.reason and err.reason.startswith("duplicate"):
                found = self._find_post(ref)
                if found is not None:
                    save_ref(found.ref)
                    return found
            raise
        tweet_id = str(answer["data"]["id"])
        ref["tweet_id"] = tweet_id
        save_ref(dict(ref))
        return self._result(ref)

    def _result(self, ref: dict[str, Any]) -> PublishResult:
        handle = self.account.handle.lstrip("@")
        return PublishResult("published", ref["tweet_id"], ref, f"https://x.com/{handle}/status/{ref['tweet_id']}")

    def _find_post(self, ref: dict[str, Any]) -> PublishResult | None:
        """The account's recent post carrying this upload's media key, if X made it."""
        media_key = (ref.get("video") or {}).get("media_key")
        if not media_key:
            return None
        user_id = ref.get("user_id") or (self.http.json("GET", f"{self.base}/2/users/me") or {}).get("data", {}).get("id")
        if not user_id:
            raise ConnectorError(ErrorKind.RETRYABLE, LABEL, "X did not say which account the token belongs to")
        listed = self.http.json("GET", f"{self.base}/2/users/{user_id}/tweets", params={
            "max_results": str(RECENT_POSTS), "tweet.fields": "attachments,created_at",
            "expansions": "attachments.media_keys"}) or {}
        for tweet in listed.get("data") or []:
            if media_key in ((tweet.get("attachments") or {}).get("media_keys") or []):
                return self._result({**ref, "user_id": user_id, "tweet_id": str(tweet["id"])})
        return None

    def reconcile(self, content: PostContent, ref: dict[str, Any]) -> PublishResult | None:
        ref = dict(ref or {})
        if ref.get("tweet_id"):
            listed = self.http.json("GET", f"{self.base}/2/tweets", params={"ids": ref["tweet_id"]}) or {}
            if listed.get("data"):
                return self._result(ref)
            raise ConnectorError(ErrorKind.PERMANENT, LABEL, "the post is no longer on X (it was deleted)")
        if ref.get("post_sent"):
            found = self._find_post(ref)
            if found is not None:
                return found
        if (ref.get("video") or {}).get("media_id"):
            return PublishResult("processing", None, ref)  # the accepted upload is reused by publish
        return None

    def cancel(self, ref: dict[str, Any]) -> None:
        return None  # X has no native scheduling: a post Chorus has not sent needs no call to withdraw

    # ---- metrics and account ----

    def fetch_metrics(self, posts: list[tuple[str, dt.datetime | None]]) -> list[MetricReading]:
        ids = [p for p, _ in posts if p]
        out: list[MetricReading] = []
        for i in range(0, len(ids), METRICS_BATCH):
            params = {"ids": ",".join(ids[i:i + METRICS_BATCH]), "expansions": "attachments.media_keys",
                      "tweet.fields": "public_metrics,non_public_metrics,organic_metrics,attachments",
                      "media.fields": "public_metrics,non_public_metrics"}
            try:
                listed = self.http.json("GET", f"{self.base}/2/tweets", params=params) or {}
            except ConnectorError as err:
                if err.kind != ErrorKind.PERMANENT:
                    raise
                # Non-public metrics exist only for the owner's posts of the last 30 days: fall back to public.
                params.update({"tweet.fields": "public_metrics,attachments", "media.fields": "public_metrics"})
                listed = self.http.json("GET", f"{self.base}/2/tweets", params=params) or {}
            media = {m.get("media_key"): m for m in (listed.get("includes") or {}).get("media") or []}
            for tweet in listed.get("data") or []:
                tid = str(tweet["id"])
                for group in ("public_metrics", "non_public_metrics", "organic_metrics"):
                    for name, value in (tweet.get(group) or {}).items():
                        if isinstance(value, (int, float)) and not (group == "organic_metrics" and
                                                                    name in (tweet.get("public_metrics") or {})):
                            out.append(MetricReading(tid, name, float(value), {"group": group}))
                for key in (tweet.get("attachments") or {}).get("media_keys") or []:
                    for group in ("public_metrics", "non_public_metrics"):
                        for name, value in ((media.get(key) or {}).get(group) or {}).items():
                            if isinstance(value, (int, float)):
                                out.append(MetricReading(tid, name, float(value), {"group": f"media.{group}"}))
        return out

    def check(self) -> AccountCheck:
        try:
            me = (self.http.json("GET", f"{self.base}/2/users/me") or {}).get("data") or {}
        except ConnectorError as err:
            return AccountCheck(self.account.id, PLATFORM, False, err.message, err.kind)
        return AccountCheck(self.account.id, PLATFORM, True, f"connected as @{me.get('username', '?')}")


def _basic(client_id: str, client_secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()


def make_connector(account: Account, settings: Any, *, store: Any = None, **kwargs: Any) -> XConnector:
    return XConnector(account, settings.base_url("x"), deps_from(settings, kwargs),
                      segment_size=int(kwargs.get("segment_size") or SEGMENT))
