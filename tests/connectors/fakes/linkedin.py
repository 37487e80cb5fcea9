"""A fake LinkedIn following shared/platform-contracts.md section 5: versioned REST headers, videos
initializeUpload / part PUTs answered with ETags / finalizeUpload / status, POST /posts (201 + x-restli-id),
posts by author, organizationalEntityShareStatistics, the OAuth refresh (no rotation), and LinkedIn's error shape."""
from __future__ import annotations

import itertools
import secrets
from typing import Any
from urllib.parse import unquote

from tests.connectors.fakes.base import Drop, FakePlatform, Req, Resp, marker_of

DAY = 86400.0
# REST paths live under /rest on api.linkedin.com; a base URL that already ends in /rest leaves it out.
R = "(?:/rest)?"
DEFAULT_STATS = {"impressionCount": 2400, "uniqueImpressionsCount": 1800, "clickCount": 75, "likeCount": 60,
                 "commentCount": 8, "shareCount": 5, "engagement": 0.06}


class FakeLinkedIn(FakePlatform):
    name = "linkedin"

    def __init__(self, *, organization_id: str = "5515715", part_size: int = 4 * 1024 * 1024,
                 processing_polls: int = 1, access_ttl_s: float = 60 * DAY, versions: tuple[str, ...] = ("202601",),
                 **kw: Any):
        self.organization = f"urn:li:organization:{organization_id}"
        self.part_size = part_size           # LinkedIn chooses the part ranges; clients must follow them
        self.processing_polls = processing_polls
        self.versions = versions             # LinkedIn-Version values this fake accepts
        self.videos: dict[str, dict[str, Any]] = {}
        self.posts: dict[str, dict[str, Any]] = {}
        self.fail_processing = 0             # how many of the next finalized videos end PROCESSING_FAILED
        self.stats: dict[str, dict[str, Any]] = {}
        self.duplicate_posts = 0             # POST /posts for a video already in a post (answered 422)
        self.rate_limit_header = True        # send Retry-After with 429 (LinkedIn documents none)
        self.lose_part: dict[int, int] = {}  # part index -> how many of its PUTs are dropped without an answer
        self._ids = itertools.count(7_260_000_000_000_000_001)
        super().__init__(access_ttl_s=access_ttl_s, rotate=False, **kw)

    # ---- LinkedIn's shapes ----

    def error(self, status: int, code: str, message: str = "", service: int | None = None) -> Resp:
        body: dict[str, Any] = {"status": status, "code": code, "message": message or code}
        if service is not None:
            body["serviceErrorCode"] = service
        return Resp(status, body)

    def unauthorized(self) -> Resp:
        return self.error(401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired", 65602)

    def rate_limited(self, wait_s: float) -> Resp:
        resp = self.error(429, "TOO_MANY_REQUESTS", "Resource level throttle APPLICATION DAY limit for calls to this "
                                                   "resource is reached.", 101)
        if self.rate_limit_header:
            resp.headers["Retry-After"] = f"{max(1, round(wait_s))}"
        return resp

    def server_error(self, status: int) -> Resp:
        return self.error(status, "INTERNAL_SERVER_ERROR", "Internal Server Error")

    # ---- routes ----

    def setup_routes(self) -> None:
        self.route("POST", "(?:/oauth/v2)?/accessToken", self.token, name="token", auth=False)
        self.route("POST", f"{R}/videos/initializeUpload", self.initialize, name="initialize_upload")
        self.route("POST", f"{R}/videos/finalizeUpload", self.finalize, name="finalize_upload")
        self.route("PUT", r"/upload/(?P<vid>\w+)/captions", self.upload_captions, name="upload_captions")
        self.route("PUT", r"/upload/(?P<vid>\w+)/(?P<part>\d+)", self.upload_part, name="upload_part")
        self.route("GET", rf"{R}/videos/(?P<urn>[^/]+)", self.video, name="video")
        self.route("POST", f"{R}/posts", self.create_post, name="create_post")
        self.route("GET", f"{R}/posts", self.find_posts, name="find_posts")
        self.route("GET", f"{R}/organizationalEntityShareStatistics", self.share_statistics, name="share_statistics")

    def dispatch(self, req: Req) -> Resp:
        if not req.path.startswith(("/upload/", "/oauth/", "/accessToken")):
            if req.header("linkedin-version") not in self.versions:
                return self.error(426, "NONEXISTENT_VERSION", f"Requested version {req.header('linkedin-version')} "
                                  "is not active")
            if req.header("x-restli-protocol-version") != "2.0.0":
                return self.error(400, "BAD_REQUEST", "X-Restli-Protocol-Version 2.0.0 is required")
        if req.path in ("/rest/videos", "/videos") and req.method == "POST":
            req.path = f"/rest/videos/{req.query.get('action', '')}"
        return super().dispatch(req)

    # ---- tokens ----

    def token(self, req: Req) -> Resp:
        form = req.form()
        if form.get("grant_type") != "refresh_token" or not form.get("client_id") or not form.get("client_secret"):
            return Resp(400, {"error": "invalid_request", "error_description": "A required parameter is missing"})
        grant = self.tokens.refresh(form.get("refresh_token"))
        if grant is None:
            return Resp(400, {"error": "invalid_request", "error_description": "The provided authorization grant or "
                              "refresh token is invalid, expired or revoked"})
        # LinkedIn does not rotate: the same refresh token comes back, its own life not extended.
        return Resp(200, {**grant, "refresh_token": form["refresh_token"], "refresh_token_expires_in": 31_000_000,
                          "scope": "r_organization_social,w_organization_social"})

    # ---- video upload ----

    def initialize(self, req: Req) -> Resp:
        body = (req.json() or {}).get("initializeUploadRequest") or {}
        owner, size = body.get("owner"), body.get("fileSizeBytes")
        if owner != self.organization and not str(owner).startswith("urn:li:person:"):
            return self.error(403, "ACCESS_DENIED", f"Not enough permissions to act as {owner}", 100)
        if not isinstance(size, int) or size <= 0:
            return self.error(400, "BAD_REQUEST", "fileSizeBytes must be a positive integer")
        vid = f"C5{secrets.token_hex(7).upper()}"
        urn = f"urn:li:video:{vid}"
        ranges = [(first, min(first + self.part_size, size) - 1) for first in range(0, size, self.part_size)]
        self.videos[urn] = {"urn": urn, "vid": vid, "owner": owner, "size": size, "ranges": ranges, "parts": {},
                            "etags": {}, "status": "WAITING_UPLOAD", "polls": 0, "token": secrets.token_hex(4),
                            "captions": None, "post": None}
        value: dict[str, Any] = {
            "uploadUrlsExpireAt": int((self.clock() + DAY) * 1000), "video": urn,
            "uploadInstructions": [{"uploadUrl": f"{self.base_url}/upload/{vid}/{i}", "firstByte": a, "lastByte": b}
                                   for i, (a, b) in enumerate(ranges)],
            "uploadToken": self.videos[urn]["token"],
        }
        if body.get("uploadCaptions"):
            value["captionsUploadUrl"] = f"{self.base_url}/upload/{vid}/captions"
        return Resp(200, {"value": value})

    def _by_vid(self, vid: str) -> dict[str, Any] | None:
        return next((v for v in self.videos.values() if v["vid"] == vid), None)

    def upload_part(self, req: Req) -> Resp:
        v = self._by_vid(req.params["vid"])
        index = int(req.params["part"])
        if v is None or index >= len(v["ranges"]):
            return self.error(404, "NOT_FOUND", "no such upload")
        if self.lose_part.get(index, 0) > 0:
            self.lose_part[index] -= 1
            raise Drop()
        first, last = v["ranges"][index]
        if len(req.body) != last - first + 1:
            return self.error(400, "BAD_REQUEST", f"part {index} must be {last - first + 1} bytes")
        v["parts"][index] = req.body
        etag = v["etags"].setdefault(index, f"/ambry-video/signedId/{secrets.token_hex(8)}")
        return Resp(201, None, {"ETag": etag})

    def upload_captions(self, req: Req) -> Resp:
        v = self._by_vid(req.params["vid"])
        if v is None:
            return self.error(404, "NOT_FOUND", "no such upload")
        v["captions"] = req.body
        return Resp(201, None)

    def finalize(self, req: Req) -> Resp:
        body = (req.json() or {}).get("finalizeUploadRequest") or {}
        v = self.videos.get(body.get("video", ""))
        if v is None:
            return self.error(404, "NOT_FOUND", "no such video")
        if v["status"] != "WAITING_UPLOAD":
            return self.error(400, "BAD_REQUEST", "The upload is already finalized")
        expected = [v["etags"].get(i) for i in range(len(v["ranges"]))]
        if body.get("uploadedPartIds") != expected or None in expected:
            return self.error(400, "BAD_REQUEST", "uploadedPartIds do not match the uploaded parts")
        if body.get("uploadToken", "") != v["token"]:
            return self.error(400, "BAD_REQUEST", "uploadToken does not match")
        v["status"] = "PROCESSING"
        return Resp(200, None)

    def video(self, req: Req) -> Resp:
        v = self.videos.get(unquote(req.params["urn"]))
        if v is None:
            return self.error(404, "NOT_FOUND", "no such video")
        if v["status"] == "PROCESSING":
            if v["polls"] < self.processing_polls:
                v["polls"] += 1
            elif self.fail_processing > 0:
                self.fail_processing -= 1
                v["status"] = "PROCESSING_FAILED"
            else:
                v["status"] = "AVAILABLE"
        return Resp(200, {"id": v["urn"], "owner": v["owner"], "status": v["status"],
                          "processingFailureReason": "INVALID_FILE" if v["status"] == "PROCESSING_FAILED" else None})

    # ---- posts ----

    def create_post(self, req: Req) -> Resp:
        body = req.json() or {}
        media = ((body.get("content") or {}).get("media") or {})
        v = self.videos.get(media.get("id", ""))
        if body.get("author") != self.organization and not str(body.get("author")).startswith("urn:li:person:"):
            return self.error(403, "ACCESS_DENIED", "Not enough permissions to post as this author", 100)
        if v is None or v["status"] != "AVAILABLE":
            return self.error(400, "BAD_REQUEST", "The video is not AVAILABLE")
        if v["post"]:
            self.duplicate_posts += 1
            return self.error(422, "UNPROCESSABLE_ENTITY", f"Content is a duplicate of {v['post']}")
        urn = f"urn:li:share:{next(self._ids)}"
        data = b"".join(v["parts"][i] for i in range(len(v["ranges"])))
        self.posts[urn] = {"id": urn, "author": body.get("author"), "commentary": body.get("commentary"),
                           "content": {"media": media}, "lifecycleState": body.get("lifecycleState"),
                           "visibility": body.get("visibility"), "createdAt": int(self.clock() * 1000)}
        v["post"] = urn
        self.published.append({"id": urn, "marker": marker_of(data), "commentary": body.get("commentary")})
        return Resp(201, None, {"x-restli-id": urn})

    def find_posts(self, req: Req) -> Resp:
        if req.query.get("q") != "author":
            return self.error(400, "BAD_REQUEST", "q=author is required")
        author = req.query.get("author")
        count = int(req.query.get("count", "10"))
        found = sorted((p for p in self.posts.values() if p["author"] == author), key=lambda p: p["createdAt"],
                       reverse=True)[:count]
        return Resp(200, {"elements": found, "paging": {"start": 0, "count": count, "total": len(found)}})

    def share_statistics(self, req: Req) -> Resp:
        if req.query.get("q") != "organizationalEntity" or req.query.get("organizationalEntity") != self.organization:
            return self.error(403, "ACCESS_DENIED", "Share statistics are for organizations you administer", 100)
        urns: list[tuple[str, str]] = []
        for key, field in (("shares", "share"), ("ugcPosts", "ugcPost")):
            raw = req.query.get(key)
            if raw:
                if not (raw.startswith("List(") and raw.endswith(")")):
                    return self.error(400, "BAD_REQUEST", f"{key} must be a Rest.li List(...)")
                urns += [(field, unquote(u)) for u in raw[5:-1].split(",") if u]
        elements = []
        for field, urn in urns:
            if urn in self.posts:
                elements.append({"organizationalEntity": self.organization, field: urn,
                                 "totalShareStatistics": self.stats.get(urn, DEFAULT_STATS)})
        return Resp(200, {"elements": elements, "paging": {"start": 0, "count": 10, "links": []}})
