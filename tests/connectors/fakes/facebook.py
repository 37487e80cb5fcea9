"""A fake Facebook Page following shared/platform-contracts.md section 4: Reels start / rupload / finish with
video_state PUBLISHED or SCHEDULED (scheduled_publish_time in a window), status phases, the 30 reels per 24 h cap,
506 Duplicate Post for a second finish, captions, delete, reschedule and video_insights. Page tokens do not expire
unless a test expires them; there is no refresh route."""
from __future__ import annotations

import json
import re
from typing import Any

from tests.connectors.fakes.base import Req, Resp, marker_of
from tests.connectors.fakes.meta import V, FakeMeta

DAY = 86400.0
DEFAULT_INSIGHTS: dict[str, Any] = {
    "blue_reels_play_count": 800, "fb_reels_total_plays": 950, "post_impressions_unique": 700,
    "post_video_avg_time_watched": 5200, "post_video_view_time": 4160000,
    "post_video_social_actions": {"COMMENT": 9, "SHARE": 4},
    "post_video_likes_by_reaction_type": {"REACTION_LIKE": 40, "REACTION_LOVE": 6},
}
_CAPTION_NAME = re.compile(rb'filename="[^"]*\.([a-z]{2}_[A-Z]{2})\.srt"')


class FakeFacebook(FakeMeta):
    name = "facebook"

    def __init__(self, *, page_id: str = "104000000000001", reels_cap: int = 30, cap_window_s: float = DAY,
                 processing_polls: int = 1, schedule_min_s: float = 600, schedule_max_s: float = 29 * DAY,
                 access_ttl_s: float = 3650 * DAY, **kw: Any):
        self.page_id = page_id
        self.reels_cap = reels_cap
        self.cap_window_s = cap_window_s
        self.processing_polls = processing_polls
        self.schedule_min_s, self.schedule_max_s = schedule_min_s, schedule_max_s
        self.videos: dict[str, dict[str, Any]] = {}
        self.fail_processing: list[str] = []   # error messages for the next videos that finish processing
        self.insights: dict[str, dict[str, Any]] = {}
        self.duplicate_finishes = 0            # second finish calls (answered 506)
        self.captions: dict[str, list[str]] = {}  # video id -> locales received
        # Reels finished per Page in the cap window. A Page token stands for one Page, so the cap is counted per
        # token: several test accounts sharing this fake (and its page_id) each get their own 30.
        self.finish_times: dict[str, list[float]] = {}
        super().__init__(access_ttl_s=access_ttl_s, rotate=False, **kw)

    def setup_routes(self) -> None:
        self.route("POST", rf"{V}/(?P<page>\d+)/video_reels/start", self.reels_start, name="reels_start")
        self.route("POST", rf"{V}/(?P<page>\d+)/video_reels/finish", self.reels_finish, name="reels_finish")
        self.route("POST", r"/video-upload/v\d+\.\d+/(?P<id>\d+)", self.rupload, name="rupload")
        self.route("POST", rf"{V}/(?P<id>\d+)/captions", self.add_captions, name="captions")
        self.route("GET", rf"{V}/(?P<id>\d+)/video_insights", self.video_insights, name="video_insights")
        self.route("GET", rf"{V}/(?P<id>\d+)", self.video, name="video")
        self.route("POST", rf"{V}/(?P<id>\d+)", self.update_video, name="update_video")
        self.route("DELETE", rf"{V}/(?P<id>\d+)", self.delete_video, name="delete_video")

    def dispatch(self, req: Req) -> Resp:
        # One Graph edge, three phases: route each phase by its own name so a fault can target it.
        m = re.fullmatch(rf"({V}/\d+/video_reels)", req.path)
        if m and req.method == "POST":
            phase = self.params(req).get("upload_phase", "")
            req.path = f"{req.path}/{phase}"
        return super().dispatch(req)

    def _page(self, req: Req) -> Resp | None:
        if req.params.get("page") != self.page_id:
            return self.meta_error(400, 100, "(#100) Unsupported post request: the Page does not exist", subcode=33)
        return None

    # ---- publishing ----

    def reels_start(self, req: Req) -> Resp:
        bad = self._page(req)
        if bad:
            return bad
        vid = self.new_id()
        self.videos[vid] = {"id": vid, "upload": {}, "finished": False, "state": None, "polls": 0,
                            "processing": "not_started", "error": None, "scheduled": None, "published_at": None,
                            "description": None, "deleted": False}
        return Resp(200, {"video_id": vid, "upload_url": f"https://rupload.facebook.com/video-upload/{self.version}/{vid}"})

    def rupload(self, req: Req) -> Resp:
        v = self.videos.get(req.params["id"])
        if v is None:
            return Resp(400, {"debug_info": {"retriable": False, "type": "NotFound", "message": "no such video"}})
        return self.receive_upload(req, v["upload"])

    def add_captions(self, req: Req) -> Resp:
        v = self.videos.get(req.params["id"])
        if v is None:
            return self.meta_error(400, 100, "(#100) no such video", subcode=33)
        m = _CAPTION_NAME.search(req.body)
        if not m:
            return self.meta_error(400, 100, "(#100) The caption file name must end in .{locale}.srt, e.g. .es_ES.srt")
        self.captions.setdefault(v["id"], []).append(m.group(1).decode())
        return Resp(200, {"success": True})

    def cap_used(self, page: str) -> int:
        now = self.clock()
        times = [t for t in self.finish_times.get(page, []) if t > now - self.cap_window_s]
        self.finish_times[page] = times
        return len(times)

    def reels_finish(self, req: Req) -> Resp:
        bad = self._page(req)
        if bad:
            return bad
        p = self.params(req)
        v = self.videos.get(p.get("video_id", ""))
        if v is None:
            return self.meta_error(400, 100, "(#100) video_id is not a video of this Page", subcode=33)
        if v["finished"]:
            self.duplicate_finishes += 1
            return self.meta_error(400, 506, "Duplicate status message", user_title="Duplicate Post",
                                   user_msg="This reel has already been posted.")
        if not v["upload"].get("upload_complete"):
            return self.meta_error(400, 6000, "There was a problem uploading your video file. Please try again.",
                                   subcode=1363019)
        page = req.bearer() or ""
        if self.cap_used(page) >= self.reels_cap:
            oldest = min(self.finish_times[page])
            wait_min = (oldest + self.cap_window_s - self.clock()) / 60.0
            buc = {self.page_id: [{"type": "pages", "call_count": 100, "total_cputime": 1, "total_time": 1,
                                   "estimated_time_to_regain_access": wait_min}]}
            return self.meta_error(400, 32, f"(#32) Page reached its limit of {self.reels_cap} reels per 24 hours",
                                   headers={"X-Business-Use-Case-Usage": json.dumps(buc)})
        state = p.get("video_state", "PUBLISHED")
        if state == "SCHEDULED":
            try:
                when = float(p.get("scheduled_publish_time", ""))
            except ValueError:
                return self.meta_error(400, 100, "(#100) scheduled_publish_time is required for SCHEDULED")
            lead = when - self.clock()
            if not self.schedule_min_s <= lead <= self.schedule_max_s:
                return self.meta_error(400, 100, "(#100) The specified scheduled publish time is invalid.",
                                       subcode=1363026)
            v["scheduled"] = when
        elif state != "PUBLISHED":
            return self.meta_error(400, 100, f"(#100) video_state {state} is not supported by this fake")
        v.update(finished=True, state=state, description=p.get("description"), processing="in_progress")
        self.finish_times.setdefault(page, []).append(self.clock())
        self.published.append({"id": v["id"], "marker": marker_of(bytes(v["upload"].get("data") or b"")),
                               "scheduled": v["scheduled"], "description": v["description"]})
        return Resp(200, {"success": True})

    def _advance(self, v: dict[str, Any]) -> None:
        if v["processing"] == "in_progress":
            if v["polls"] < self.processing_polls:
                v["polls"] += 1
            elif self.fail_processing:
                v["processing"], v["error"] = "error", self.fail_processing.pop(0)
            else:
                v["processing"] = "complete"
                if v["state"] == "PUBLISHED":
                    v["published_at"] = self.clock()
        if v["scheduled"] and v["processing"] == "complete" and v["published_at"] is None \
                and self.clock() >= v["scheduled"]:
            v["published_at"] = v["scheduled"]

    def video(self, req: Req) -> Resp:
        if req.params["id"] == self.page_id:
            return Resp(200, {"id": self.page_id, "name": "Fake Page"})
        v = self.videos.get(req.params["id"])
        if v is None or v["deleted"]:
            return self.meta_error(404 if v else 400, 100, "(#100) Object does not exist", subcode=33)
        self._advance(v)
        up = v["upload"]
        uploading = {"status": "complete" if up.get("upload_complete") else ("in_progress" if up else "not_started"),
                     "bytes_transferred": len(up.get("data") or b"")}
        processing: dict[str, Any] = {"status": v["processing"]}
        if v["error"]:
            processing["error"] = {"message": v["error"]}
        publishing: dict[str, Any] = {"status": "not_started"}
        if v["finished"]:
            done = v["processing"] == "complete"
            publishing = {"status": "complete" if done else "in_progress"}
            if done:
                publishing["publish_status"] = "published" if v["published_at"] else "scheduled"
                publishing["publish_time"] = int(v["published_at"] or v["scheduled"])
        video_status = ("error" if v["processing"] == "error" else "ready" if v["processing"] == "complete"
                        else "processing" if v["finished"] else "upload_complete" if up.get("upload_complete")
                        else "uploading")
        return Resp(200, {"id": v["id"], "permalink_url": f"/reel/{v['id']}", "status": {
            "video_status": video_status, "uploading_phase": uploading, "processing_phase": processing,
            "publishing_phase": publishing}})

    def update_video(self, req: Req) -> Resp:
        v = self.videos.get(req.params["id"])
        if v is None or v["deleted"]:
            return self.meta_error(400, 100, "(#100) Object does not exist", subcode=33)
        p = self.params(req)
        if "scheduled_publish_time" in p:
            if v["published_at"]:
                return self.meta_error(400, 100, "(#100) The reel is already published")
            when = float(p["scheduled_publish_time"])
            if not self.schedule_min_s <= when - self.clock() <= self.schedule_max_s:
                return self.meta_error(400, 100, "(#100) The specified scheduled publish time is invalid.",
                                       subcode=1363026)
            v["scheduled"] = when
        return Resp(200, {"success": True})

    def delete_video(self, req: Req) -> Resp:
        v = self.videos.get(req.params["id"])
        if v is None:
            return self.meta_error(400, 100, "(#100) Object does not exist", subcode=33)
        v["deleted"] = True
        return Resp(200, {"success": True})

    # ---- insights ----

    def video_insights(self, req: Req) -> Resp:
        v = self.videos.get(req.params["id"])
        if v is None or v["deleted"]:
            return self.meta_error(400, 100, "(#100) Object does not exist", subcode=33)
        wanted = [m for m in req.query.get("metric", "").split(",") if m] or list(DEFAULT_INSIGHTS)
        values = self.insights.get(v["id"], DEFAULT_INSIGHTS)
        data = [{"name": name, "period": "lifetime", "values": [{"value": values[name]}] if name in values else [],
                 "title": name, "description": name, "id": f"{v['id']}/video_insights/{name}/lifetime"}
                for name in wanted]
        return Resp(200, {"data": data})
