"""Facebook Page Reels: start / rupload / finish, native scheduling, status phases, captions, video insights.

The video_id from the start phase is the idempotency handle (shared/platform-contracts.md §4): it is saved before
any byte is sent, an interrupted upload is resumed from the bytes Facebook reports, and a finish whose answer was
lost (or that Facebook answers with 506 "Duplicate Post") is settled by reading the video's status, never by
starting again.
"""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from campaign.manifest import Account
from connectors import meta
from connectors.base import (AccountCheck, ConnectorError, ErrorKind, MetricReading, PostContent, PublishResult,
                             SaveRef, ScheduleWindow)
from connectors.common import Deps, client, deps_from, limiter, poll, token_manager
from connectors.http import HttpClient, Rate
from connectors.tokens import env_prefix

PLATFORM = "facebook"
LABEL = "Facebook"
INSIGHT_METRICS = ("blue_reels_play_count", "fb_reels_total_plays", "post_impressions_unique",
                   "post_video_avg_time_watched", "post_video_view_time", "post_video_social_actions",
                   "post_video_likes_by_reaction_type")
# Reels API: 30 reels per Page per rolling 24 h.
DAILY_POST_CAP = 30
# Implementations use 10 min .. 29-30 days for video_state=SCHEDULED (UNSURE in the contract): the default stays
# inside the narrowest reading, and both ends are settings (CHORUS_FACEBOOK_SCHEDULE_MIN_MINUTES / _MAX_DAYS).
DEFAULT_SCHEDULE_WINDOW = ScheduleWindow(dt.timedelta(minutes=10), dt.timedelta(days=29))


def schedule_window_from_env(env: dict[str, str] | None = None) -> ScheduleWindow:
    env = dict(os.environ if env is None else env)
    try:
        min_lead = dt.timedelta(minutes=float(env.get("CHORUS_FACEBOOK_SCHEDULE_MIN_MINUTES", "10")))
        max_lead = dt.timedelta(days=float(env.get("CHORUS_FACEBOOK_SCHEDULE_MAX_DAYS", "29")))
    except ValueError:
        from campaign.errors import ChorusError
        raise ChorusError("CHORUS_FACEBOOK_SCHEDULE_MIN_MINUTES / _MAX_DAYS must be numbers",
                          "set them to minutes and days, e.g. 10 and 29") from None
    return ScheduleWindow(min_lead, max_lead)


