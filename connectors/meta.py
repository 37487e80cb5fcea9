"""Meta Graph API behaviour shared by Instagram and Facebook: error classification, usage headers, rupload uploads.

Written once here and plugged into the shared HTTP client (connectors/http.py) by the Instagram and Facebook
connectors. References: developers.facebook.com/docs/graph-api/guides/error-handling and .../overview/rate-limiting.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from connectors.base import ConnectorError, ErrorKind, MetricReading

# Graph error codes (shared/platform-contracts.md, "Meta errors and rate limits").
TRANSIENT_CODES = {1, 2}
# Meta throttles with HTTP 400/403 and these codes rather than 429.
THROTTLE_CODES = {4, 17, 32, 613, 80001, 80002}
APP_LIMIT_CODE = 341
TOKEN_CODES = {190, 102}
POLICY_BLOCK_CODE = 368
DUPLICATE_POST_CODE = 506
# 190 subcodes where refreshing cannot help: the app was removed, the user changed their password or the session
# was invalidated for security; a person must log in again.
RECONNECT_SUBCODES = {458, 459, 460, 464}

# Instagram publishing subcodes (public client code; not all in Meta's reference).
IG_DAILY_CAP = 2207042
IG_RETRYABLE_SUBCODES = {2207082, 2207003, 2207077, 2207027}
IG_SUBCODE_WORDS = {
    2207026: "Instagram does not accept this video format (MP4/MOV, H.264 or HEVC, AAC audio, 23-60 fps)",
    2207001: "Instagram flagged the post as spam",
    2207050: "the Instagram account is restricted and cannot publish right now; open the Instagram app to resolve it",
    2207003: "Instagram could not download the video",
    2207077: "Instagram could not download the video",
    2207082: "Instagram asked to try the upload again",
    2207027: "Instagram has not finished processing the video yet",
    IG_DAILY_CAP: "the Instagram account reached its daily limit of API posts",
}

# The per-account limiter bucket every Graph and rupload call counts against: when Meta's usage headers pass 95 %
# (or a throttle answer names a wait) the shared client pauses the whole account through it.
GRAPH_BUCKET = "graph"

# When Meta says "wait" without saying how long. The app-level window is a rolling hour.
DEFAULT_THROTTLE_WAIT_S = 300.0
DEFAULT_APP_LIMIT_WAIT_S = 900.0
DAILY_CAP_WAIT_S = 3600.0


class MetaError(ConnectorError):
    """A Graph API error, keeping Meta's numeric code and subcode so connectors can act on 506 or 2207042."""

    def __init__(self, kind: ErrorKind, platform: str, message: str, *, code: int | None = None,
                 subcode: int | None = None, **kwargs: Any):
        super().__init__(kind, platform, message, **kwargs)
        self.code = code
        self.subcode = subcode

    @property
    def duplicate(self) -> bool:
        return self.code == DUPLICATE_POST_CODE

    def __reduce__(self):  # picklable with its code and subcode (Prefect moves exceptions between processes)
        return (_rebuild, (self.kind, self.platform, self.message, self.reason, self.retry_after_s, self.status,
                           self.code, self.subcode))


def _rebuild(kind, platform, message, reason, retry_after_s, status, code, subcode) -> "MetaError":
    return MetaError(kind, platform, message, reason=reason, retry_after_s=retry_after_s, status=status, code=code,
                     subcode=subcode)


def _json(body: Any) -> Any:
    if isinstance(body, (bytes, bytearray)):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if isinstance(body, str):
        try:
            return json.loads(body)
        except ValueError:
            return None
    return body


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def usage_wait_s(headers: Mapping[str, str] | None) -> float | None:
    """The wait Meta's usage headers ask for: estimated_time_to_regain_access (minutes) from X-Business-Use-Case-Usage,
    or a default when X-App-Usage shows a budget at 100 %. None when the headers ask for no wait."""
    waits: list[float] = []
    buc = _json(_header(headers, "X-Business-Use-Case-Usage"))
    if isinstance(buc, dict):
        for entries in buc.values():
            for entry in entries if isinstance(entries, list) else [entries]:
                if isinstance(entry, dict):
                    minutes = entry.get("estimated_time_to_regain_access")
                    if isinstance(minutes, (int, float)) and minutes > 0:
                        waits.append(float(minutes) * 60.0)
    if waits:
        return max(waits)
    if usage_pct(headers) >= 100.0:
        return DEFAULT_THROTTLE_WAIT_S
    return None


