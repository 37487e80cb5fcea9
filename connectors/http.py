"""Shared HTTP behaviour of every connector: timeouts, error classification where the response arrives, retries with
jittered backoff, the platform's rate-limit waits, per-account request limits, and logs with no secret in them.

Each platform supplies only a small body classifier (`BodyClassifier`) that reads its own error shape; everything
else is decided here once:

* every call has a connect and a read timeout;
* an error is classified as RETRYABLE, RATE_LIMITED (with the wait the platform asked for: `Retry-After`,
  `x-rate-limit-reset`, Meta's `X-App-Usage` / `X-Business-Use-Case-Usage` and throttling codes), AUTH_EXPIRED,
  PERMANENT, or UNKNOWN_OUTCOME when a request that is not idempotent may have taken effect but its answer was
  lost (a dropped connection, a read timeout, a 5xx after the request was sent);
* idempotent calls are retried with full-jitter exponential backoff (tenacity); a call that is not idempotent is
  re-sent only when the platform certainly did not act on it (429, 401 before a refresh, connection refused);
* a 401 triggers one token refresh through the auth object, then the call is sent again;
* a per-account `RateLimiter` keeps calls under the platform's documented windows before the platform refuses.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import math
import os
import random
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Protocol
from urllib.parse import urlsplit

import requests
import tenacity

from connectors.base import ConnectorError, ErrorKind
from connectors.redaction import install_log_redaction, redact

log = logging.getLogger("connectors.http")
install_log_redaction()

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})

# Meta answers throttling with HTTP 400/403 and one of these codes, not with 429 (graph-api/guides/error-handling;
# 32, 613, 80001 and 80002 are seen in client code only).
META_THROTTLE_CODES = frozenset({4, 17, 32, 613, 80001, 80002, 80003, 80004, 80005, 80006, 80008, 80009, 80014})
# How long to stay away when X-App-Usage reports 100%: Meta counts app usage over a rolling hour.
META_APP_USAGE_WAIT_S = 300.0
# Above this share of Meta's usage budget Chorus pauses the account before Meta throttles it.
META_USAGE_PAUSE_PCT = 95.0


@dataclass(frozen=True)
class HttpOptions:
    """Timeouts, retry and polling policy for one connector (tests pass a fake clock and sleep to run fast)."""

    timeout_s: float = 30.0
    connect_timeout_s: float = 10.0
    max_attempts: int = 5
    backoff_s: float = 1.0
    backoff_max_s: float = 60.0
    # The longest rate-limit wait sat through in-process; a longer one goes back to the caller as RATE_LIMITED
    # so the post is tried again on a later run instead of blocking every other account.
    max_wait_s: float = 120.0
    poll_interval_s: float = 5.0
    # How long `publish` waits on the platform's processing before handing back state "processing".
    poll_budget_s: float = 300.0
    rate_window_scale: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    state_dir: Path | None = None  # where request-limit windows persist across runs

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> "HttpOptions":
        base = cls(
            timeout_s=settings.http_timeout_s,
            max_attempts=max(1, getattr(settings, "http_retries", 5)),
            backoff_s=getattr(settings, "http_backoff_s", 1.0),
            backoff_max_s=60.0 * max(getattr(settings, "http_backoff_s", 1.0), 0.0),
            poll_interval_s=getattr(settings, "poll_interval_s", 5.0),
            poll_budget_s=60.0 * max(getattr(settings, "poll_interval_s", 5.0), 0.0),
            rate_window_scale=getattr(settings, "rate_window_scale", 1.0),
            state_dir=Path(settings.home) / "limits",
        )
        return replace(base, **overrides)


class Auth(Protocol):
    """What HttpClient needs from a token manager's auth object (see connectors.tokens)."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest: ...

    def on_unauthorized(self) -> None:
        """Refresh the token after a 401; raises ConnectorError(NEEDS_RECONNECT) when that is impossible."""


# A platform's reading of its own error body: a ConnectorError, or None to fall back on the HTTP status.
BodyClassifier = Callable[[requests.Response, Any], "ConnectorError | None"]


