"""YouTube: resumable upload (308 / Range, resume after interruption), native scheduling with status.publishAt,
caption tracks with captions.insert, statistics from videos.list and YouTube Analytics, Google token refresh.

Contract: shared/platform-contracts.md section 2 (developers.google.com/youtube/v3/guides/using_resumable_upload_protocol,
docs/videos, docs/captions/insert, docs/errors; google-api-python-client). YouTube has no idempotency key: the upload
session URI is the handle, saved before a byte is sent; after an interruption the session is asked how far it got
(an empty PUT with `Content-Range: bytes */TOTAL`) and the upload goes on from there, or the finished video is read
from its answer. The start request is never sent again once bytes were accepted.
"""
from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any
from zoneinfo import ZoneInfo

import requests

from campaign.manifest import Account
from connectors.base import (AccountCheck, ConnectorError, ErrorKind, MetricReading, PostContent, PublishResult,
                             SaveRef, ScheduleWindow)
from connectors.common import Deps, client, deps_from, poll, token_manager
from connectors.http import HttpClient, body_of
from connectors.tokens import TokenSet

PLATFORM = "youtube"
LABEL = "YouTube"

CHUNK_QUANTUM = 256 * 1024  # every chunk but the last must be a multiple of 256 KiB
DEFAULT_CHUNK = 32 * CHUNK_QUANTUM  # 8 MiB
STATS_BATCH = 50  # videos.list takes at most 50 ids

# publishAt must lie ahead; Google documents no maximum lead (UNSURE in the contract), so Chorus hands a post to
# YouTube at most 30 days ahead and at least 15 minutes ahead (closer than that, Chorus publishes it itself).
WINDOW = ScheduleWindow(dt.timedelta(minutes=15), dt.timedelta(days=30))

_PACIFIC = ZoneInfo("America/Los_Angeles")


