"""A fake YouTube (Data API v3 + Analytics v2 + Google OAuth) following shared/platform-contracts.md section 2:
resumable upload sessions (308 with Range, status query with `bytes */TOTAL`), publishAt scheduling, captions,
videos.list statistics, analytics reports, Google's error shape and non-rotating refresh."""
from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any

from tests.connectors.fakes.base import FakePlatform, Req, Resp, marker_of

QUANTUM = 256 * 1024


class FakeYouTube(FakePlatform):
    name = "youtube"

    def __init__(self, *, processing_polls: int = 1, **kw: Any):
        self.processing_polls = processing_polls
        self.sessions: dict[str, dict[str, Any]] = {}
        self.videos: dict[str, dict[str, Any]] = {}
        self.captions: dict[str, list[dict[str, Any]]] = {}
        self.reject_next: list[str] = []  # rejectionReason for the next videos finishing processing
        self.start_error: tuple[int, str] | None = None
        kw.setdefault("rotate", False)  # Google keeps the refresh token
        super().__init__(**kw)

    def error(self, status: int, code: str, message: str = "") -> Resp:
        return Resp(status, {"error": {"code": status, "message": message or code,
                                       "errors": [{"domain": "youtube.video", "reason": code,
                                                   "message": message or code}]}})

    def unauthorized(self) -> Resp:
        return self.error(401, "authError", "Invalid Credentials")

    def rate_limited(self, wait_s: float) -> Resp:
        resp = self.error(429, "rateLimitExceeded", "Rate limit exceeded")
        resp.headers["Retry-After"] = f"{wait_s:g}"
        return resp

    def server_error(self, status: int) -> Resp:
        return self.error(status, "backendError", "Backend Error")

    def setup_routes(self) -> None:
        self.route("POST", "/token", self.token, name="token", auth=False)
        self.route("POST", "/upload/youtube/v3/videos", self.start_upload, name="start")
        self.route("PUT", "/upload/youtube/v3/videos", self.put_bytes, name="bytes")
        self.route("GET", "/youtube/v3/videos", self.list_videos, name="videos.list")
        self.route("PUT", "/youtube/v3/videos", self.update_video, name="videos.update")
        self.route("POST", "/upload/youtube/v3/captions", self.insert_caption, name="captions.insert")
        self.route("GET", "/youtube/v3/captions", self.list_captions, name="captions.list")
        self.route("GET", "/youtube/v3/channels", self.channels, name="channels")
        self.route("GET", "/v2/reports", self.reports, name="reports")

    def token(self, req: Req) -> Resp:
        form = req.form()
        grant = self.tokens.refresh(form.get("refresh_token")) if form.get("grant_type") == "refresh_token" else None
        if grant is None:
            return Resp(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
        return Resp(200, {**grant, "scope": "https://www.googleapis.com/auth/youtube.upload", "token_type": "Bearer"})

    def start_upload(self, req: Req) -> Resp:
        if req.query.get("uploadType") != "resumable":
            return self.error(400, "invalidParameter", "uploadType must be resumable in this fake")
        if self.start_error:
            status, reason = self.start_error
            return self.error(status, reason)
        video = req.json() or {}
        status = video.get("status") or {}
        if status.get("publishAt") and status.get("privacyStatus") != "private":
            return self.error(400, "invalidPublishAt", "publishAt requires privacyStatus private")
        if status.get("publishAt"):
            when = dt.datetime.fromisoformat(status["publishAt"].replace("Z", "+00:00"))
            if when.timestamp() <= self.clock():
                return self.error(400, "invalidPublishAt", "publishAt must be in the future")
        size = int(req.header("x-upload-content-length") or 0)
        upload_id = secrets.token_hex(10)
        self.sessions[upload_id] = {"size": size, "data": bytearray(), "video": video, "video_id": None}
        return Resp(200, b"", {"Location": f"{self.base_url}/upload/youtube/v3/videos?uploadType=resumable"
                                           f"&upload_id={upload_id}"})

    def put_bytes(self, req: Req) -> Resp:
        session = self.sessions.get(req.query.get("upload_id", ""))
        if session is None:
            return self.error(404, "notFound", "upload session not found")
        spec = (req.header("content-range") or "").split(" ", 1)[-1]
        have = len(session["data"])
        if session["video_id"]:
            return Resp(200, self.videos[session["video_id"]]["resource"])
        if spec.startswith("*/"):
            return self._incomplete(have)
        try:
            span, total = spec.split("/")
            first, last = (int(x) for x in span.split("-"))
        except ValueError:
            return self.error(400, "badContentRange", "bad Content-Range")
        if first != have:
            return self._incomplete(have)  # the client must resume from what the server has
        if last + 1 < session["size"] and len(req.body) % QUANTUM:
            return self.error(400, "badChunkSize", "chunks must be multiples of 256 KiB")
        session["data"].extend(req.body)
        if len(session["data"]) < session["size"]:
            return self._incomplete(len(session["data"]))
        return Resp(200, self._create_video(session))

    def _incomplete(self, have: int) -> Resp:
        return Resp(308, b"", {"Range": f"bytes=0-{have - 1}"} if have else {})

    def _create_video(self, session: dict[str, Any]) -> dict[str, Any]:
        video_id = secrets.token_urlsafe(8)[:11]
        resource = {"kind": "youtube#video", "id": video_id, "snippet": session["video"].get("snippet", {}),
                    "status": {**session["video"].get("status", {}), "uploadStatus": "uploaded"}}
        session["video_id"] = video_id
        marker = marker_of(bytes(session["data"]))
        self.videos[video_id] = {"resource": resource, "polls": 0, "marker": marker,
                                 "stats": {"viewCount": "345", "likeCount": "12", "dislikeCount": "0",
                                           "favoriteCount": "0", "commentCount": "3"}}
        # A video on the channel is the post (public now, or private until publishAt).
        self.published.append({"id": video_id, "marker": marker, "status": dict(resource["status"])})
        return resource

    def _current(self, video_id: str) -> dict[str, Any]:
        entry = self.videos[video_id]
        status = entry["resource"]["status"]
        if status["uploadStatus"] == "uploaded":
            entry["polls"] += 1
            if entry["polls"] > self.processing_polls:
                if self.reject_next:
                    status["uploadStatus"], status["rejectionReason"] = "rejected", self.reject_next.pop(0)
                else:
                    status["uploadStatus"] = "processed"
        if status.get("publishAt") and status.get("privacyStatus") == "private":
            when = dt.datetime.fromisoformat(status["publishAt"].replace("Z", "+00:00"))
            if when.timestamp() <= self.clock():
                status["privacyStatus"] = "public"
        return entry["resource"]

    def list_videos(self, req: Req) -> Resp:
        ids = [i for i in req.query.get("id", "").split(",") if i]
        if "maxResults" in req.query and ids:
            return self.error(400, "invalidParameter", "maxResults is not allowed with id")
        parts = set(req.query.get("part", "").split(","))
        items = []
        for vid in ids:
            if vid not in self.videos:
                continue
            resource = self._current(vid)
            item: dict[str, Any] = {"kind": "youtube#video", "id": vid}
            if "status" in parts:
                item["status"] = dict(resource["status"])
            if "processingDetails" in parts:
                done = resource["status"]["uploadStatus"] != "uploaded"
                item["processingDetails"] = {"processingStatus": "succeeded" if done else "processing"}
            if "statistics" in parts:
                item["statistics"] = dict(self.videos[vid]["stats"])
            if "snippet" in parts:
                item["snippet"] = resource["snippet"]
            items.append(item)
        return Resp(200, {"kind": "youtube#videoListResponse", "items": items,
                          "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)}})

    def update_video(self, req: Req) -> Resp:
        body = req.json() or {}
        vid = body.get("id")
        if vid not in self.videos:
            return self.error(404, "videoNotFound", "video not found")
        status = dict(body.get("status") or {})
        current = self.videos[vid]["resource"]["status"]
        if status.get("publishAt"):
            when = dt.datetime.fromisoformat(status["publishAt"].replace("Z", "+00:00"))
            if when.timestamp() <= self.clock() or status.get("privacyStatus") != "private":
                return self.error(400, "invalidPublishAt", "publishAt must be in the future on a private video")
        current.pop("publishAt", None)  # status is replaced as a whole: a missing publishAt clears it
        current.update(status)
        return Resp(200, self.videos[vid]["resource"])

    def insert_caption(self, req: Req) -> Resp:
        content_type = req.header("content-type") or ""
        if "multipart/related" not in content_type:
            return self.error(400, "invalidParameter", "captions.insert needs multipart/related")
        boundary = content_type.split("boundary=")[-1].encode()
        parts = [p for p in req.body.split(b"--" + boundary) if p.strip(b"-\r\n")]
        try:
            meta = json.loads(parts[0].split(b"\r\n\r\n", 1)[1])
            data = parts[1].split(b"\r\n\r\n", 1)[1]
        except (IndexError, ValueError):
            return self.error(400, "invalidParameter", "bad multipart body")
        snippet = meta.get("snippet") or {}
        if snippet.get("videoId") not in self.videos:
            return self.error(404, "videoNotFound", "video not found")
        if b"-->" not in data:
            return self.error(400, "invalidCaptionFormat", "not SubRip")
        track = {"id": secrets.token_hex(6), "snippet": {**snippet, "status": "serving", "trackKind": "standard"}}
        self.captions.setdefault(snippet["videoId"], []).append(track)
        return Resp(200, {"kind": "youtube#caption", **track})

    def list_captions(self, req: Req) -> Resp:
        return Resp(200, {"items": self.captions.get(req.query.get("videoId", ""), [])})

    def channels(self, req: Req) -> Resp:
        return Resp(200, {"items": [{"id": "UC-fake", "snippet": {"title": "Fake Channel"}}]})

    def reports(self, req: Req) -> Resp:
        if req.query.get("ids") != "channel==MINE" or not req.query.get("metrics"):
            return self.error(400, "badRequest", "ids and metrics are required")
        metrics = req.query["metrics"].split(",")
        ids = req.query.get("filters", "").removeprefix("video==").split(",")
        headers = [{"name": "video", "columnType": "DIMENSION", "dataType": "STRING"}] + \
            [{"name": m, "columnType": "METRIC", "dataType": "INTEGER"} for m in metrics]
        rows = [[vid] + [{"shares": 4, "estimatedMinutesWatched": 30, "averageViewDuration": 9,
                          "subscribersGained": 1}.get(m, 0) for m in metrics] for vid in ids if vid in self.videos]
        return Resp(200, {"kind": "youtubeAnalytics#resultTable", "columnHeaders": headers, "rows": rows})