def usage_pct(headers: Mapping[str, str] | None) -> float:
    """The highest share (percent) of any hourly budget used, over X-App-Usage and X-Business-Use-Case-Usage."""
    best = 0.0
    app = _json(_header(headers, "X-App-Usage"))
    candidates: list[dict] = [app] if isinstance(app, dict) else []
    buc = _json(_header(headers, "X-Business-Use-Case-Usage"))
    if isinstance(buc, dict):
        for entries in buc.values():
            candidates.extend(e for e in (entries if isinstance(entries, list) else [entries]) if isinstance(e, dict))
    for entry in candidates:
        for key in ("call_count", "total_cputime", "total_time"):
            value = entry.get(key)
            if isinstance(value, (int, float)):
                best = max(best, float(value))
    return best


def classify(platform: str, status: int, body: Any, headers: Mapping[str, str] | None = None) -> MetaError | None:
    """The classified error for a Graph (or rupload) response, or None when the response is a success.

    Classification is by Meta's code first (throttling arrives as 400/403, never 429), then by HTTP status.
    The message is in plain words; Meta's own title/message is kept as the reason.
    """
    data = _json(body)
    err = data.get("error") if isinstance(data, dict) else None
    debug = data.get("debug_info") if isinstance(data, dict) else None
    if status < 400 and not isinstance(err, dict) and not (isinstance(debug, dict) and data.get("success") is not True):
        return None
    if isinstance(debug, dict) and not isinstance(err, dict):
        # rupload failure shape: {"debug_info":{"retriable":bool,"type":..,"message":..}}
        reason = f"{debug.get('type', 'upload error')}: {debug.get('message', '')}".strip(": ")
        if debug.get("retriable") or status >= 500:
            return MetaError(ErrorKind.RETRYABLE, platform, "the video upload was interrupted; it will be resumed",
                             reason=reason, status=status)
        return MetaError(ErrorKind.PERMANENT, platform, "Meta could not process the uploaded video",
                         reason=reason, status=status)
    if not isinstance(err, dict):
        return _by_status(platform, status, headers, None)

    code = _int(err.get("code"))
    subcode = _int(err.get("error_subcode"))
    user_title = err.get("error_user_title")
    user_msg = err.get("error_user_msg")
    reason_parts = [p for p in (user_title, user_msg or err.get("message")) if p]
    reason = " — ".join(str(p) for p in reason_parts) or None
    if code is not None:
        reason = f"{reason or 'error'} [code {code}" + (f", subcode {subcode}" if subcode else "") + "]"
    fields = dict(code=code, subcode=subcode, reason=reason, status=status)

    if subcode == IG_DAILY_CAP:
        return MetaError(ErrorKind.RATE_LIMITED, platform, IG_SUBCODE_WORDS[IG_DAILY_CAP] + "; the post waits until "
                         "the rolling 24-hour window frees a slot", retry_after_s=DAILY_CAP_WAIT_S, **fields)
    if code in THROTTLE_CODES:
        return MetaError(ErrorKind.RATE_LIMITED, platform,
                         "Meta is limiting how many requests Chorus may make for this account; Chorus waits and tries again",
                         retry_after_s=usage_wait_s(headers) or DEFAULT_THROTTLE_WAIT_S, **fields)
    if code == APP_LIMIT_CODE:
        return MetaError(ErrorKind.RATE_LIMITED, platform, "Meta's limit for the Chorus app was reached; Chorus waits "
                         "and tries again", retry_after_s=usage_wait_s(headers) or DEFAULT_APP_LIMIT_WAIT_S, **fields)
    if code in TOKEN_CODES:
        if subcode in RECONNECT_SUBCODES:
            return MetaError(ErrorKind.NEEDS_RECONNECT, platform, "the account's login is no longer valid (the app "
                             "was removed or the password changed); reconnect the account", **fields)
        return MetaError(ErrorKind.AUTH_EXPIRED, platform, "the account's access token expired", **fields)
    if code == 10 or (code is not None and 200 <= code <= 299):
        return MetaError(ErrorKind.NEEDS_RECONNECT, platform, "the account has not given Chorus the permission this "
                         "needs; reconnect it and grant the permissions listed in the README", **fields)
    if code == POLICY_BLOCK_CODE:
        return MetaError(ErrorKind.PERMANENT, platform, "Meta blocked this post under its policies", **fields)
    if code == DUPLICATE_POST_CODE:
        return MetaError(ErrorKind.PERMANENT, platform, "Meta says this post was already made (duplicate post)", **fields)
    if subcode in IG_RETRYABLE_SUBCODES:
        return MetaError(ErrorKind.RETRYABLE, platform, IG_SUBCODE_WORDS[subcode], **fields)
    if subcode in IG_SUBCODE_WORDS:
        return MetaError(ErrorKind.PERMANENT, platform, IG_SUBCODE_WORDS[subcode], **fields)
    if code in TRANSIENT_CODES or err.get("is_transient") is True:
        return MetaError(ErrorKind.RETRYABLE, platform, "Meta had a temporary problem; Chorus tries again", **fields)
    by_status = _by_status(platform, status, headers, reason)
    if by_status is not None and by_status.kind is not ErrorKind.PERMANENT:
        by_status.code, by_status.subcode = code, subcode
        return by_status
    return MetaError(ErrorKind.PERMANENT, platform, "Meta refused the request", **fields)