def body_of(response: requests.Response) -> Any:
    """The response body as JSON, or None when it is empty or not JSON."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def human_wait(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, math.ceil(seconds))} s"
    if seconds < 5400:
        return f"{math.ceil(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


# --- rate-limit waits -------------------------------------------------------------------------------------------

def retry_after_s(response: requests.Response, now: float) -> float | None:
    """The wait a response asks for, from any header a platform uses for it, in seconds; None if none."""
    h = response.headers
    waits: list[float] = []
    value = h.get("Retry-After")
    if value:
        try:
            waits.append(float(value))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value)
            if parsed is not None:
                waits.append(parsed.timestamp() - now)
    reset = h.get("x-rate-limit-reset")
    if reset and (response.status_code == 429 or h.get("x-rate-limit-remaining") == "0"):
        try:
            waits.append(float(reset) - now)
        except ValueError:
            pass
    meta = meta_usage_wait_s(h)
    if meta is not None:
        waits.append(meta)
    return max(0.0, max(waits)) if waits else None


def _usage_numbers(entry: Mapping[str, Any]) -> Iterable[float]:
    for name in ("call_count", "total_cputime", "total_time"):
        try:
            yield float(entry.get(name) or 0)
        except (TypeError, ValueError):
            continue


def meta_usage_wait_s(headers: Mapping[str, str], pause_pct: float = 100.0) -> float | None:
    """The wait Meta's usage headers imply once any figure reaches `pause_pct` percent; None when under it."""
    waits: list[float] = []
    precise: list[float] = []
    app = headers.get("X-App-Usage") or headers.get("x-app-usage")
    if app:
        try:
            if max(_usage_numbers(json.loads(app)), default=0) >= pause_pct:
                waits.append(META_APP_USAGE_WAIT_S)
        except (ValueError, AttributeError):
            pass
    buc = headers.get("X-Business-Use-Case-Usage") or headers.get("x-business-use-case-usage")
    if buc:
        try:
            for entries in json.loads(buc).values():
                for entry in entries:
                    regain = float(entry.get("estimated_time_to_regain_access") or 0) * 60.0
                    if regain > 0:
                        precise.append(regain)
                    elif max(_usage_numbers(entry), default=0) >= pause_pct:
                        waits.append(META_APP_USAGE_WAIT_S)
        except (ValueError, AttributeError, TypeError):
            pass
    # Meta's own estimate of when access returns is precise; the generic app-usage pause is only a fallback.
    if precise:
        return max(precise)
    return max(waits) if waits else None