class FacebookConnector:
    platform = PLATFORM
    metric_vocabulary = PLATFORM
    native_scheduling = True
    daily_post_cap = DAILY_POST_CAP

    def __init__(self, account: Account, settings: Any, deps: Deps,
                 schedule_window: ScheduleWindow | None = None):
        self.account = account
        self.options = deps.options
        self.graph = settings.base_url("facebook")
        self.rupload = settings.base_url("rupload")
        self.schedule_window = schedule_window or schedule_window_from_env()
        # A Page token minted from a long-lived user token does not expire, so there is nothing to refresh: a
        # token Meta refuses means the account must be reconnected (its posts are held, not failed).
        self.tokens = token_manager(PLATFORM, account, deps, None, label=LABEL, scheme="OAuth")
        classify = lambda response, body: meta.classify(LABEL, response.status_code, body, response.headers)
        # The Reels cap, counted locally per Page (persisted across runs) so Facebook never has to refuse.
        self.limiter = limiter(PLATFORM, account, deps, {"reels": Rate(DAILY_POST_CAP, 86400.0)}, label=LABEL)
        self.http: HttpClient = client(PLATFORM, deps, label=LABEL, auth=self.tokens.auth, classify=classify,
                                       limiter=self.limiter, meta=True)
        self._page_id: str | None = None

    def __repr__(self) -> str:
        return f"FacebookConnector({self.account.id!r})"

    def clock(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.options.clock(), dt.timezone.utc)

    @property
    def page_id(self) -> str:
        """The Facebook Page id: credentials' PAGE_ID, else a numeric handle."""
        if self._page_id is None:
            extra = self.tokens.tokens().extra
            value = str(extra.get("page_id") or self.account.handle.lstrip("@"))
            if not value.isdigit():
                prefix = env_prefix(self.account.credentials or "")
                raise ConnectorError(ErrorKind.NEEDS_RECONNECT, LABEL, f"the Facebook Page id is not set; set "
                                     f"{prefix}_PAGE_ID to the Page's numeric id")
            self._page_id = value
        return self._page_id

    # -- publishing -------------------------------------------------------------------------------------------

    def _not_too_early(self, content: PostContent) -> None:
        """A publish time further ahead than the scheduling window is handed over later, before anything is sent."""
        now = self.clock()
        if content.publish_at is not None and content.publish_at > now + self.schedule_window.max_lead:
            wait = (content.publish_at - self.schedule_window.max_lead - now).total_seconds()
            raise ConnectorError(ErrorKind.RATE_LIMITED, LABEL, "the post is too far ahead for Facebook's scheduling "
                                 "window; Chorus hands it over later", retry_after_s=max(wait, 60.0),
                                 reason=f"publish time beyond {self.schedule_window.max_lead.days} days")

    def publish(self, content: PostContent, ref: dict[str, Any], save_ref: SaveRef) -> PublishResult:
        ref = dict(ref)
        self._not_too_early(content)
        if ref.get("video_id"):
            status = self._status(ref["video_id"])
            settled = self._settled(ref, status)
            if settled is not None:
                # The finish took effect earlier: follow it to the end, never start or finish again.
                return self._poll(settled.ref, save_ref) if settled.state == "processing" else self._saved(settled, save_ref)
        else:
            body = self._call("POST", f"{self.graph}/{self.page_id}/video_reels", data={"upload_phase": "start"},
                              idempotent=False, bucket="reels")
            ref.update(video_id=str(body["video_id"]))
            save_ref(ref)  # before any byte: from now on this video is resumed, never started again
            status = {}
        if not ref.get("uploaded"):
            self._upload(ref, content.video_path, status)
            ref["uploaded"] = True
            save_ref(ref)
        if content.captions_srt and not ref.get("captions_done"):
            self._captions(ref, content)
            ref["captions_done"] = True
            save_ref(ref)
        return self._finish(content, ref, save_ref)

    def _upload(self, ref: dict[str, Any], path: Path, status: dict[str, Any]) -> None:
        size = path.stat().st_size
        # Resume from what Facebook already holds for this video_id (uploading_phase.bytes_transferred).
        offset = int(((status.get("status") or {}).get("uploading_phase") or {}).get("bytes_transferred") or 0)
        if 0 < offset >= size:
            return
        url = f"{self.rupload}/video-upload/{_version(self.graph)}/{ref['video_id']}"
        try:
            meta.rupload(self.http, url, path, offset=offset)
        except ConnectorError as exc:
            if exc.kind is not ErrorKind.RETRYABLE:
                raise
            # Ask where the upload stands and go on from there once, rather than resending everything.
            current = self._status(ref["video_id"])
            offset = int(((current.get("status") or {}).get("uploading_phase") or {}).get("bytes_transferred") or 0)
            if offset < size:
                meta.rupload(self.http, url, path, offset=offset)

    def _captions(self, ref: dict[str, Any], content: PostContent) -> None:
        assert content.captions_srt is not None
        country = self.account.countries[0] if self.account.countries else "US"
        locale = f"{content.language.split('-')[0].lower()}_{country.upper()}"
        try:
            self._call("POST", f"{self.graph}/{ref['video_id']}/captions",
                       files={"captions_file": (f"captions.{locale}.srt", content.captions_srt.read_bytes(),
                                                "application/x-subrip")},
                       data={"default_locale": locale}, idempotent=True)
        except ConnectorError as exc:
            if exc.kind is not ErrorKind.PERMANENT:
                raise
            # The captions are burned into the video as well: a refused sidecar track must not hold the post.
            ref["captions_error"] = exc.message

    def _finish(self, content: PostContent, ref: dict[str, Any], save_ref: SaveRef) -> PublishResult:
        params: dict[str, Any] = {"upload_phase": "finish", "video_id": ref["video_id"], "description": content.text}
        when = content.publish_at
        now = self.clock()
        if when is not None and when > now + self.schedule_window.min_lead:
            self._not_too_early(content)
            params.update(video_state="SCHEDULED", scheduled_publish_time=int(when.timestamp()))
            ref["scheduled_for"] = when.isoformat()
        else:
            params["video_state"] = "PUBLISHED"
        ref["finish_sent"] = True
        save_ref(ref)
        try:
            self._call("POST", f"{self.graph}/{self.page_id}/video_reels", data=params, idempotent=False)
        except ConnectorError as exc:
            if not (exc.kind is ErrorKind.UNKNOWN_OUTCOME or getattr(exc, "duplicate", False)):
                raise
            # Lost answer or 506 Duplicate Post: the video's own status says whether the finish took effect.
            settled = self._settled(ref, self._status(ref["video_id"]))
            if settled is None:
                raise
            return self._poll(settled.ref, save_ref) if settled.state == "processing" else self._saved(settled, save_ref)
        return self._poll(ref, save_ref)

    @staticmethod
    def _saved(result: PublishResult, save_ref: SaveRef) -> PublishResult:
        save_ref(result.ref)
        return result

    def _poll(self, ref: dict[str, Any], save_ref: SaveRef) -> PublishResult:
        settled, done = poll(lambda: self._settled(ref, self._status(ref["video_id"])),
                             lambda r: r is not None and r.state != "processing", self.options)
        if done:
            save_ref(settled.ref)
            return settled
        return PublishResult("processing", ref["video_id"], dict(ref), _url(ref["video_id"]))

    def _status(self, video_id: str) -> dict[str, Any]:
        return self._call("GET", f"{self.graph}/{video_id}", params={"fields": "status,permalink_url"})

    def _settled(self, ref: dict[str, Any], body: dict[str, Any]) -> PublishResult | None:
        """The post's state from its status phases, or None while the finish has not taken effect."""
        status = body.get("status") or {}
        processing = status.get("processing_phase") or {}
        publishing = status.get("publishing_phase") or {}
        if status.get("video_status") == "error" or processing.get("status") == "error":
            err = processing.get("error") or {}
            raise ConnectorError(ErrorKind.PERMANENT, LABEL, "Facebook could not process the video (Reels must "
                                 "be 3-90 s, 9:16, 24-60 fps)", reason=str(err.get("message") or "processing error"))
        if status.get("video_status") == "expired":
            raise ConnectorError(ErrorKind.PERMANENT, LABEL, "the upload expired on Facebook before it was "
                                 "finished", reason="video_status expired")
        video_id = ref["video_id"]
        ref = dict(ref)
        if body.get("permalink_url"):
            ref["permalink"] = _absolute(body["permalink_url"])
        url = ref.get("permalink") or _url(video_id)
        pstatus = publishing.get("status")
        publish_status = (publishing.get("publish_status") or "").lower()
        if pstatus == "complete" and publish_status == "published":
            return PublishResult("published", video_id, ref, url, published_at=_ts(publishing.get("publish_time")))
        if publish_status == "scheduled" or (pstatus == "complete" and ref.get("scheduled_for")):
            return PublishResult("scheduled", video_id, ref, url)
        if pstatus in ("in_progress", "complete"):
            return PublishResult("processing", video_id, ref, url)
        return None

    def reconcile(self, content: PostContent, ref: dict[str, Any]) -> PublishResult | None:
        if not ref.get("video_id"):
            return None
        try:
            settled = self._settled(dict(ref), self._status(ref["video_id"]))
        except ConnectorError as exc:
            # Graph says "does not exist" with 404 or code 100 / subcode 33: nothing of this post is on Facebook.
            if exc.kind is ErrorKind.PERMANENT and (exc.status == 404 or getattr(exc, "subcode", None) == 33):
                return None
            raise
        if settled is None:
            # Started (perhaps partly uploaded) but never finished: an accepted upload that publish() resumes.
            return PublishResult("processing", ref["video_id"], dict(ref), _url(ref["video_id"]))
        return settled

    def check(self) -> AccountCheck:
        """Whether the Page can post now: the token works for this Page and Reels slots are free."""
        try:
            page = self._call("GET", f"{self.graph}/{self.page_id}", params={"fields": "id,name"})
        except ConnectorError as err:
            return AccountCheck(self.account.id, PLATFORM, False, err.message, err.kind)
        free = self.limiter.wait_for("reels")
        note = "Reels slots free" if free <= 0 else f"the 30 reels per 24 hours are used; next slot in {free / 3600:.1f} h"
        return AccountCheck(self.account.id, PLATFORM, True, f"connected to the Page {page.get('name', '?')}; {note}")

    def cancel(self, ref: dict[str, Any]) -> None:
        if ref.get("video_id"):
            self._call("DELETE", f"{self.graph}/{ref['video_id']}", idempotent=True)

    def reschedule(self, ref: dict[str, Any], when: dt.datetime) -> PublishResult:
        if not self.schedule_window.accepts(when, self.clock()):
            raise ConnectorError(ErrorKind.PERMANENT, LABEL, "Facebook accepts a scheduled time between "
                                 f"{self.schedule_window.min_lead} and {self.schedule_window.max_lead.days} days ahead",
                                 reason=f"requested {when.isoformat()}")
        self._call("POST", f"{self.graph}/{ref['video_id']}", data={"scheduled_publish_time": int(when.timestamp())},
                   idempotent=True)
        ref = dict(ref, scheduled_for=when.isoformat())
        return PublishResult("scheduled", ref["video_id"], ref, ref.get("permalink") or _url(ref["video_id"]))

    # -- metrics ----------------------------------------------------------------------------------------------

    def fetch_metrics(self, posts: list[tuple[str, dt.datetime | None]]) -> list[MetricReading]:
        out: list[MetricReading] = []
        for video_id, _published_at in posts:
            try:
                body = self._call("GET", f"{self.graph}/{video_id}/video_insights",
                                  params={"metric": ",".join(INSIGHT_METRICS)})
            except ConnectorError as exc:
                if exc.kind is ErrorKind.PERMANENT:
                    continue  # a deleted or too new video must not stop the others
                raise
            out.extend(meta.parse_insights(video_id, body))
        return out

    def _call(self, method: str, url: str, *, idempotent: bool = True, bucket: str = meta.GRAPH_BUCKET,
              **kwargs: Any) -> dict[str, Any]:
        return self.http.json(method, url, idempotent=idempotent, bucket=bucket, **kwargs) or {}


def make_connector(account: Account, settings: Any, *, store: Any = None, **kwargs: Any) -> FacebookConnector:
    return FacebookConnector(account, settings, deps_from(settings, kwargs), kwargs.get("schedule_window"))


def _url(video_id: str) -> str:
    return f"https://www.facebook.com/reel/{video_id}"


def _absolute(link: str) -> str:
    return link if "://" in link else f"https://www.facebook.com{link}"


def _ts(value: Any) -> dt.datetime | None:
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, dt.timezone.utc)
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("+0000", "+00:00"))
        except ValueError:
            return None
    return None


def _version(graph_base: str) -> str:
    last = graph_base.rstrip("/").rsplit("/", 1)[-1]
    return last if last.startswith("v") else "v21.0"
