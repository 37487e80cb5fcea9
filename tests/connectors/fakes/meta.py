"""What the fake Instagram and the fake Facebook share, as Meta's Graph API does (shared/platform-contracts.md,
"Meta errors and rate limits"): the error shape, throttling as HTTP 400 with codes 4/17/32/613 and the usage
headers, token errors as code 190, and rupload.facebook.com's resumable upload (`offset` / `file_size` headers)."""
from __future__ import annotations

import itertools
import json
import secrets
from typing import Any

from tests.connectors.fakes.base import FakePlatform, Req, Resp

# Graph paths may carry the API version (graph.facebook.com/v21.0/...) or not (a base URL that already has it).
V = r"(?:/v\d+\.\d+)?"


class FakeMeta(FakePlatform):
    """A Graph API host plus its rupload host, on one local server."""

    version = "v21.0"

    def __init__(self, *, throttle_code: int = 17, app_usage_pct: int = 10, **kw: Any):
        # 4 app, 17 user, 32 page, 613 custom. An app-level throttle (4) also shows X-App-Usage at 100 %, which
        # means "stay away for a while"; the others carry the exact wait in X-Business-Use-Case-Usage.
        self.throttle_code = throttle_code
        self.app_usage_pct = app_usage_pct  # the X-App-Usage figure every answer carries
        self._ids = itertools.count(17_900_000_000_000_001)
        super().__init__(**kw)

    def new_id(self) -> str:
        return str(next(self._ids))

    # ---- Meta's shapes ----

    def meta_error(self, status: int, code: int, message: str, *, subcode: int | None = None,
                   type_: str = "OAuthException", user_title: str | None = None, user_msg: str | None = None,
                   transient: bool | None = None, headers: dict[str, str] | None = None) -> Resp:
        err: dict[str, Any] = {"message": message, "type": type_, "code": code,
                               "fbtrace_id": "A" + secrets.token_hex(10)}
        if subcode is not None:
            err["error_subcode"] = subcode
        if user_title:
            err["error_user_title"] = user_title
        if user_msg:
            err["error_user_msg"] = user_msg
        if transient is not None:
            err["is_transient"] = transient
        return Resp(status, {"error": err}, dict(headers or {}))

    def error(self, status: int, code: str, message: str = "") -> Resp:
        # The base's generic errors (e.g. no route) in Meta's shape: code 100 is "invalid parameter".
        return self.meta_error(status, 100, f"(#100) {message or code}", type_="GraphMethodException")

    def unauthorized(self) -> Resp:
        # Graph answers an expired token with HTTP 400 and code 190 / subcode 463 (not 401).
        return self.meta_error(400, 190, "Error validating access token: Session has expired.", subcode=463)

    def rate_limited(self, wait_s: float) -> Resp:
        # Throttling is HTTP 400 with a throttling code; the wait is in the business-use-case header, in minutes.
        buc = {"1234567890": [{"type": "pages", "call_count": 100, "total_cputime": 40, "total_time": 60,
                               "estimated_time_to_regain_access": wait_s / 60.0}]}
        app = {"call_count": 100 if self.throttle_code == 4 else self.app_usage_pct, "total_cputime": 30,
               "total_time": 40}
        text = {4: "Application request limit reached", 17: "User request limit reached",
                32: "Page request limit reached", 613: "Calls to this api have exceeded the rate limit."}
        return self.meta_error(400, self.throttle_code, f"(#{self.throttle_code}) "
                               f"{text.get(self.throttle_code, 'Request limit reached')}", transient=True,
                               headers={"X-Business-Use-Case-Usage": json.dumps(buc), "X-App-Usage": json.dumps(app)})

    def server_error(self, status: int) -> Resp:
        return self.meta_error(status, 2, "An unexpected error has occurred. Please retry your request later.",
                               transient=True)

    def dispatch(self, req: Req) -> Resp:
        resp = super().dispatch(req)
        resp.headers.setdefault("X-App-Usage", json.dumps({"call_count": self.app_usage_pct, "total_cputime": 1,
                                                           "total_time": 1}))
        return resp

    # ---- helpers for handlers ----

    @staticmethod
    def params(req: Req) -> dict[str, str]:
        """Graph takes parameters in the query string or a form body, alike."""
        out = dict(req.query)
        ctype = req.header("content-type", "") or ""
        if req.body and "application/x-www-form-urlencoded" in ctype:
            out.update(req.form())
        return out

    def receive_upload(self, req: Req, store: dict[str, Any]) -> Resp:
        """rupload: bytes from `offset` to the end, announced by `file_size`; a resend from an earlier offset
        overwrites (so resuming is safe); an offset past what was received is refused."""
        try:
            offset = int(req.header("offset", "0") or 0)
            size = int(req.header("file_size", "") or "")
        except ValueError:
            return Resp(400, {"debug_info": {"retriable": False, "type": "BadRequest",
                                             "message": "offset and file_size headers are required"}})
        data: bytearray = store.setdefault("data", bytearray())
        if offset > len(data):
            return Resp(400, {"debug_info": {"retriable": False, "type": "OffsetInvalidError",
                                             "message": f"offset {offset} is past the {len(data)} bytes received"}})
        del data[offset:]
        data.extend(req.body)
        store["file_size"] = size
        if len(data) > size:
            return Resp(400, {"debug_info": {"retriable": False, "type": "ProcessingFailedError",
                                             "message": "more bytes than file_size"}})
        store["upload_complete"] = len(data) == size
        return Resp(200, {"success": True, "message": "Upload successful."})
