"""A fake TikTok following shared/platform-contracts.md section 1: OAuth refresh with rotation, creator info,
Direct Post init with chunk rules, the media-transfer PUT (206/201, 416), status fetch, cancel and video query."""
from __future__ import annotations

import itertools
import secrets
from typing import Any

from tests.connectors.fakes.base import FakePlatform, Req, Resp, marker_of

MB = 1024 * 1024


class FakeTikTok(FakePlatform):
    name = "tiktok"

    def __init__(self, *, privacy_options: tuple[str, ...] = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"),
                 processing_polls: int = 1, min_chunk: int = 5 * MB, init_limit: tuple[int, float] | None = None,
                 **kw: Any):
        self.privacy_options = privacy_options
        self.processing_polls = processing_polls  # status fetches answered PROCESSING_UPLOAD after the last byte
        self.min_chunk = min_chunk
        self.init_limit = init_limit  # (calls, window_s) per token, enforced when set
        self.tasks: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, str] = {}  # upload_id -> publish_id
        self.fail_processing: list[str] = []  # fail_reason for the next tasks that finish uploading
        self.creator_error: str | None = None  # an error.code creator info answers with HTTP 200
        self.init_error: tuple[int, str] | None = None
        self.metrics: dict[str, dict[str, int]] = {}
        self._init_calls: list[float] = []
        self._ids = itertools.count(7_300_000_000_000_000_000)
        super().__init__(**kw)

    # ---- shapes ----

    def error(self, status: int, code: str, message: str = "") -> Resp:
        return Resp(status, {"data": {}, "error": {"code": code, "message": message or code, "log_id": "log-1"}})

    def unauthorized(self) -> Resp:
        return self.error(401, "access_token_invalid", "The access token is invalid or not found in the request.")

    def rate_limited(self, wait_s: float) -> Resp:
        # TikTok documents no rate-limit header; the body code is all a client gets.
        return self.error(429, "rate_limit_exceeded", "API rate limit exceeded")

    def server_error(self, status: int) -> Resp:
        return self.error(status, "internal_error", "Something went wrong. Please try again later.")

    def ok(self, data: dict[str, Any]) -> Resp:
        return Resp(200, {"data": data, "error": {"code": "ok", "message": "", "log_id": "log-1"}})

    # ---- routes ----

    def setup_routes(self) -> None:
        self.route("POST", "/v2/oauth/token/", self.token, name="token", auth=False)
        self.route("POST", "/v2/post/publish/creator_info/query/", self.creator_info, name="creator_info")
        self.route("POST", "/v2/post/publish/video/init/", self.init, name="init")
        self.route("PUT", "/upload/", self.upload, name="upload", auth=False)
        self.route("POST", "/v2/post/publish/status/fetch/", self.status, name="status")
        self.route("POST", "/v2/post/publish/cancel/", self.cancel, name="cancel")
        self.route("POST", "/v2/video/query/", self.video_query, name="video_query")

    def token(self, req: Req) -> Resp:
        form = req.form()
        if form.get("grant_type") != "refresh_token" or not form.get("client_key"):
            return Resp(400, {"error": "invalid_request", "error_description": "missing fields", "log_id": "l"})
        grant = self.tokens.refresh(form.get("refresh_token"))
        if grant is None:
            return Resp(400, {"error": "invalid_grant", "error_description": "Refresh token is invalid or expired.",
                              "log_id": "l"})
        return Resp(200, {"open_id": "open-1", "scope": "video.publish,video.list", "token_type": "Bearer",
                          "refresh_expires_in": 15552000, **grant})

    def creator_info(self, req: Req) -> Resp:
        if self.creator_error:
            return self.error(200, self.creator_error)
        return self.ok({"creator_avatar_url": "https://example.invalid/a.jpg", "creator_username": "fake_creator",
                        "creator_nickname": "Fake", "privacy_level_options": list(self.privacy_options),
                        "comment_disabled": False, "duet_disabled": False, "stitch_disabled": False,
                        "max_video_post_duration_sec": 600})

    def init(self, req: Req) -> Resp:
        if self.init_error:
            status, code = self.init_error
            return self.error(status, code)
        if self.init_limit:
            calls, window = self.init_limit
            now = self.clock()
            self._init_calls = [t for t in self._init_calls if t > now - window]
            if len(self._init_calls) >= calls:
                return self.rate_limited(window)
            self._init_calls.append(now)
        body = req.json()
        post, source = body.get("post_info") or {}, body.get("source_info") or {}
        if post.get("privacy_level") not in self.privacy_options:
            return self.error(403, "privacy_level_option_mismatch")
        if source.get("source") != "FILE_UPLOAD":
            return self.error(400, "invalid_param", "source must be FILE_UPLOAD in this fake")
        size, chunk, total = source.get("video_size"), source.get("chunk_size"), source.get("total_chunk_count")
        if not all(isinstance(x, int) and x > 0 for x in (size, chunk, total)):
            return self.error(400, "invalid_param", "video_size, chunk_size and total_chunk_count are required")
        if size < self.min_chunk:
            if chunk != size or total != 1:
                return self.error(400, "invalid_file_upload", "files under 5 MB go as one chunk")
        elif not (self.min_chunk <= chunk <= 64 * MB) or total != size // chunk or not 1 <= total <= 1000 \
                or size - chunk * (total - 1) > 128 * MB:
            return self.error(400, "invalid_file_upload", "chunk rules not met")
        publish_id = f"v_pub_file~v2-1.{secrets.token_hex(6)}"
        upload_id, upload_token = secrets.token_hex(8), secrets.token_hex(8)
        self.tasks[publish_id] = {"size": size, "chunk": chunk, "total": total, "data": bytearray(),
                                  "status": "PROCESSING_UPLOAD", "polls": 0, "fail_reason": None,
                                  "title": post.get("title"), "privacy": post.get("privacy_level"),
                                  "upload_token": upload_token, "post_id": None}
        self.uploads[upload_id] = publish_id
        return self.ok({"publish_id": publish_id,
                        "upload_url": f"{self.base_url}/upload/?upload_id={upload_id}&upload_token={upload_token}"})

    def upload(self, req: Req) -> Resp:
        publish_id = self.uploads.get(req.query.get("upload_id", ""))
        if publish_id is None:
            return Resp(404, b"")
        task = self.tasks[publish_id]
        if req.query.get("upload_token") != task["upload_token"]:
            return Resp(403, b"")
        try:
            span, total = req.header("content-range", "").split(" ", 1)[1].split("/")
            first, last = (int(x) for x in span.split("-"))
            total = int(total)
        except (IndexError, ValueError):
            return Resp(400, b"")
        have = len(task["data"])
        if total != task["size"] or first != have or last - first + 1 != len(req.body):
            return Resp(416, b"", {"Content-Range": f"bytes 0-{have - 1}/{task['size']}"})
        index = first // task["chunk"]
        last_chunk = index == task["total"] - 1
        if not last_chunk and len(req.body) != task["chunk"]:
            return Resp(400, b"")
        if last_chunk and last + 1 != task["size"]:
            return Resp(400, b"")
        task["data"].extend(req.body)
        have = len(task["data"])
        if have < task["size"]:
            return Resp(206, b"", {"Content-Range": f"bytes 0-{have - 1}/{task['size']}"})
        if self.fail_processing:
            task["fail_reason"] = self.fail_processing.pop(0)
        return Resp(201, b"", {"Content-Range": f"bytes 0-{have - 1}/{task['size']}"})

    def status(self, req: Req) -> Resp:
        task = self.tasks.get((req.json() or {}).get("publish_id"))
        if task is None:
            return self.error(400, "invalid_publish_id")
        complete = len(task["data"]) >= task["size"]
        if complete and task["status"] == "PROCESSING_UPLOAD":
            task["polls"] += 1
            if task["polls"] > self.processing_polls:
                if task["fail_reason"]:
                    task["status"] = "FAILED"
                else:
                    task["status"] = "PUBLISH_COMPLETE"
                    task["post_id"] = next(self._ids)
                    self.published.append({"id": str(task["post_id"]), "marker": marker_of(bytes(task["data"])),
                                           "title": task["title"], "privacy": task["privacy"]})
                    self.metrics[str(task["post_id"])] = {"view_count": 120, "like_count": 7, "comment_count": 1,
                                                          "share_count": 2}
        data = {"status": task["status"], "uploaded_bytes": len(task["data"])}
        if task["status"] == "FAILED":
            data["fail_reason"] = task["fail_reason"]
        if task["post_id"] is not None:
            data["publicaly_available_post_id"] = [task["post_id"]]
        return self.ok(data)

    def cancel(self, req: Req) -> Resp:
        task = self.tasks.get((req.json() or {}).get("publish_id"))
        if task is None:
            return self.error(400, "invalid_publish_id")
        if task["status"] == "PROCESSING_UPLOAD":
            task["status"], task["fail_reason"] = "FAILED", "publish_cancelled"
        return self.ok({})

    def video_query(self, req: Req) -> Resp:
        ids = ((req.json() or {}).get("filters") or {}).get("video_ids") or []
        if len(ids) > 20:
            return self.error(400, "invalid_param", "at most 20 video ids")
        fields = req.query.get("fields", "").split(",")
        videos = []
        for vid in ids:
            if str(vid) in self.metrics:
                videos.append({"id": str(vid), **{k: v for k, v in self.metrics[str(vid)].items() if k in fields}})
        return self.ok({"videos": videos, "cursor": 0, "has_more": False})
