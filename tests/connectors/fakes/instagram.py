"""A fake Instagram following shared/platform-contracts.md section 3: Reels containers (resumable rupload or
`video_url`), status_code polling, media_publish, the content publishing limit, recent media, insights, and the
graph.instagram.com token refresh (a long-lived token exchanged while still valid; no refresh token)."""
from __future__ import annotations

import urllib.request
from typing import Any
from urllib.parse import urlsplit

from tests.connectors.fakes.base import Req, Resp, TokenBook, marker_of
from tests.connectors.fakes.meta import V, FakeMeta

REELS_METRICS = {"views", "reach", "likes", "comments", "shares", "saved", "total_interactions",
                 "ig_reels_avg_watch_time", "ig_reels_video_view_total_time", "reels_skip_rate", "reposts"}
DEFAULT_INSIGHTS = {"views": 1500, "reach": 1100, "likes": 90, "comments": 12, "shares": 7, "saved": 5,
                    "total_interactions": 114, "ig_reels_avg_watch_time": 6400, "ig_reels_video_view_total_time": 9600000}
DAY = 86400.0


class InstagramTokenBook(TokenBook):
    """Instagram Login tokens: one long-lived token, refreshed with itself while it is still valid."""

    def grant(self, *, access_ttl_s: float | None = None) -> dict[str, Any]:
        grant = super().grant(access_ttl_s=access_ttl_s)
        self.refresh_tokens.discard(grant["refresh_token"])
        return dict(grant, refresh_token=None)

    def exchange(self, access_token: str | None) -> dict[str, Any] | None:
        if not self.valid(access_token):
            self.refused_refreshes += 1
            return None
        token = self._new("access")
        self.access[token] = self.clock() + self.access_ttl_s
        return {"access_token": token, "token_type": "bearer", "expires_in": int(self.access_ttl_s)}