def meta_throttle_code(body: Any) -> int | None:
    """Meta's throttling code from an error body (`{"error": {"code": 4, ...}}`), or None."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = body["error"].get("code")
        if isinstance(code, int) and code in META_THROTTLE_CODES:
            return code
    return None


# --- the request limiter ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rate:
    """At most `limit` calls per sliding `window_s` seconds."""

    limit: int
    window_s: float


class RateLimiter:
    """Per-account sliding windows (named buckets) and pauses, persisted as a small JSON file when given a path.

    `acquire(bucket)` waits until a call fits the bucket's window; when the wait is longer than `max_wait_s`
    it raises RATE_LIMITED instead, so the caller moves on and tries later. Persisting matters for windows
    longer than a run (a restart must not reset "6 per minute" to zero).
    """

    def __init__(self, rates: Mapping[str, Rate], *, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, max_wait_s: float = 120.0, path: Path | None = None,
                 scale: float = 1.0, platform: str = "the platform"):
        self.rates = {k: Rate(r.limit, r.window_s * scale) for k, r in rates.items()}
        self.clock, self.sleep, self.max_wait_s, self.path, self.platform = clock, sleep, max_wait_s, path, platform
        self._lock = threading.Lock()
        self._calls: dict[str, list[float]] = {}
        self._blocked: dict[str, float] = {}
        self._load()

    def _load(self) -> None:
        if self.path and self.path.exists():
            try:
                data = json.loads(self.path.read_text())
                self._calls = {k: [float(t) for t in v] for k, v in data.get("calls", {}).items()}
                self._blocked = {k: float(v) for k, v in data.get("blocked", {}).items()}
            except (ValueError, AttributeError, TypeError):
                self._calls, self._blocked = {}, {}  # a damaged file only loses pacing history

    def _save(self) -> None:
        if not self.path:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".limits-")
        with os.fdopen(fd, "w") as f:
            json.dump({"calls": self._calls, "blocked": self._blocked}, f)
        os.replace(tmp, self.path)

    def wait_for(self, bucket: str) -> float:
        """Seconds until one more call in `bucket` is allowed (0 when now)."""
        now = self.clock()
        wait = max(self._blocked.get(bucket, 0.0), self._blocked.get("*", 0.0)) - now
        rate = self.rates.get(bucket)
        if rate:
            recent = [t for t in self._calls.get(bucket, []) if t > now - rate.window_s]
            self._calls[bucket] = recent
            if len(recent) >= rate.limit:
                wait = max(wait, recent[len(recent) - rate.limit] + rate.window_s - now)
        return max(0.0, wait)

    def acquire(self, bucket: str) -> None:
        with self._lock:
            while True:
                wait = self.wait_for(bucket)
                if wait <= 0:
                    break
                if wait > self.max_wait_s:
                    raise ConnectorError(
                        ErrorKind.RATE_LIMITED, self.platform,
                        f"this account has used its allowance of calls for now; Chorus will try again in {human_wait(wait)}",
                        reason=f"local limit on {bucket}", retry_after_s=wait)
                self.sleep(wait)
            if bucket in self.rates:
                self._calls.setdefault(bucket, []).append(self.clock())
                self._save()

    def block(self, bucket: str, seconds: float) -> None:
        """Make no call in `bucket` ("*" for all) for `seconds`, because the platform said so."""
        with self._lock:
            until = self.clock() + seconds
            if until > self._blocked.get(bucket, 0.0):
                self._blocked[bucket] = until
                self._save()


# --- the client -------------------------------------------------------------------------------------------------

_GENERIC = {
    ErrorKind.RETRYABLE: "{label} had a temporary problem (HTTP {status}); Chorus will try again",
    ErrorKind.RATE_LIMITED: "{label} asked Chorus to slow down; it will try again in {wait}",
    ErrorKind.AUTH_EXPIRED: "{label} no longer accepts the account's access token",
    ErrorKind.PERMANENT: "{label} refused the request (HTTP {status})",
    ErrorKind.UNKNOWN_OUTCOME: ("{label} failed while handling a request that may have taken effect (HTTP {status}); "
                                "Chorus will check with {label} before sending anything again"),
}


@dataclass
class HttpClient:
    """A requests.Session for one platform account, with the shared behaviour described in the module docstring."""

    platform: str
    options: HttpOptions = field(default_factory=HttpOptions)
    auth: Any = None                       # an Auth (connectors.tokens), attached to every call unless auth=False
    classify: BodyClassifier | None = None
    limiter: RateLimiter | None = None
    label: str | None = None               # how the comms officer calls the platform ("TikTok")
    meta: bool = False                     # read Meta's throttling codes and usage headers
    session: requests.Session = field(default_factory=requests.Session)
    # Counters for tests and the run summary: calls sent, retries made, refreshes after 401.
    stats: dict[str, int] = field(default_factory=lambda: {"calls": 0, "retries": 0, "refreshes": 0})

    def __post_init__(self) -> None:
        self.label = self.label or self.platform
        # A session never retries on its own: only this module decides what is safe to send twice.
        adapter = requests.adapters.HTTPAdapter(max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    # ---- public API ----

    def request(self, method: str, url: str, *, idempotent: bool | None = None, bucket: str | None = None,
                auth: bool = True, ok: Iterable[int] = (), retry: bool = True, **kwargs: Any) -> requests.Response:
        """Send one call; return the response when its status is < 400 or in `ok`, else raise ConnectorError.

        `idempotent` (default: by method) says whether sending the same call twice is harmless; `bucket` names
        the per-account limiter window the call counts against.
        """
        method = method.upper()
        idem = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        ok = frozenset(ok)
        if not retry:
            return self._send_with_refresh(method, url, idem, bucket, auth, ok, kwargs)

        def should_retry(err: BaseException) -> bool:
            if not isinstance(err, ConnectorError):
                return False
            if err.kind == ErrorKind.RATE_LIMITED:
                return (err.retry_after_s or 0) <= self.options.max_wait_s
            return err.kind == ErrorKind.RETRYABLE

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.options.max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception(should_retry),
            sleep=self.options.sleep,
            reraise=True,
            before_sleep=self._before_sleep,
        )
        for attempt in retrying:
            with attempt:
                return self._send_with_refresh(method, url, idem, bucket, auth, ok, kwargs)
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, url: str, **kw: Any) -> requests.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> requests.Response:
        return self.request("POST", url, **kw)

    def put(self, url: str, **kw: Any) -> requests.Response:
        return self.request("PUT", url, **kw)

    def json(self, method: str, url: str, **kw: Any) -> Any:
        return body_of(self.request(method, url, **kw))

    def error(self, kind: ErrorKind, message: str, *, reason: str | None = None, status: int | None = None,
              retry_after: float | None = None) -> ConnectorError:
        """A ConnectorError for this platform (connectors raise their own protocol errors through this)."""
        return ConnectorError(kind, self.label or self.platform, message, reason=reason, status=status,
                              retry_after_s=retry_after)

    # ---- internals ----

    def _wait(self, state: tenacity.RetryCallState) -> float:
        err = state.outcome.exception() if state.outcome else None
        jitter = tenacity.wait_random_exponential(multiplier=self.options.backoff_s, max=self.options.backoff_max_s)(state)
        asked = getattr(err, "retry_after_s", None) or 0.0
        # The platform's own wait comes first; jitter on top keeps many accounts from waking up together.
        return max(asked + random.uniform(0, self.options.backoff_s), jitter) if asked else jitter

    def _before_sleep(self, state: tenacity.RetryCallState) -> None:
        self.stats["retries"] += 1
        err = state.outcome.exception() if state.outcome else None
        log.info("%s: retrying after %s (attempt %d)", self.label, redact(err), state.attempt_number)

    def _send_with_refresh(self, method: str, url: str, idem: bool, bucket: str | None, use_auth: bool,
                           ok: frozenset[int], kwargs: dict[str, Any]) -> requests.Response:
        try:
            return self._send_once(method, url, idem, bucket, use_auth, ok, kwargs)
        except ConnectorError as err:
            if err.kind != ErrorKind.AUTH_EXPIRED or not use_auth or self.auth is None:
                raise
        # A 401 means the platform did not act on the call, so after a refresh it is safe to send it again.
        self.stats["refreshes"] += 1
        self.auth.on_unauthorized()
        try:
            return self._send_once(method, url, idem, bucket, use_auth, ok, kwargs)
        except ConnectorError as err:
            if err.kind == ErrorKind.AUTH_EXPIRED:
                raise self.error(
                    ErrorKind.NEEDS_RECONNECT,
                    "the account's access was refused even with a freshly refreshed token; reconnect the account "
                    "and grant the permissions Chorus asks for", reason=err.reason, status=err.status) from None
            raise

    def _send_once(self, method: str, url: str, idem: bool, bucket: str | None, use_auth: bool,
                   ok: frozenset[int], kwargs: dict[str, Any]) -> requests.Response:
        if self.limiter is not None and bucket:
            self.limiter.acquire(bucket)
        where = _path_only(url)
        self.stats["calls"] += 1
        started = time.monotonic()
        try:
            response = self.session.request(
                method, url, auth=self.auth if use_auth else None,
                timeout=(self.options.connect_timeout_s, self.options.timeout_s), **kwargs)
        except requests.RequestException as exc:
            raise self._transport_error(exc, method, where, idem) from None
        elapsed_ms = (time.monotonic() - started) * 1000
        log.debug("%s %s %s -> %s (%.0f ms)", self.label, method, where, response.status_code, elapsed_ms)
        self._observe(response, bucket)
        if response.status_code < 400 or response.status_code in ok:
            return response
        err = self.classify_response(response, idem)
        log.warning("%s %s %s -> %s: %s", self.label, method, where, response.status_code, err)
        raise err

    def _observe(self, response: requests.Response, bucket: str | None) -> None:
        """Pause the account before the platform refuses, from the rate-limit headers of any response."""
        if self.limiter is None:
            return
        h = response.headers
        if h.get("x-rate-limit-remaining") == "0" and h.get("x-rate-limit-reset"):
            try:
                self.limiter.block(bucket or "*", float(h["x-rate-limit-reset"]) - self.options.clock())
            except ValueError:
                pass
        if self.meta:
            wait = meta_usage_wait_s(h, META_USAGE_PAUSE_PCT)
            if wait:
                self.limiter.block("*", wait)

    def _transport_error(self, exc: requests.RequestException, method: str, where: str, idem: bool) -> ConnectorError:
        label = self.label
        if _never_sent(exc):
            return self.error(ErrorKind.RETRYABLE, f"could not reach {label} ({type(exc).__name__}); Chorus will try again",
                              reason=f"{method} {where}")
        if idem:
            return self.error(ErrorKind.RETRYABLE, f"the connection to {label} broke before it answered; Chorus will try again",
                              reason=f"{method} {where}: {type(exc).__name__}")
        return self.error(
            ErrorKind.UNKNOWN_OUTCOME,
            f"the connection to {label} broke before it answered, so Chorus does not know whether the request took "
            f"effect; it will check with {label} before sending anything again",
            reason=f"{method} {where}: {type(exc).__name__}")

    def classify_response(self, response: requests.Response, idempotent: bool) -> ConnectorError:
        """The ConnectorError for an error response: the platform's classifier first, then the HTTP status."""
        body = body_of(response)
        status = response.status_code
        wait = retry_after_s(response, self.options.clock())
        err = self.classify(response, body) if self.classify else None
        if err is None and self.meta and meta_throttle_code(body) is not None:
            code = meta_throttle_code(body)
            wait = wait if wait is not None else 60.0
            err = self.error(ErrorKind.RATE_LIMITED, _GENERIC[ErrorKind.RATE_LIMITED].format(
                label=self.label, status=status, wait=human_wait(wait)), reason=f"throttling code {code}")
        if err is None:
            if status == 401:
                kind = ErrorKind.AUTH_EXPIRED
            elif status == 429:
                kind = ErrorKind.RATE_LIMITED
            elif status in (408, 425) or status >= 500:
                kind = ErrorKind.RETRYABLE
            else:
                kind = ErrorKind.PERMANENT
            reason = _short_reason(response, body)
            err = self.error(kind, _GENERIC[kind].format(label=self.label, status=status,
                                                         wait=human_wait(wait or self.options.backoff_s)),
                             reason=reason)
        if err.status is None:
            err.status = status
        if err.kind == ErrorKind.RATE_LIMITED and (err.retry_after_s is None or wait is not None):
            # The wait the platform sent in its headers beats any default a classifier assumed.
            err.retry_after_s = wait if wait is not None else 60.0
            if self.limiter is not None:
                self.limiter.block("*", err.retry_after_s)
        # A server error after a request that is not idempotent was sent: it may have been carried out.
        if err.kind == ErrorKind.RETRYABLE and not idempotent and status >= 500:
            err = self.error(ErrorKind.UNKNOWN_OUTCOME,
                             _GENERIC[ErrorKind.UNKNOWN_OUTCOME].format(label=self.label, status=status, wait=""),
                             reason=err.reason, status=status)
        return err


def _path_only(url: str) -> str:
    """The URL without its query string, which may carry tokens; what log lines show."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _never_sent(exc: requests.RequestException) -> bool:
    """Whether the request certainly never reached the platform (connection refused or connect timeout)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        name = type(cur).__name__
        if name in {"NewConnectionError", "ConnectionRefusedError", "NameResolutionError"}:
            return True
        if isinstance(cur, requests.RequestException) and cur.args and isinstance(cur.args[0], BaseException):
            cur = cur.args[0]
            continue
        reason = getattr(cur, "reason", None)
        cur = reason if isinstance(reason, BaseException) else (cur.__cause__ or cur.__context__)
    return False


def _short_reason(response: requests.Response, body: Any) -> str | None:
    """The platform's own reason, briefly, from common error shapes (kept verbatim, redacted)."""
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            return str(err.get("message") or err.get("code") or err)[:300]
        if isinstance(err, str):
            return f"{err}: {body.get('error_description', '')}".strip(": ")[:300]
        for key in ("detail", "message", "title"):
            if body.get(key):
                return str(body[key])[:300]
    text = response.text.strip() if response.content else ""
    return text[:200] or response.reason or None


def utc_from_epoch(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
