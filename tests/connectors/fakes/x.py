"""A fake X following shared/platform-contracts.md section 6: OAuth 2.0 refresh with rotation, media upload v2
(initialize / append / finalize / STATUS with processing_info), subtitles, POST /2/tweets with the duplicate-content
403, tweet lookup with metrics, the user's recent posts, RFC 7807 errors and x-rate-limit headers."""
from __future__ import annotations

import email.parser
import email.policy
import itertools
from typing import Any

from tests.connectors.fakes.base import FakePlatform, Req, Resp, marker_of


def _multipart(req: Req) -> dict[str, bytes]:
    raw = b"Content-Type: " + (req.header("content-type") or "").encode() + b"\r\n\r\n" + req.body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    out = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        out[name] = part.get_payload(decode=True)
    return out


class FakeX(FakePlatform):
    name = "x"

    def __init__(self, *, processing_polls: int = 1, post_window: tuple[int, float] | None = None, **kw: Any):
        self.processing_polls = processing_polls
        self.post_window = post_window  # (posts, window_s) per user, announced in x-rate-limit headers
        self.media: dict[str, dict[str, Any]] = {}
        self.tweets: dict[str, dict[str, Any]] = {}
        self.subtitles: dict[str, dict[str, Any]] = {}
        self.fail_processing: list[str] = []
        self._ids = itertools.count(1_850_000_000_000_000_000)
        self._media_ids = itertools.count(1_700_000_000_000_000_000)
        self._post_times: list[float] = []
        super().__init__(**kw)

    def error(self, status: int, code: str, message: str = "") -> Resp:
        return Resp(status, {"title": code.replace("-", " ").title(), "detail": message or code,
                             "type": f"https://api.twitter.com/2/problems/{code}", "status": status})

    def unauthorized(self) -> Resp:
        return Resp(401, {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"})

    def rate_limited(self, wait_s: float) -> Resp:
        reset = int(self.clock() + wait_s) + 1
        return Resp(429, {"errors": [{"code": 88, "message": "Rate limit exceeded"}]},
                    {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)})

    def server_error(self, status: int) -> Resp:
        return Resp(status, {"title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank",
                             "status": status})

    def setup_routes(self) -> None:
        self.route("POST", "/2/oauth2/token", self.token, name="token", auth=False)
        self.route("POST", "/2/media/upload/initialize", self.initialize, name="initialize")
        self.route("POST", r"/2/media/upload/(?P<id>\d+)/append", self.append, name="append")
        self.route("POST", r"/2/media/upload/(?P<id>\d+)/finalize", self.finalize, name="finalize")
        self.route("GET", "/2/media/upload", self.status, name="media_status")
        self.route("POST", "/2/media/subtitles", self.add_subtitles, name="subtitles")
        self.route("POST", "/2/tweets", self.create_tweet, name="tweets.create")
        self.route("GET", "/2/tweets", self.lookup, name="tweets.lookup")
        self.route("GET", "/2/users/me", self.me, name="users.me")
        self.route("GET", r"/2/users/(?P<id>\d+)/tweets", self.timeline, name="users.tweets")

    def token(self, req: Req) -> Resp:
        form = req.form()
        grant = self.tokens.refresh(form.get("refresh_token")) if form.get("grant_type") == "refresh_token" else None
        if grant is None or not form.get("client_id"):
            return Resp(400, {"error": "invalid_request",
                              "error_description": "Value passed for the token was invalid."})
        return Resp(200, {**grant, "token_type": "bearer",
                          "scope": "tweet.write tweet.read users.read media.write offline.access"})

    def initialize(self, req: Req) -> Resp:
        body = req.json() or {}
        if not body.get("total_bytes") or not body.get("media_type"):
            return self.error(400, "invalid-request", "media_type and total_bytes are required")
        media_id = str(next(self._media_ids))
        self.media[media_id] = {"type": body["media_type"], "category": body.get("media_category"),
                                "total": int(body["total_bytes"]), "segments": {}, "state": None, "polls": 0,
                                "data": b"", "key": f"7_{media_id}"}
        return Resp(200, {"data": {"id": media_id, "media_key": f"7_{media_id}", "expires_after_secs": 86400}})

    def append(self, req: Req) -> Resp:
        media = self.media.get(req.params["id"])
        if media is None:
            return self.error(404, "resource-not-found", "media not found")
        parts = _multipart(req)
        index = int(parts.get("segment_index", b"-1"))
        if not 0 <= index <= 999 or "media" not in parts:
            return self.error(400, "invalid-request", "segment_index 0-999 and media are required")
        media["segments"][index] = parts["media"]
        return Resp(200, {"data": {"expires_at": 0}})

    def _info(self, media_id: str) -> dict[str, Any]:
        media = self.media[media_id]
        data: dict[str, Any] = {"id": media_id, "media_key": media["key"], "size": media["total"],
                                "expires_after_secs": 86400}
        if media["state"] not in (None, "ready"):
            data["processing_info"] = {"state": media["state"], "check_after_secs": 1,
                                       "progress_percent": 100 if media["state"] == "succeeded" else 40}
            if media["state"] == "failed":
                data["processing_info"]["error"] = {"code": 1, "name": "InvalidMedia",
                                                    "message": media.get("fail_reason", "Unsupported video")}
        return data

    def finalize(self, req: Req) -> Resp:
        media = self.media.get(req.params["id"])
        if media is None:
            return self.error(404, "resource-not-found", "media not found")
        if media["state"] is None:
            data = b"".join(media["segments"][i] for i in sorted(media["segments"]))
            if len(data) != media["total"]:
                return self.error(400, "invalid-request", f"expected {media['total']} bytes, got {len(data)}")
            media["data"] = data
            media["state"] = "pending" if media["category"] != "subtitles" else "ready"
            if self.fail_processing and media["category"] != "subtitles":
                media["fail_reason"] = self.fail_processing.pop(0)
        return Resp(200, {"data": self._info(req.params["id"])})

    def status(self, req: Req) -> Resp:
        media_id = req.query.get("media_id", "")
        if req.query.get("command") != "STATUS" or media_id not in self.media:
            return self.error(400, "invalid-request", "command=STATUS and a known media_id are required")
        media = self.media[media_id]
        if media["state"] in ("pending", "in_progress"):
            media["polls"] += 1
            if media["polls"] > self.processing_polls:
                media["state"] = "failed" if media.get("fail_reason") else "succeeded"
            else:
                media["state"] = "in_progress"
        return Resp(200, {"data": self._info(media_id)})

    def add_subtitles(self, req: Req) -> Resp:
        body = req.json() or {}
        subs = body.get("subtitles") or {}
        if body.get("id") not in self.media or subs.get("id") not in self.media:
            return self.error(400, "invalid-request", "unknown media")
        self.subtitles[body["id"]] = subs
        return Resp(200, {"data": {"associated": True}})

    def _window_headers(self) -> dict[str, str]:
        if not self.post_window:
            return {}
        limit, window = self.post_window
        now = self.clock()
        self._post_times = [t for t in self._post_times if t > now - window]
        reset = (self._post_times[0] + window) if self._post_times else now + window
        return {"x-rate-limit-limit": str(limit), "x-rate-limit-remaining": str(max(0, limit - len(self._post_times))),
                "x-rate-limit-reset": str(int(reset) + 1)}

    def create_tweet(self, req: Req) -> Resp:
        body = req.json() or {}
        text = body.get("text") or ""
        ids = (body.get("media") or {}).get("media_ids") or []
        if self.post_window:
            headers = self._window_headers()
            if headers["x-rate-limit-remaining"] == "0":
                return Resp(429, {"errors": [{"code": 88, "message": "Rate limit exceeded"}]}, headers)
        if len(text) > 280:
            return self.error(400, "invalid-request", "text is too long")
        for media_id in ids:
            media = self.media.get(media_id)
            if media is None or media["state"] not in ("succeeded", "ready"):
                return self.error(400, "invalid-request", f"media {media_id} is not ready")
        owner = self.tokens.owner(req.bearer())
        if any(t["text"] == text and t["owner"] == owner for t in self.tweets.values()):
            return self.error(403, "forbidden", "You are not allowed to create a Tweet with duplicate content.")
        tweet_id = str(next(self._ids))
        keys = [self.media[m]["key"] for m in ids]
        self.tweets[tweet_id] = {"id": tweet_id, "text": text, "media_keys": keys, "order": len(self.tweets),
                                 "owner": owner}
        marker = marker_of(self.media[ids[0]]["data"]) if ids else None
        self.published.append({"id": tweet_id, "marker": marker, "text": text,
                               "subtitles": bool(ids and ids[0] in self.subtitles)})
        if self.post_window:
            self._post_times.append(self.clock())
        return Resp(201, {"data": {"id": tweet_id, "text": text, "edit_history_tweet_ids": [tweet_id]}},
                    self._window_headers())

    def _tweet(self, tweet: dict[str, Any], fields: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": tweet["id"], "text": tweet["text"],
                               "edit_history_tweet_ids": [tweet["id"]]}
        if tweet["media_keys"]:
            out["attachments"] = {"media_keys": tweet["media_keys"]}
        if "public_metrics" in fields:
            out["public_metrics"] = {"retweet_count": 3, "reply_count": 2, "like_count": 15, "quote_count": 1,
                                     "bookmark_count": 4, "impression_count": 900}
        if "non_public_metrics" in fields:
            out["non_public_metrics"] = {"impression_count": 900, "user_profile_clicks": 5}
        return out

    def lookup(self, req: Req) -> Resp:
        ids = [i for i in req.query.get("ids", "").split(",") if i]
        if len(ids) > 100:
            return self.error(400, "invalid-request", "at most 100 ids")
        fields = set(req.query.get("tweet.fields", "").split(","))
        media_fields = set(req.query.get("media.fields", "").split(","))
        data = [self._tweet(self.tweets[i], fields) for i in ids if i in self.tweets]
        media = []
        for tweet in data:
            for key in (tweet.get("attachments") or {}).get("media_keys", []):
                m: dict[str, Any] = {"media_key": key, "type": "video"}
                if "public_metrics" in media_fields:
                    m["public_metrics"] = {"view_count": 640}
                if "non_public_metrics" in media_fields:
                    m["non_public_metrics"] = {"playback_0_count": 700, "playback_25_count": 500,
                                               "playback_50_count": 300, "playback_75_count": 200,
                                               "playback_100_count": 120}
                media.append(m)
        out: dict[str, Any] = {"data": data} if data else {"errors": [{"title": "Not Found Error"}]}
        if media:
            out["includes"] = {"media": media}
        return Resp(200, out)

    def me(self, req: Req) -> Resp:
        owner = self.tokens.owner(req.bearer())
        return Resp(200, {"data": {"id": str(1234567890 + owner), "name": "Fake Org", "username": f"fakeorg{owner}"}})

    def timeline(self, req: Req) -> Resp:
        limit = min(100, max(5, int(req.query.get("max_results", "10"))))
        owner = int(req.params["id"]) - 1234567890
        mine = [t for t in self.tweets.values() if t["owner"] == owner]
        latest = sorted(mine, key=lambda t: -t["order"])[:limit]
        return Resp(200, {"data": [self._tweet(t, set()) for t in latest], "meta": {"result_count": len(latest)}})