class FakeInstagram(FakeMeta):
    name = "instagram"

    def __init__(self, *, ig_user_id: str = "17841400000000001", quota_total: int = 50,
                 processing_polls: int = 1, access_ttl_s: float = 60 * DAY, **kw: Any):
        self.ig_user_id = ig_user_id
        self.quota_total = quota_total          # posts per rolling 24 h (the guide says 100, the reference 50)
        self.processing_polls = processing_polls  # status polls answered IN_PROGRESS after the upload
        self.containers: dict[str, dict[str, Any]] = {}
        self.media: dict[str, dict[str, Any]] = {}
        self.fail_processing: list[str] = []    # status texts for the next containers that finish processing
        self.insights: dict[str, dict[str, Any]] = {}  # media id -> metric -> value (missing = not available yet)
        self.duplicate_publishes = 0            # media_publish calls for a container already published
        # API posts per account in the rolling 24 h, counted per token (one token stands for one Instagram
        # account), so several test accounts sharing this fake each have their own quota.
        self.publish_times: dict[str, list[float]] = {}
        super().__init__(access_ttl_s=access_ttl_s, rotate=False, **kw)
        self.tokens = InstagramTokenBook(self.name, access_ttl_s=access_ttl_s, rotate=False, clock=self.clock)

    def setup_routes(self) -> None:
        self.route("GET", "/refresh_access_token", self.refresh, name="refresh")
        self.route("POST", rf"{V}/(?P<ig>\d+)/media", self.create_container, name="create_container")
        self.route("GET", rf"{V}/(?P<ig>\d+)/media", self.list_media, name="list_media")
        self.route("POST", rf"{V}/(?P<ig>\d+)/media_publish", self.media_publish, name="media_publish")
        self.route("GET", rf"{V}/(?P<ig>\d+)/content_publishing_limit", self.publishing_limit,
                   name="content_publishing_limit")
        self.route("GET", rf"{V}/(?P<id>\d+)/insights", self.media_insights, name="insights")
        self.route("GET", rf"{V}/(?P<id>\d+)", self.node, name="node")
        self.route("POST", r"/ig-api-upload/v\d+\.\d+/(?P<id>\d+)", self.rupload, name="rupload")

    # ---- tokens ----

    def refresh(self, req: Req) -> Resp:
        if req.query.get("grant_type") != "ig_refresh_token":
            return self.meta_error(400, 100, "(#100) grant_type must be ig_refresh_token")
        answer = self.tokens.exchange(req.query.get("access_token"))
        if answer is None:
            return self.unauthorized()
        return Resp(200, answer)

    # ---- publishing ----

    def _account(self, req: Req) -> Resp | None:
        if req.params.get("ig") != self.ig_user_id:
            return self.meta_error(400, 100, "(#100) Unsupported request: the IG user does not exist",
                                   subcode=33, type_="GraphMethodException")
        return None

    def create_container(self, req: Req) -> Resp:
        bad = self._account(req)
        if bad:
            return bad
        p = self.params(req)
        if p.get("media_type") != "REELS":
            return self.meta_error(400, 100, "(#100) media_type must be REELS for a video in this fake")
        if bool(p.get("video_url")) == (p.get("upload_type") == "resumable"):
            return self.meta_error(400, 100, "(#100) give either video_url or upload_type=resumable")
        cid = self.new_id()
        c: dict[str, Any] = {"id": cid, "caption": p.get("caption", ""), "created": self.clock(),
                             "status_code": "IN_PROGRESS", "polls": 0, "upload": {}, "media_id": None}
        if p.get("video_url"):
            c["upload"] = {"data": bytearray(self._download(p["video_url"])), "upload_complete": True}
            c["upload"]["file_size"] = len(c["upload"]["data"])
        self.containers[cid] = c
        body: dict[str, Any] = {"id": cid}
        if not p.get("video_url"):
            body["uri"] = f"{self.base_url}/ig-api-upload/{self.version}/{cid}"
        return Resp(200, body)

    @staticmethod
    def _download(url: str) -> bytes:
        # Only loopback: a test serves the presigned URL (moto's S3 server); nothing leaves the machine.
        if urlsplit(url).hostname not in ("127.0.0.1", "localhost"):
            return b""
        try:
            with urllib.request.urlopen(url, timeout=10) as r:  # noqa: S310 (loopback only)
                return r.read()
        except OSError:
            return b""

    def rupload(self, req: Req) -> Resp:
        c = self.containers.get(req.params["id"])
        if c is None:
            return Resp(400, {"debug_info": {"retriable": False, "type": "NotFound", "message": "no such container"}})
        return self.receive_upload(req, c["upload"])

    def _status(self, c: dict[str, Any]) -> str:
        """Advance a container's processing one poll and return its status_code."""
        if c["status_code"] in ("PUBLISHED", "ERROR", "EXPIRED"):
            return c["status_code"]
        if self.clock() - c["created"] > DAY:
            c["status_code"] = "EXPIRED"
        elif c["upload"].get("upload_complete"):
            if not c["upload"].get("data"):
                c["status_code"], c["status"] = "ERROR", "Error: the video could not be downloaded (2207003)"
            elif c["polls"] < self.processing_polls:
                c["polls"] += 1
            elif self.fail_processing:
                c["status_code"], c["status"] = "ERROR", self.fail_processing.pop(0)
            else:
                c["status_code"] = "FINISHED"
        return c["status_code"]

    def node(self, req: Req) -> Resp:
        nid = req.params["id"]
        if nid == self.ig_user_id:
            return Resp(200, {"id": nid, "username": "fake_reels_account"})
        if nid in self.containers:
            c = self.containers[nid]
            code = self._status(c)
            return Resp(200, {"id": nid, "status_code": code,
                              "status": c.get("status") or {"IN_PROGRESS": "In Progress",
                                                            "FINISHED": "Finished"}.get(code, code)})
        if nid in self.media:
            m = self.media[nid]
            return Resp(200, {"id": nid, "permalink": m["permalink"], "caption": m["caption"],
                              "timestamp": m["timestamp"], "media_product_type": "REELS"})
        return self.meta_error(400, 100, f"(#100) Object with ID '{nid}' does not exist", subcode=33,
                               type_="GraphMethodException")

    def quota_usage(self, account: str) -> int:
        now = self.clock()
        times = [t for t in self.publish_times.get(account, []) if t > now - DAY]
        self.publish_times[account] = times
        return len(times)

    def publishing_limit(self, req: Req) -> Resp:
        bad = self._account(req)
        if bad:
            return bad
        return Resp(200, {"data": [{"quota_usage": self.quota_usage(req.bearer() or ""),
                                    "config": {"quota_total": self.quota_total, "quota_duration": int(DAY)}}]})

    def media_publish(self, req: Req) -> Resp:
        bad = self._account(req)
        if bad:
            return bad
        c = self.containers.get(self.params(req).get("creation_id", ""))
        if c is None:
            return self.meta_error(400, 100, "(#100) creation_id is not a container of this user")
        code = self._status(c)
        if code == "PUBLISHED":
            self.duplicate_publishes += 1
            return self.meta_error(400, 100, "(#100) The media has already been published", subcode=2207008)
        if code != "FINISHED":
            return self.meta_error(400, 9007, "The media is not ready for publishing, please wait for a moment",
                                   subcode=2207027, user_title="Media not ready")
        if self.quota_usage(req.bearer() or "") >= self.quota_total:
            return self.meta_error(400, 9, "Application request limit reached", subcode=2207042,
                                   user_title="Cannot publish", user_msg="You reached the maximum number of posts "
                                   "that is allowed to be published by Content Publishing API.")
        mid = self.new_id()
        marker = marker_of(bytes(c["upload"].get("data") or b""))
        self.media[mid] = {"id": mid, "caption": c["caption"], "container": cid_of(c), "marker": marker,
                           "timestamp": f"{self.clock():.0f}", "created": self.clock(),
                           "permalink": f"https://www.instagram.com/reel/{mid}/"}
        c["status_code"], c["media_id"] = "PUBLISHED", mid
        self.publish_times.setdefault(req.bearer() or "", []).append(self.clock())
        self.published.append({"id": mid, "marker": marker, "container": cid_of(c), "caption": c["caption"]})
        return Resp(200, {"id": mid})

    def list_media(self, req: Req) -> Resp:
        bad = self._account(req)
        if bad:
            return bad
        limit = int(req.query.get("limit", "25"))
        items = sorted(self.media.values(), key=lambda m: m["created"], reverse=True)[:limit]
        return Resp(200, {"data": [{"id": m["id"], "caption": m["caption"], "timestamp": m["timestamp"],
                                    "media_product_type": "REELS"} for m in items]})

    # ---- insights ----

    def media_insights(self, req: Req) -> Resp:
        mid = req.params["id"]
        if mid not in self.media:
            return self.meta_error(400, 100, f"(#100) Object with ID '{mid}' does not exist", subcode=33)
        wanted = [m for m in req.query.get("metric", "").split(",") if m]
        bad = [m for m in wanted if m not in REELS_METRICS]
        if bad or not wanted:
            return self.meta_error(400, 100, f"(#100) metric[0] must be one of the following values: "
                                             f"{', '.join(sorted(REELS_METRICS))}")
        values = self.insights.get(mid, DEFAULT_INSIGHTS)
        data = []
        for name in wanted:
            # A figure Instagram has not computed yet comes back as an empty set, never as 0.
            vals = [{"value": values[name]}] if name in values else []
            data.append({"name": name, "period": "lifetime", "values": vals, "title": name,
                         "description": name, "id": f"{mid}/insights/{name}/lifetime"})
        return Resp(200, {"data": data})


def cid_of(c: dict[str, Any]) -> str:
    return c["id"]
