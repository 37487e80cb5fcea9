"""The shared HTTP client: classification where the response arrives, waits the platform asked for, retries that
are safe, and the per-account limiter."""
from __future__ import annotations

import email.utils
import json

import pytest
import requests

from connectors.base import ConnectorError, ErrorKind
from connectors.common import FakeClock
from connectors.http import HttpClient, HttpOptions, Rate, RateLimiter, meta_usage_wait_s, retry_after_s
from tests.connectors.fakes.base import FakePlatform, Resp


class Echo(FakePlatform):
    name = "echo"

    def __init__(self, **kw):
        self.next: list[Resp] = []
        super().__init__(**kw)

    def setup_routes(self) -> None:
        self.route("GET", "/read", self.answer, name="read", auth=False)
        self.route("POST", "/write", self.answer, name="write", auth=False)

    def answer(self, req):
        if self.next:
            return self.next.pop(0)
        self.published.append({"id": str(len(self.published)), "marker": req.path})
        return Resp(200, {"ok": True})


@pytest.fixture
def clock():
    return FakeClock(1_800_000_000.0)


@pytest.fixture
def echo(clock):
    with Echo(clock=clock) as e:
        yield e


def client(clock, **kw):
    return HttpClient("echo", HttpOptions(sleep=clock.sleep, clock=clock, backoff_s=0.5, **kw), label="Echo")


def _response(status: int, headers: dict[str, str], body: object = None) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r.headers.update(headers)
    r._content = json.dumps(body).encode() if body is not None else b""
    return r


def test_retry_after_reads_every_platform_header():
    now = 1_800_000_000.0
    assert retry_after_s(_response(429, {"Retry-After": "30"}), now) == 30
    date = email.utils.formatdate(now + 90, usegmt=True)
    assert 89 <= retry_after_s(_response(503, {"Retry-After": date}), now) <= 91
    assert retry_after_s(_response(429, {"x-rate-limit-reset": str(int(now) + 120), "x-rate-limit-remaining": "0"}),
                         now) == 120
    buc = json.dumps({"123": [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 7}]})
    assert retry_after_s(_response(400, {"X-Business-Use-Case-Usage": buc}), now) == 420
    assert retry_after_s(_response(200, {"X-App-Usage": '{"call_count": 20}'}), now) is None
    assert meta_usage_wait_s({"X-App-Usage": '{"call_count": 96, "total_time": 5}'}, 95) == 300


def test_idempotent_calls_retry_with_backoff_then_give_up(echo, clock):
    c = client(clock, max_attempts=3)
    echo.faults.next("read", "5xx", times=2)
    started = clock()
    assert c.json("GET", f"{echo.base_url}/read") == {"ok": True}
    assert c.stats["retries"] == 2 and clock() > started  # waited, with jitter
    echo.faults.next("read", "5xx", times=3)
    with pytest.raises(ConnectorError) as err:
        c.get(f"{echo.base_url}/read")
    assert err.value.kind == ErrorKind.RETRYABLE and "temporary problem" in err.value.message


def test_a_lost_answer_to_a_write_is_an_unknown_outcome_never_retried(echo, clock):
    c = client(clock)
    echo.faults.next("write", "drop_after")
    with pytest.raises(ConnectorError) as err:
        c.post(f"{echo.base_url}/write")
    assert err.value.kind == ErrorKind.UNKNOWN_OUTCOME
    assert echo.received["write"] == 1 and len(echo.published) == 1  # it did happen, once
    echo.faults.next("write", "5xx")
    with pytest.raises(ConnectorError) as err:
        c.post(f"{echo.base_url}/write")
    assert err.value.kind == ErrorKind.UNKNOWN_OUTCOME and echo.received["write"] == 2


def test_a_429_on_a_write_waits_and_is_sent_again(echo, clock):
    c = client(clock)
    echo.next.append(Resp(429, {"error": "slow down"}, {"Retry-After": "45"}))
    started = clock()
    assert c.json("POST", f"{echo.base_url}/write") == {"ok": True}
    assert clock() - started >= 45 and len(echo.published) == 1


def test_a_long_wait_goes_back_to_the_caller(echo, clock):
    c = client(clock, max_wait_s=60)
    echo.next.append(Resp(429, {}, {"Retry-After": "3600"}))
    with pytest.raises(ConnectorError) as err:
        c.get(f"{echo.base_url}/read")
    assert err.value.kind == ErrorKind.RATE_LIMITED and err.value.retry_after_s == 3600
    assert "1 h" in err.value.message or "60 min" in err.value.message


def test_connection_refused_is_retryable_even_for_a_write(clock):
    c = client(clock, max_attempts=1)
    with pytest.raises(ConnectorError) as err:
        c.post("http://127.0.0.1:9/write")  # nothing listens on the discard port
    assert err.value.kind == ErrorKind.RETRYABLE


def test_platform_classifier_comes_first_and_meta_throttle_codes_are_rate_limits(echo, clock):
    def classify(response, body):
        if body and body.get("code") == "banned":
            return ConnectorError(ErrorKind.PERMANENT, "Echo", "the account is banned", reason="banned")
        return None

    c = HttpClient("echo", HttpOptions(sleep=clock.sleep, clock=clock, max_attempts=1), classify=classify, meta=True)
    echo.next.append(Resp(400, {"code": "banned"}))
    with pytest.raises(ConnectorError) as err:
        c.get(f"{echo.base_url}/read")
    assert err.value.kind == ErrorKind.PERMANENT and err.value.reason == "banned" and err.value.status == 400
    echo.next.append(Resp(400, {"error": {"code": 17, "message": "User request limit reached"}}))
    with pytest.raises(ConnectorError) as err:
        c.get(f"{echo.base_url}/read")
    assert err.value.kind == ErrorKind.RATE_LIMITED and err.value.retry_after_s == 60


def test_limiter_waits_inside_the_window_and_persists(tmp_path, clock):
    path = tmp_path / "limits.json"
    limiter = RateLimiter({"init": Rate(2, 60)}, clock=clock, sleep=clock.sleep, max_wait_s=120, path=path)
    start = clock()
    for _ in range(3):
        limiter.acquire("init")
    assert clock() - start == pytest.approx(60)
    again = RateLimiter({"init": Rate(2, 60)}, clock=clock, sleep=clock.sleep, max_wait_s=10, path=path)
    again.acquire("init")
    with pytest.raises(ConnectorError) as err:
        again.acquire("init")  # a restart does not forget the call made just before it
    assert err.value.kind == ErrorKind.RATE_LIMITED
    limiter.block("*", 30)
    assert limiter.wait_for("other") == pytest.approx(30)