def _by_status(platform: str, status: int, headers: Mapping[str, str] | None, reason: str | None) -> MetaError | None:
    if status < 400:
        return None
    if status == 429:
        return MetaError(ErrorKind.RATE_LIMITED, platform, "Meta is limiting requests; Chorus waits and tries again",
                         retry_after_s=usage_wait_s(headers) or DEFAULT_THROTTLE_WAIT_S, reason=reason, status=status)
    if status == 401:
        return MetaError(ErrorKind.AUTH_EXPIRED, platform, "the account's access token was refused", reason=reason,
                         status=status)
    if status >= 500 or status in (408,):
        return MetaError(ErrorKind.RETRYABLE, platform, "Meta had a temporary problem; Chorus tries again",
                         reason=reason or f"HTTP {status}", status=status)
    return MetaError(ErrorKind.PERMANENT, platform, "Meta refused the request", reason=reason or f"HTTP {status}",
                     status=status)


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def parse_insights(post_id: str, body: dict[str, Any]) -> list[MetricReading]:
    """Readings from a Graph insights body; a metric with no value (empty `values`) is left out, never zeroed."""
    out = []
    for item in body.get("data") or []:
        name = item.get("name")
        value = None
        if item.get("values"):
            value = item["values"][-1].get("value")
        elif isinstance(item.get("total_value"), dict):
            value = item["total_value"].get("value")
        if name is None or value is None:
            continue
        if isinstance(value, dict):
            # An object (reactions by type, {COMMENT, SHARE}): its total, and each key as `name.KEY` so the
            # canonical mapping can send comments and shares to their own metrics.
            total = sum(v for v in value.values() if isinstance(v, (int, float)))
            out.append(MetricReading(post_id, name, float(total), {"breakdown": value}))
            out.extend(MetricReading(post_id, f"{name}.{key}", float(v)) for key, v in value.items()
                       if isinstance(v, (int, float)))
        elif isinstance(value, (int, float)):
            out.append(MetricReading(post_id, name, float(value)))
    return out


def rupload(http: Any, url: str, path: Path, *, offset: int) -> dict[str, Any]:
    """Send a file to rupload.facebook.com from `offset` (headers `offset` and `file_size`, binary body).

    Authorization is `OAuth <token>` here, not Bearer; the shared client adds it. Success is {"success": true};
    a failure body {"debug_info": {...}} is classified by `classify`.
    """
    size = path.stat().st_size
    with path.open("rb") as fh:
        fh.seek(offset)
        data = fh.read()
    headers = {"offset": str(offset), "file_size": str(size), "Content-Type": "application/octet-stream"}
    return http.json("POST", url, headers=headers, data=data, idempotent=True, bucket=GRAPH_BUCKET) or {}
