"""The shared base of the fake platforms: a threaded HTTP server on 127.0.0.1 (port 0), routes, tokens with expiry
and rotation, fault injection, and counters of what was received.

A platform fake subclasses FakePlatform, declares its routes in `setup_routes` with `self.route(...)`, and
overrides the three response shapes (`error`, `unauthorized`, `rate_limited`) to match its documented errors.

Fault kinds (`Fault.kind`), injected once (`faults.next(route, kind)`) or at random (`faults.randomly(...)`):

    "5xx"           answer a server error before doing anything
    "429"           answer the platform's rate-limit response with a wait (`wait_s`)
    "drop_before"   close the connection without an answer, before doing anything
    "drop_after"    do the work (commit the post), then close the connection without an answer
    "expire_token"  expire every access token now, then handle the call (a token expiring mid-upload)

Test videos carry a marker line (`test_video_bytes`) so a fake can say which post each published video was.
"""
from __future__ import annotations

import json
import random
import re
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

MARKER_PREFIX = b"CHORUS-TEST-VIDEO:"
TOKEN_PREFIX = "SECRET"  # every fake token starts with this, so a scan can also find tokens it was not told about


def test_video_bytes(marker: str, size: int = 4096) -> bytes:
    """Bytes standing in for a video: a marker line naming the post, then filler up to `size` bytes."""
    head = MARKER_PREFIX + marker.encode() + b"\n"
    return head + bytes((i * 7) % 251 for i in range(max(0, size - len(head))))


def marker_of(data: bytes) -> str | None:
    if data.startswith(MARKER_PREFIX):
        end = data.find(b"\n")
        return data[len(MARKER_PREFIX):end].decode()
    return None


@dataclass
class Req:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # named groups of the route pattern

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def bearer(self) -> str | None:
        value = self.header("authorization") or ""
        parts = value.split(" ", 1)
        if len(parts) == 2 and parts[0].lower() in {"bearer", "oauth"}:
            return parts[1].strip()
        return self.query.get("access_token")


@dataclass
class Resp:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        self.headers.setdefault("Content-Type", "application/json")
        return json.dumps(self.body).encode()


class Drop(Exception):
    """Raised by a handler (or a fault) to close the connection without any answer."""


@dataclass(frozen=True)
class Fault:
    kind: str
    status: int = 503
    wait_s: float = 1.0


class FaultPlan:
    """One-shot faults per route, plus random faults with given probabilities (seeded, reproducible)."""

    def __init__(self, seed: int = 0):
        self.rng = random.Random(seed)
        self.queued: dict[str, list[Fault]] = {}
        self.random_rules: list[tuple[set[str] | None, set[str], float, float, float]] = []
        self.injected: Counter[str] = Counter()

    def next(self, route: str, kind: str, times: int = 1, **kw: Any) -> None:
        self.queued.setdefault(route, []).extend(Fault(kind, **kw) for _ in range(times))

    def randomly(self, *, transient: float = 0.0, lost: float = 0.0, routes: set[str] | None = None,
                 exclude: set[str] = frozenset(), wait_s: float = 0.01) -> None:
        """With probability `transient` answer 5xx or 429 (half each); with `lost` do the work and drop the answer."""
        self.random_rules.append((routes, set(exclude), transient, lost, wait_s))

    def clear(self) -> None:
        self.queued.clear()
        self.random_rules.clear()

    def pick(self, route: str) -> Fault | None:
        queue = self.queued.get(route)
        if queue:
            fault = queue.pop(0)
            self.injected[fault.kind] += 1
            return fault
        for routes, exclude, transient, lost, wait_s in self.random_rules:
            if (routes is not None and route not in routes) or route in exclude:
                continue
            r = self.rng.random()
            if r < transient:
                fault = Fault("5xx", status=self.rng.choice([500, 502, 503])) if self.rng.random() < 0.5 \
                    else Fault("429", wait_s=wait_s)
            elif r < transient + lost:
                fault = Fault("drop_after")
            else:
                continue
            self.injected[fault.kind] += 1
            return fault
        return None


