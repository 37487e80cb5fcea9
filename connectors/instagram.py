"""Instagram Reels through the Instagram Graph API: container, upload, status polling, media_publish, limits, insights.

The media container is the idempotency handle (shared/platform-contracts.md §3): it is saved before any byte is
sent, an upload is resumed on the same container, and a publish whose answer was lost is checked against the
container's status_code (PUBLISHED) before anything is sent again.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from campaign.manifest import Account
from connectors import meta
from connectors.base import AccountCheck, ConnectorError, ErrorKind, MetricReading, PostContent, PublishResult, SaveRef
from connectors.common import Deps, client, deps_from, limiter, poll
from connectors.http import HttpClient
from connectors.tokens import TokenManager, TokenSet, env_lookup, env_prefix

PLATFORM = "instagram"
LABEL = "Instagram"
# Refresh a long-lived token this long before it expires (it can only be refreshed while still valid).
REFRESH_AHEAD_S = 7 * 86400.0
# Reels metrics (ig-media/insights reference); `impressions` and `plays` are retired for media made after July 2024.
INSIGHT_METRICS = ("views", "reach", "likes", "comments", "shares", "saved", "total_interactions",
                   "ig_reels_avg_watch_time", "ig_reels_video_view_total_time")
# Caption match window when looking for a post whose media_publish answer was lost.
RECENT_MEDIA_LIMIT = 50


class InstagramConnector:
    platform = PLATFORM
    metric_vocabulary = PLATFORM
    native_scheduling = False
    # The reference's example quota (the guide says 100); content_publishing_limit is also asked before each post.
    daily_post_cap = 50

    def __init__(self, account: Account, settings: Any, deps: Deps):
        self.account = account
        self.options = deps.options
        self.settings = settings
        self.rupload = settings.base_url("rupload")
        self.login_host = settings.base_url("instagram_login")
        lookup = deps.secrets or env_lookup()
        # Instagram Login has no refresh token: a long-lived token is exchanged for a new one while it is still
        # valid (at least 24 h old, valid 60 days), so that token doubles as the refresh credential. Facebook
        # Login uses a Page token, which does not expire and has nothing to refresh.
        self.tokens = TokenManager(PLATFORM, account.credentials or "", refresher=self._refresh,
                                   lookup=lambda name: _token_is_refresh(lookup(name)), store=deps.token_store,
                                   clock=deps.options.clock, skew_s=REFRESH_AHEAD_S, label=LABEL, scheme="OAuth")
        classify = lambda response, body: meta.classify(LABEL, response.status_code, body, response.headers)
        # No fixed request window (Meta's budget moves with the account's reach): the limiter only carries the
        # pauses Meta's usage headers and throttle answers ask for, persisted across runs.
        self.limiter = limiter(PLATFORM, account, deps, {}, label=LABEL)
        self.http: HttpClient = client(PLATFORM, deps, label=LABEL, auth=self.tokens.auth, classify=classify,
                                       limiter=self.limiter, meta=True)
        self.oauth: HttpClient = client(PLATFORM, deps, label=LABEL, classify=classify, meta=True)
        self._ig_user_id: str | None = None

    def __repr__(self) -> str:
        return f"InstagramConnector({self.account.id!r})"

    @property
    def instagram_login(self) -> bool:
        """Whether the account was connected through Instagram Login (credentials' LOGIN=instagram) rather than
        Facebook Login (the default): it decides the Graph host, the refresh, and whether files can be uploaded."""
        return str(self.tokens.tokens().extra.get("login", "facebook")).lower() == "instagram"

    @property
    def graph(self) -> str:
        return self.settings.base_url("instagram_login" if self.instagram_login else "instagram")

    @property
    def ig_user_id(self) -> str:
        """The Instagram professional account id: credentials' USER_ID, else a numeric handle."""
        if self._ig_user_id is None:
            extra = self.tokens.tokens().extra
            value = str(extra.get("user_id") or extra.get("ig_user_id") or self.account.handle.lstrip("@"))
            if not value.isdigit():
                prefix = env_prefix(self.account.credentials or "")
                raise ConnectorError(ErrorKind.NEEDS_RECONNECT, LABEL, f"the Instagram account id is not set; set "
                                     f"{prefix}_USER_ID to the numeric Instagram professional account id")
            self._ig_user_id = value
        return self._ig_user_id

    def _refresh(self, tokens: TokenSet) -> dict[str, Any]:
        if not self.instagram_login:
            raise ConnectorError(ErrorKind.NEEDS_RECONNECT, LABEL, "a Facebook Login token for Instagram is renewed "
                                 "by reconnecting the account (Page tokens do not expire)")
        answer = self.oauth.json("GET", f"{self.login_host}/refresh_access_token", auth=False, idempotent=True,
                                 params={"grant_type": "ig_refresh_token", "access_token": tokens.refresh_token or ""})
        answer = dict(answer or {})
        if answer.get("access_token"):
            answer["refresh_token"] = answer["access_token"]
        return answer

    # -- publishing -------------------------------------------------------------------------------------------

    def publish(self, content: PostContent, ref: dict[str, Any], save_ref: SaveRef) -> PublishResult:
        ref = dict(ref or {})
        if ref.get("media_id"):
            return self._result(ref)
        if ref.get("container_id"):
            status = self._container_status(ref["container_id"])
            code = status["status_code"]
            if code == "PUBLISHED":
                return self._adopt_published(content, ref, save_ref)
            if code == "EXPIRED":
                # Not published within 24 h, so nothing went live: a fresh container is safe.
                ref = _without_container(ref)
                save_ref(ref)
            elif code == "ERROR":
                raise self._container_failed(ref, status, save_ref)
        if not ref.get("container_id"):
            # Checked before the container is made: no upload is spent on a post that cannot go out today.
            self.check_publishing_limit()
            upload = "url" if content.video_url else "resumable"
            if upload == "resumable" and self.instagram_login:
                # rupload.facebook.com takes Facebook Login tokens only (platform-contracts §3).
                raise ConnectorError(ErrorKind.NEEDS_RECONNECT, LABEL, "an account connected through Instagram Login "
                                     "cannot upload a video file; use an S3 store (Instagram then fetches the video "
                                     "from a presigned link) or connect the account through Facebook Login",
                                     reason="resumable upload needs Facebook Login")
            params: dict[str, Any] = {"media_type": "REELS", "caption": content.text, "share_to_feed": "true"}
            if upload == "url":
                params["video_url"] = content.video_url
            else:
                params["upload_type"] = "resumable"
            body = self._call("POST", f"{self.graph}/{self.ig_user_id}/media", data=params, idempotent=False)
            ref.update(container_id=str(body["id"]), upload=upload)
            save_ref(ref)  # before any byte: from now on this container is resumed, never replaced
        if ref.get("upload") == "resumable" and not ref.get("uploaded"):
            self._upload(ref, content.video_path)
            ref["uploaded"] = True
            save_ref(ref)
        status = self._wait_finished(ref, save_ref)
        if status == "PUBLISHED":
            return self._adopt_published(content, ref, save_ref)
        if status != "FINISHED":
            return PublishResult("processing", None, dict(ref))
        self.check_publishing_limit()
        ref["publish_sent"] = True
        save_ref(ref)
        try:
            body = self._call("POST", f"{self.graph}/{self.ig_user_id}/media_publish",
                              data={"creation_id": ref["container_id"]}, idempotent=False)
        except ConnectorError as exc:
            if exc.kind not in (ErrorKind.UNKNOWN_OUTCOME, ErrorKind.PERMANENT):
                raise
            # The answer was lost (or a refusal may mean "already published"): the container's status_code says
            # whether the post went out.
            if self._container_status(ref["container_id"])["status_code"] == "PUBLISHED":
                return self._adopt_published(content, ref, save_ref)
            if exc.kind is ErrorKind.PERMANENT:
                raise
            # Not published. A container can be published only once, so asking again can never post twice.
            raise ConnectorError(ErrorKind.RETRYABLE, LABEL, "Instagram did not confirm the post and has not "
                                 "published it; Chorus will try again", reason=exc.reason, status=exc.status) from None
        ref["media_id"] = str(body["id"])
        ref.update(self._permalink(ref["media_id"]))
        save_ref(ref)
        return self._result(ref)

    def _upload(self, ref: dict[str, Any], path: Path) -> None:
        # rupload takes the whole file in one request; a retry resends it to the SAME container from offset 0,
        # so the accepted handle is resumed and no second container is ever made.
        url = f"{self.rupload}/ig-api-upload/{_version(self.graph)}/{ref['container_id']}"
        meta.rupload(self.http, url, path, offset=0)

    def _wait_finished(self, ref: dict[str, Any], save_ref: SaveRef) -> str:
        status, done = poll(lambda: self._container_status(ref["container_id"]),
                            lambda s: s["status_code"] != "IN_PROGRESS", self.options)
        code = status["status_code"]
        if code in ("FINISHED", "PUBLISHED"):
            return code
        if code == "ERROR":
            raise self._container_failed(ref, status, save_ref)
        if code == "EXPIRED":
            save_ref(_without_container(ref))
            raise ConnectorError(ErrorKind.RETRYABLE, LABEL, "the uploaded video expired on Instagram before it was "
                                 "published; it will be uploaded again", reason="container EXPIRED")
        return code  # still IN_PROGRESS after the polling budget: the next run goes on with this container

    def _container_status(self, container_id: str) -> dict[str, Any]:
        body = self._call("GET", f"{self.graph}/{container_id}", params={"fields": "status_code,status"})
        return {"status_code": str(body.get("status_code", "IN_PROGRESS")).upper(), "status": body.get("status")}

    def _container_failed(self, ref: dict[str, Any], status: dict[str, Any], save_ref: SaveRef) -> ConnectorError:
        """The error for a container that ended in ERROR. A failed download of the video_url (a presigned link
        that lapsed) or Instagram's own "try again" is retryable with a fresh container; anything else is final."""
        reason = str(status.get("status") or "status_code ERROR")
        if any(str(code) in reason for code in meta.IG_RETRYABLE_SUBCODES) or "download" in reason.lower():
            save_ref(_without_container(ref))  # a failed container never goes live: a new one is safe
            return ConnectorError(ErrorKind.RETRYABLE, LABEL, "Instagram could not fetch the video; it will be sent "
                                  "again", reason=reason)
        return ConnectorError(ErrorKind.PERMANENT, LABEL, "Instagram could not process the video (check format, "
                              "length 3 s-15 min, 23-60 fps)", reason=reason)

    def _adopt_published(self, content: PostContent, ref: dict[str, Any], save_ref: SaveRef) -> PublishResult:
        """The container says PUBLISHED but its media_publish answer was lost: find the media id in recent media."""
        media_id = self._find_recent(content)
        if media_id:
            ref["media_id"] = media_id
            ref.update(self._permalink(media_id))
        save_ref(ref)
        return self._result(ref)

    def _find_recent(self, content: PostContent) -> str | None:
        body = self._call("GET", f"{self.graph}/{self.ig_user_id}/media",
                          params={"fields": "id,caption,timestamp,media_product_type", "limit": RECENT_MEDIA_LIMIT})
        for item in body.get("data", []):
            if (item.get("caption") or "") == content.text:
                return str(item["id"])
        return None

    def _permalink(self, media_id: str) -> dict[str, Any]:
        try:
            body = self._call("GET", f"{self.graph}/{media_id}", params={"fields": "permalink"})
        except ConnectorError:
            return {}  # the post is live; a missing link is not worth failing it for
        return {"permalink": body["permalink"]} if body.get("permalink") else {}

    def _result(self, ref: dict[str, Any]) -> PublishResult:
        return PublishResult("published", ref.get("media_id"), dict(ref), ref.get("permalink"))

    def check_publishing_limit(self) -> None:
        """Refuse before Instagram does: the API allows a fixed number of posts per rolling 24 h (50 or 100)."""
        body = self._call("GET", f"{self.graph}/{self.ig_user_id}/content_publishing_limit",
                          params={"fields": "quota_usage,config"})
        data = (body.get("data") or [{}])[0]
        usage = data.get("quota_usage")
        total = (data.get("config") or {}).get("quota_total")
        if isinstance(usage, int) and isinstance(total, int) and usage >= total:
            raise ConnectorError(ErrorKind.RATE_LIMITED, LABEL, f"the account used all {total} API posts Instagram "
                                 "allows per 24 hours; the post waits for a free slot",
                                 reason=f"content_publishing_limit {usage}/{total}", retry_after_s=meta.DAILY_CAP_WAIT_S)

    def reconcile(self, content: PostContent, ref: dict[str, Any]) -> PublishResult | None:
        if ref.get("media_id"):
            return self._result(ref)
        if not ref.get("container_id"):
            return None
        status = self._container_status(ref["container_id"])
        code = status["status_code"]
        if code in ("EXPIRED", "ERROR"):
            return None  # never published and never will be: nothing of this post is live
        if code != "PUBLISHED":
            # Accepted but not published yet: publish() resumes this container.
            return PublishResult("processing", None, dict(ref))
        ref = dict(ref)
        media_id = self._find_recent(content)
        if media_id:
            ref["media_id"] = media_id
            ref.update(self._permalink(media_id))
        return self._result(ref)

    def check(self) -> AccountCheck:
        """Whether the account can post now: the token works, the account id is right, publishing slots are free."""
        try:
            me = self._call("GET", f"{self.graph}/{self.ig_user_id}", params={"fields": "id,username"})
            body = self._call("GET", f"{self.graph}/{self.ig_user_id}/content_publishing_limit",
                              params={"fields": "quota_usage,config"})
        except ConnectorError as err:
            return AccountCheck(self.account.id, PLATFORM, False, err.message, err.kind)
        data = (body.get("data") or [{}])[0]
        total = (data.get("config") or {}).get("quota_total", "?")
        return AccountCheck(self.account.id, PLATFORM, True, f"connected as @{me.get('username', '?')}; "
                            f"{data.get('quota_usage', '?')} of {total} API posts used in the last 24 hours")

    def cancel(self, ref: dict[str, Any]) -> None:
        # Instagram has no native scheduling: nothing is on the platform before Chorus publishes it.
        return None

    # -- metrics ----------------------------------------------------------------------------------------------

    def fetch_metrics(self, posts: list[tuple[str, dt.datetime | None]]) -> list[MetricReading]:
        out: list[MetricReading] = []
        for media_id, _published_at in posts:
            try:
                body = self._call("GET", f"{self.graph}/{media_id}/insights",
                                  params={"metric": ",".join(INSIGHT_METRICS), "period": "lifetime"})
            except ConnectorError as exc:
                if exc.kind is ErrorKind.PERMANENT:
                    continue  # one post gone or too new must not stop the others; its figures stay absent
                raise
            out.extend(meta.parse_insights(media_id, body))
        return out

    def _call(self, method: str, url: str, *, idempotent: bool = True, bucket: str = meta.GRAPH_BUCKET,
              **kwargs: Any) -> dict[str, Any]:
        return self.http.json(method, url, idempotent=idempotent, bucket=bucket, **kwargs) or {}


def _without_container(ref: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in ref.items() if k not in ("container_id", "uploaded", "publish_sent", "upload")}


def _token_is_refresh(found: Any) -> Any:
    """Instagram Login credentials carry one long-lived token; it is what a refresh sends, so it stands as the
    refresh token. Facebook Login credentials are left as they are (a Page token is never refreshed)."""
    if found and str(found.get("login", "")).lower() == "instagram" and found.get("access_token") \
            and not found.get("refresh_token"):
        found = dict(found, refresh_token=found["access_token"])
    return found


def make_connector(account: Account, settings: Any, *, store: Any = None, **kwargs: Any) -> InstagramConnector:
    return InstagramConnector(account, settings, deps_from(settings, kwargs))


def _version(graph_base: str) -> str:
    last = graph_base.rstrip("/").rsplit("/", 1)[-1]
    return last if last.startswith("v") else "v21.0"