def _until_quota_reset(now: float) -> float:
    """YouTube quotas reset at midnight Pacific time."""
    current = dt.datetime.fromtimestamp(now, _PACIFIC)
    midnight = (current + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(60.0, (midnight - current).total_seconds())


REASONS: dict[str, tuple[ErrorKind, str]] = {
    "quotaExceeded": (ErrorKind.RATE_LIMITED, "the Chorus Google project has used its YouTube quota for today; "
                      "Chorus will go on after it resets at midnight Pacific time"),
    "rateLimitExceeded": (ErrorKind.RATE_LIMITED, "YouTube asked Chorus to slow down"),
    "userRateLimitExceeded": (ErrorKind.RATE_LIMITED, "YouTube asked Chorus to slow down for this account"),
    "uploadLimitExceeded": (ErrorKind.RATE_LIMITED, "this YouTube channel reached its daily upload limit; Chorus "
                            "will try again in 24 hours"),
    "invalidPublishAt": (ErrorKind.PERMANENT, "YouTube did not accept the scheduled publication time"),
    "invalidTitle": (ErrorKind.PERMANENT, "YouTube did not accept the title (at most 100 characters, no < or >)"),
    "invalidDescription": (ErrorKind.PERMANENT, "YouTube did not accept the description (at most 5000 bytes)"),
    "invalidCategoryId": (ErrorKind.PERMANENT, "YouTube did not accept the video category"),
    "invalidTags": (ErrorKind.PERMANENT, "YouTube did not accept the tags"),
    "failedPrecondition": (ErrorKind.PERMANENT, "YouTube refused the upload (the channel may need verification)"),
    "forbidden": (ErrorKind.PERMANENT, "YouTube does not allow this account to do that"),
    "youtubeSignupRequired": (ErrorKind.NEEDS_RECONNECT, "the Google account has no YouTube channel; create one "
                              "and reconnect"),
    "insufficientPermissions": (ErrorKind.NEEDS_RECONNECT, "the account did not grant Chorus the YouTube "
                                "permissions it needs; reconnect it with youtube.upload and youtube.force-ssl"),
    "authError": (ErrorKind.AUTH_EXPIRED, "YouTube no longer accepts the account's access token"),
    "backendError": (ErrorKind.RETRYABLE, "YouTube had a temporary problem; Chorus will try again"),
    "invalid_grant": (ErrorKind.AUTH_EXPIRED, "Google refused to renew the account's access"),
    "invalid_client": (ErrorKind.PERMANENT, "Google does not recognise the Chorus app's client id or secret"),
}


def classify(response: requests.Response, body: Any, now: float | None = None) -> ConnectorError | None:
    """Google's error body `{"error": {"code", "message", "errors": [{"reason"}]}}` or OAuth's flat one."""
    reason = message = None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            message = err.get("message")
            errors = err.get("errors") or []
            reason = (errors[0].get("reason") if errors and isinstance(errors[0], dict) else None) or err.get("status")
        elif isinstance(err, str):
            reason, message = err, body.get("error_description")
    if not reason or reason not in REASONS:
        return None
    kind, words = REASONS[reason]
    wait = None
    if kind == ErrorKind.RATE_LIMITED:
        wait = {"quotaExceeded": _until_quota_reset(now or dt.datetime.now().timestamp()),
                "uploadLimitExceeded": 24 * 3600.0}.get(reason, 60.0)
    return ConnectorError(kind, LABEL, words, reason=f"{reason}: {message}" if message else reason,
                          status=response.status_code, retry_after_s=wait)


def _rfc3339(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _next_offset(response: requests.Response) -> int:
    """From a 308's `Range: bytes=0-N` header: the next byte to send (0 when nothing was stored)."""
    value = response.headers.get("Range")
    if not value:
        return 0
    return int(value.split("-")[-1]) + 1


class YouTubeConnector:
    platform = PLATFORM
    metric_vocabulary = PLATFORM
    native_scheduling = True
    schedule_window = WINDOW
    # videos.insert has its own bucket of 100 calls a day per Google project (shared by all channels).
    daily_post_cap = 100

    def __init__(self, account: Account, settings: Any, deps: Deps, *, chunk_size: int = DEFAULT_CHUNK):
        self.account = account
        self.base = settings.base_url("youtube")
        self.analytics = settings.base_url("youtube_analytics")
        self.oauth_base = settings.base_url("youtube_oauth")
        self.options = deps.options
        self.chunk_size = max(CHUNK_QUANTUM, chunk_size // CHUNK_QUANTUM * CHUNK_QUANTUM)
        self.tokens = token_manager(PLATFORM, account, deps, self._refresh, label=LABEL)
        now = self.options.clock
        self.http: HttpClient = client(PLATFORM, deps, label=LABEL, auth=self.tokens.auth,
                                       classify=lambda r, b: classify(r, b, now()))
        self.oauth: HttpClient = client(PLATFORM, deps, label=LABEL, classify=lambda r, b: classify(r, b, now()))

    def __repr__(self) -> str:
        return f"YouTubeConnector({self.account.id!r})"

    def _refresh(self, tokens: TokenSet) -> dict[str, Any]:
        return self.oauth.json("POST", f"{self.oauth_base}/token", auth=False, idempotent=True, data={
            "grant_type": "refresh_token", "refresh_token": tokens.refresh_token or "",
            "client_id": tokens.client_id or "", "client_secret": tokens.client_secret or ""}) or {}

    # ---- publishing ----

    def _video_resource(self, content: PostContent) -> dict[str, Any]:
        title = (content.title or content.description or "Video")[:100].replace("<", "").replace(">", "")
        status: dict[str, Any] = {"privacyStatus": "public", "selfDeclaredMadeForKids": False}
        if content.publish_at is not None:
            # publishAt can be set only while the video is private; YouTube makes it public at that time.
            status = {"privacyStatus": "private", "publishAt": _rfc3339(content.publish_at),
                      "selfDeclaredMadeForKids": False}
        return {"snippet": {"title": title, "description": content.text[:5000], "tags": list(content.hashtags),
                            "categoryId": "29", "defaultLanguage": content.language,
                            "defaultAudioLanguage": content.language},
                "status": status}

    def publish(self, content: PostContent, ref: dict[str, Any], save_ref: SaveRef) -> PublishResult:
        ref = dict(ref or {})
        if not ref.get("video_id"):
            if ref.get("session_uri"):
                video = self._resume(content, ref)
                if video is None:  # the session has lapsed before any video was made: a new one is safe
                    ref = {}
            if not ref.get("session_uri"):
                ref = self._start(content)
                save_ref(ref)  # before the first byte
                video = self._send(content, ref, 0)
            ref = {**ref, "video_id": video["id"]}
            save_ref(ref)
        if content.captions_srt is not None and not ref.get("captions_done"):
            self._captions(content, ref)
            ref = {**ref, "captions_done": True}
            save_ref(ref)
        return self._wait(content, ref)

    def _start(self, content: PostContent) -> dict[str, Any]:
        size = content.video_path.stat().st_size
        response = self.http.request(
            "POST", f"{self.base}/upload/youtube/v3/videos", params={"uploadType": "resumable",
                                                                     "part": "snippet,status"},
            json=self._video_resource(content), idempotent=False,
            headers={"X-Upload-Content-Length": str(size), "X-Upload-Content-Type": "video/mp4",
                     "Content-Type": "application/json; charset=UTF-8"})
        location = response.headers.get("Location")
        if not location:
            raise ConnectorError(ErrorKind.RETRYABLE, LABEL, "YouTube did not return an upload address",
                                 reason=f"HTTP {response.status_code} without Location")
        return {"session_uri": location, "video_size": size,
                "publish_at": _rfc3339(content.publish_at) if content.publish_at else None}

    def _query(self, ref: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        """Ask the session how far it got: (next offset, None) or (size, finished video); (-1, None) when gone."""
        response = self.http.request("PUT", ref["session_uri"], auth=True, idempotent=True, ok=(308, 404, 410),
                                     data=b"", headers={"Content-Range": f"bytes */{ref['video_size']}",
                                                        "Content-Length": "0"})
        if response.status_code in (404, 410):
            return -1, None
        if response.status_code == 308:
            return _next_offset(response), None
        return int(ref["video_size"]), body_of(response)

    def _resume(self, content: PostContent, ref: dict[str, Any]) -> dict[str, Any] | None:
        offset, video = self._query(ref)
        if video is not None:
            return video
        if offset < 0:
            return None
        return self._send(content, ref, offset)

    def _send(self, content: PostContent, ref: dict[str, Any], offset: int) -> dict[str, Any]:
        size = int(ref["video_size"])
        failures = 0
        with content.video_path.open("rb") as f:
            while True:
                end = min(offset + self.chunk_size, size) - 1
                f.seek(offset)
                data = f.read(end - offset + 1)
                try:
                    response = self.http.request(
                        "PUT", ref["session_uri"], retry=False, idempotent=False, ok=(308,), data=data,
                        headers={"Content-Range": f"bytes {offset}-{end}/{size}", "Content-Length": str(len(data))})
                except ConnectorError as err:
                    if err.kind not in (ErrorKind.RETRYABLE, ErrorKind.RATE_LIMITED, ErrorKind.UNKNOWN_OUTCOME):
                        raise
                    failures += 1
                    if failures >= self.options.max_attempts:
                        raise
                    self.options.sleep(min(self.options.backoff_s * 2 ** failures, self.options.backoff_max_s))
                    # The answer was lost or the server failed: ask the session rather than resend blindly.
                    offset, video = self._query(ref)
                    if video is not None:
                        return video
                    if offset < 0:
                        raise ConnectorError(ErrorKind.RETRYABLE, LABEL, "the YouTube upload session lapsed; "
                                             "Chorus will start a new one", reason="session 404") from None
                    continue
                if response.status_code == 308:
                    offset = _next_offset(response)
                    continue
                video = body_of(response) or {}
                if not video.get("id"):
                    raise ConnectorError(ErrorKind.UNKNOWN_OUTCOME, LABEL, "YouTube finished the upload without "
                                         "naming the video; Chorus will check before sending again")
                return video

    def _captions(self, content: PostContent, ref: dict[str, Any]) -> None:
        video_id = ref["video_id"]
        if ref.get("captions_started"):
            # An earlier attempt may have added the track already: look before adding it again.
            listed = self.http.json("GET", f"{self.base}/youtube/v3/captions",
                                    params={"part": "snippet", "videoId": video_id})
            if any((item.get("snippet") or {}).get("language") == content.language for item in
                   (listed or {}).get("items", [])):
                return
        ref["captions_started"] = True
        boundary = f"chorus-{secrets.token_hex(8)}"
        snippet = {"snippet": {"videoId": video_id, "language": content.language,
                               "name": f"{content.language} captions", "isDraft": False}}
        body = (f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{json.dumps(snippet)}\r\n"
                f"--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n").encode() + \
            content.captions_srt.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
        try:
            self.http.request("POST", f"{self.base}/upload/youtube/v3/captions",
                              params={"uploadType": "multipart", "part": "snippet"}, data=body, idempotent=False,
                              headers={"Content-Type": f"multipart/related; boundary={boundary}"})
        except ConnectorError as err:
            if err.kind != ErrorKind.UNKNOWN_OUTCOME:
                raise
            self._captions(content, ref)  # ref now says a track may exist, so this looks first

    def _video(self, video_id: str, parts: str = "status,processingDetails") -> dict[str, Any] | None:
        listed = self.http.json("GET", f"{self.base}/youtube/v3/videos", params={"part": parts, "id": video_id})
        items = (listed or {}).get("items") or []
        return items[0] if items else None

    def _result(self, ref: dict[str, Any], video: dict[str, Any]) -> PublishResult:
        status = video.get("status") or {}
        upload = status.get("uploadStatus")
        if upload in ("failed", "rejected", "deleted"):
            why = status.get("failureReason") or status.get("rejectionReason") or upload
            raise ConnectorError(ErrorKind.PERMANENT, LABEL, f"YouTube {upload} the video", reason=why)
        url = f"https://www.youtube.com/shorts/{video['id']}"
        publish_at = status.get("publishAt")
        if status.get("privacyStatus") == "private" and publish_at:
            when = dt.datetime.fromisoformat(publish_at.replace("Z", "+00:00"))
            return PublishResult("scheduled", video["id"], ref, url, published_at=when)
        return PublishResult("published", video["id"], ref, url)

    def _wait(self, content: PostContent, ref: dict[str, Any]) -> PublishResult:
        video, done = poll(lambda: self._video(ref["video_id"]),
                           lambda v: v is None or (v.get("status") or {}).get("uploadStatus") != "uploaded",
                           self.options)
        if video is None:
            raise ConnectorError(ErrorKind.PERMANENT, LABEL, "the video is no longer on YouTube (it was deleted)")
        if not done:
            return PublishResult("processing", video["id"], ref, f"https://www.youtube.com/shorts/{video['id']}")
        return self._result(ref, video)

    def reconcile(self, content: PostContent, ref: dict[str, Any]) -> PublishResult | None:
        ref = dict(ref or {})
        if ref.get("video_id"):
            video = self._video(ref["video_id"])
            if video is None:
                raise ConnectorError(ErrorKind.PERMANENT, LABEL, "the video is no longer on YouTube (it was deleted)")
            if content.captions_srt is not None and not ref.get("captions_done"):
                return PublishResult("processing", video["id"], ref)
            return self._result(ref, video)
        if ref.get("session_uri"):
            offset, video = self._query(ref)
            if video is not None:
                return self._result({**ref, "video_id": video["id"]}, video)
            if offset >= 0:
                return PublishResult("processing", None, ref)  # an accepted upload to resume
        # No session, or one that lapsed before making a video: nothing exists on YouTube.
        return None

    def cancel(self, ref: dict[str, Any]) -> None:
        """Withdraw a scheduled video: it stays private on the channel, with no publication time."""
        if ref.get("video_id"):
            self.http.request("PUT", f"{self.base}/youtube/v3/videos", params={"part": "status"},
                              json={"id": ref["video_id"], "status": {"privacyStatus": "private"}})

    def reschedule(self, ref: dict[str, Any], when: dt.datetime) -> PublishResult:
        if not ref.get("video_id"):
            raise ConnectorError(ErrorKind.PERMANENT, LABEL, "this post has no YouTube video to reschedule")
        answer = self.http.json("PUT", f"{self.base}/youtube/v3/videos", params={"part": "status"},
                                json={"id": ref["video_id"], "status": {"privacyStatus": "private",
                                                                       "publishAt": _rfc3339(when)}})
        video = answer if answer and answer.get("id") else self._video(ref["video_id"])
        return self._result({**ref, "publish_at": _rfc3339(when)}, video or {"id": ref["video_id"]})

    # ---- metrics and account ----

    def fetch_metrics(self, posts: list[tuple[str, dt.datetime | None]]) -> list[MetricReading]:
        ids = [p for p, _ in posts if p]
        out: list[MetricReading] = []
        for i in range(0, len(ids), STATS_BATCH):
            listed = self.http.json("GET", f"{self.base}/youtube/v3/videos",
                                    params={"part": "statistics", "id": ",".join(ids[i:i + STATS_BATCH])})
            for item in (listed or {}).get("items") or []:
                for name, value in (item.get("statistics") or {}).items():
                    if name in ("viewCount", "likeCount", "commentCount") and value is not None:
                        out.append(MetricReading(item["id"], name, float(value), {name: value}))  # strings in the API
        if ids:
            out.extend(self._analytics(posts))
        return out

    def _analytics(self, posts: list[tuple[str, dt.datetime | None]]) -> list[MetricReading]:
        """Shares, watch time and subscribers per video, which videos.list does not give."""
        dates = [p.date() for _, p in posts if p is not None]
        start = min(dates) if dates else dt.date.fromtimestamp(self.options.clock()) - dt.timedelta(days=28)
        end = dt.date.fromtimestamp(self.options.clock())
        metrics = "shares,estimatedMinutesWatched,averageViewDuration,subscribersGained"
        out: list[MetricReading] = []
        ids = [p for p, _ in posts if p]
        for i in range(0, len(ids), 200):
            table = self.http.json("GET", f"{self.analytics}/v2/reports", params={
                "ids": "channel==MINE", "startDate": start.isoformat(), "endDate": end.isoformat(),
                "metrics": metrics, "dimensions": "video", "filters": "video==" + ",".join(ids[i:i + 200])})
            headers = [h.get("name") for h in (table or {}).get("columnHeaders") or []]
            for row in (table or {}).get("rows") or []:
                values = dict(zip(headers, row))
                video_id = str(values.pop("video", ""))
                for name, value in values.items():
                    if value is not None:
                        out.append(MetricReading(video_id, name, float(value), {"analytics": name}))
        return out

    def check(self) -> AccountCheck:
        try:
            listed = self.http.json("GET", f"{self.base}/youtube/v3/channels", params={"part": "snippet", "mine": "true"})
        except ConnectorError as err:
            return AccountCheck(self.account.id, PLATFORM, False, err.message, err.kind)
        items = (listed or {}).get("items") or []
        if not items:
            return AccountCheck(self.account.id, PLATFORM, False, "the Google account has no YouTube channel",
                                ErrorKind.NEEDS_RECONNECT)
        return AccountCheck(self.account.id, PLATFORM, True,
                            f"connected to channel {items[0].get('snippet', {}).get('title', items[0].get('id'))!r}")


def make_connector(account: Account, settings: Any, *, store: Any = None, **kwargs: Any) -> YouTubeConnector:
    return YouTubeConnector(account, settings, deps_from(settings, kwargs),
                            chunk_size=int(kwargs.get("chunk_size") or DEFAULT_CHUNK))