class TokenBook:
    """Access tokens with expiry and refresh tokens that rotate (the old one dies when a new one is issued)."""

    def __init__(self, platform: str, *, access_ttl_s: float = 7200, rotate: bool = True,
                 clock: Callable[[], float] = time.time):
        self.platform = platform
        self.access_ttl_s = access_ttl_s
        self.rotate = rotate
        self.clock = clock
        self.access: dict[str, float] = {}
        self.refresh_tokens: set[str] = set()
        self.owners: dict[str, int] = {}  # token -> which grant (account) it descends from
        self._grants = 0
        self.issued: list[str] = []  # every token value ever handed out (for the secret scan)
        self.refused_refreshes = 0

    def _new(self, kind: str) -> str:
        token = f"{TOKEN_PREFIX}-{self.platform}-{kind}-{secrets.token_hex(12)}"
        self.issued.append(token)
        return token

    def grant(self, *, access_ttl_s: float | None = None) -> dict[str, Any]:
        """A fresh grant, as an account connected by hand would have (what a test puts in the environment)."""
        access, refresh = self._new("access"), self._new("refresh")
        self._grants += 1
        self.owners[access] = self.owners[refresh] = self._grants
        ttl = self.access_ttl_s if access_ttl_s is None else access_ttl_s
        self.access[access] = self.clock() + ttl
        self.refresh_tokens.add(refresh)
        return {"access_token": access, "refresh_token": refresh, "expires_in": ttl}

    def valid(self, token: str | None) -> bool:
        return token is not None and self.access.get(token, 0) > self.clock()

    def refresh(self, refresh_token: str | None) -> dict[str, Any] | None:
        if refresh_token not in self.refresh_tokens:
            self.refused_refreshes += 1
            return None
        access = self._new("access")
        owner = self.owners.get(refresh_token, 0)
        self.owners[access] = owner
        self.access[access] = self.clock() + self.access_ttl_s
        out: dict[str, Any] = {"access_token": access, "expires_in": self.access_ttl_s}
        if self.rotate:
            self.refresh_tokens.discard(refresh_token)
            new = self._new("refresh")
            self.owners[new] = owner
            self.refresh_tokens.add(new)
            out["refresh_token"] = new
        return out

    def owner(self, token: str | None) -> int:
        """Which grant (connected account) a token belongs to; 0 when unknown."""
        return self.owners.get(token or "", 0)

    def expire_all(self) -> None:
        now = self.clock()
        for token in self.access:
            self.access[token] = min(self.access[token], now - 1)

    def revoke_refresh(self) -> None:
        self.refresh_tokens.clear()


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Callable[..., Resp]
    name: str
    auth: bool


class FakePlatform:
    """A fake platform server. Use as a context manager, or call start() and stop()."""

    name = "fake"

    def __init__(self, *, seed: int = 0, access_ttl_s: float = 7200, rotate: bool = True,
                 clock: Callable[[], float] = time.time):
        self.routes: list[Route] = []
        self.lock = threading.RLock()
        self.received: Counter[str] = Counter()
        self.faults = FaultPlan(seed)
        self.tokens = TokenBook(self.name, access_ttl_s=access_ttl_s, rotate=rotate, clock=clock)
        self.clock = clock
        self.log: list[tuple[str, str, int]] = []  # (method, path, status) of every answer
        self.published: list[dict[str, Any]] = []  # one entry per post made live: {"id", "marker", ...}
        self.broken_connections = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.setup_routes()

    # ---- for subclasses ----

    def setup_routes(self) -> None:
        """Declare routes with self.route(method, regex, handler, name=..., auth=True)."""

    def error(self, status: int, code: str, message: str = "") -> Resp:
        return Resp(status, {"error": {"code": code, "message": message or code}})

    def unauthorized(self) -> Resp:
        return self.error(401, "access_token_invalid", "The access token is invalid or has expired")

    def rate_limited(self, wait_s: float) -> Resp:
        return Resp(429, {"error": {"code": "rate_limit_exceeded"}}, {"Retry-After": f"{wait_s:g}"})

    def server_error(self, status: int) -> Resp:
        return self.error(status, "internal_error", "temporary failure")

    # ---- routing ----

    def route(self, method: str, pattern: str, handler: Callable[..., Resp], *, name: str | None = None,
              auth: bool = True) -> None:
        self.routes.append(Route(method.upper(), re.compile(f"^{pattern}$"), handler, name or pattern, auth))

    def dispatch(self, req: Req) -> Resp:
        for route in self.routes:
            if route.method != req.method:
                continue
            m = route.pattern.match(req.path)
            if m:
                break
        else:
            return self.error(404, "not_found", f"no route for {req.method} {req.path}")
        req.params = {k: v for k, v in m.groupdict().items() if v is not None}
        with self.lock:
            self.received[route.name] += 1
            fault = self.faults.pick(route.name)
            if fault is not None:
                if fault.kind == "5xx":
                    return self.server_error(fault.status)
                if fault.kind == "429":
                    return self.rate_limited(fault.wait_s)
                if fault.kind == "drop_before":
                    raise Drop()
                if fault.kind == "expire_token":
                    self.tokens.expire_all()
            if route.auth and not self.tokens.valid(req.bearer()):
                return self.unauthorized()
            resp = route.handler(req)
            if fault is not None and fault.kind == "drop_after":
                raise Drop()
            return resp

    # ---- server ----

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakePlatform":
        platform = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Without this every request pays ~45 ms of Nagle + delayed-ACK between header and body writes.
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                req = Req(self.command, parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()},
                          {k.lower(): v for k, v in self.headers.items()}, body)
                try:
                    resp = platform.dispatch(req)
                except Drop:
                    self.close_connection = True
                    platform.log.append((req.method, req.path, 0))
                    return
                data = resp.encode()
                platform.log.append((req.method, req.path, resp.status))
                self.send_response(resp.status)
                for k, v in resp.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:  # quiet: tests read platform.log instead
                return None

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                # A client killed mid-request (the crash test) breaks the pipe: expected, and not worth a traceback.
                platform.broken_connections += 1

        self._server = Server(("127.0.0.1", 0), Handler)
        server = self._server
        # A short poll interval so a fixture's teardown does not wait up to 0.5 s for shutdown.
        self._thread = threading.Thread(target=lambda: server.serve_forever(poll_interval=0.05),
                                        name=f"fake-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakePlatform":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---- for assertions ----

    def published_markers(self) -> Counter[str]:
        """How many times each test video (by marker) was published; a subclass fills `self.published`."""
        return Counter(p.get("marker") for p in self.published)
