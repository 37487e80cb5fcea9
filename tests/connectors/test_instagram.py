"""Instagram Reels connector against the fake Instagram: happy path, publishing limit, and every injected fault."""
from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest

from connectors.base import ConnectorError, ErrorKind
from connectors.common import FakeClock
from tests.connectors.fakes.harness import Refs, Secrets, account, connect, content
from tests.connectors.fakes.instagram import FakeInstagram
from tests.secret_scan import assert_no_secrets

BASES = ("instagram", "instagram_login", "rupload")


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def fake(clock):
    with FakeInstagram(clock=clock) as f:
        yield f


@pytest.fixture
def acct():
    return account("instagram", handle="@vozjoven")


def ig(fake, acct, clock, tmp_path, **kw):
    secrets = kw.pop("secrets", None) or Secrets()
    if acct.credentials not in secrets.data:
        secrets.add(acct.credentials, fake.tokens.grant(), clock, user_id=fake.ig_user_id)
    return connect(fake, acct, clock, tmp_path, secrets=secrets, base_names=BASES, **kw)


def test_happy_path_container_upload_publish_and_insights(fake, acct, clock, tmp_path):
    conn = ig(fake, acct, clock, tmp_path)
    refs = Refs()
    post = content(acct, tmp_path, "ig1")
    result = conn.publish(post, {}, refs)
    assert result.state == "published" and result.platform_post_id
    assert result.url.startswith("https://www.instagram.com/reel/")
    assert fake.published_markers() == {"ig1": 1}
    assert fake.published[0]["caption"] == post.text
    # The container is saved before a byte is sent, the upload mark before the publish call.
    assert refs.saved[0].keys() == {"container_id", "upload"}
    assert fake.received["content_publishing_limit"] >= 1
    readings = {r.raw_name: r.value for r in conn.fetch_metrics([(result.platform_post_id, None)])}
    assert readings["views"] == 1500 and readings["saved"] == 5 and readings["ig_reels_avg_watch_time"] == 6400


@pytest.fixture
def served(tmp_path):
    """A loopback HTTP server for tmp_path, standing in for a presigned S3 link."""
    import threading
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(tmp_path)))
    threading.Thread(target=lambda: server.serve_forever(poll_interval=0.05), daemon=True).start()
    yield lambda post: replace(post, video_url=f"http://127.0.0.1:{server.server_address[1]}/"
                                                f"{post.video_path.name}?X-Amz-Signature=abc")
    server.shutdown()
    server.server_close()


def test_video_url_from_a_presigned_link_skips_the_upload(fake, acct, clock, tmp_path, served):
    post = served(content(acct, tmp_path, "ig-url"))
    result = ig(fake, acct, clock, tmp_path).publish(post, {}, Refs())
    assert result.state == "published"
    assert fake.received["rupload"] == 0
    assert fake.published_markers() == {"ig-url": 1}


def test_missing_insight_is_left_out_not_zero(fake, acct, clock, tmp_path):
    conn = ig(fake, acct, clock, tmp_path)
    result = conn.publish(content(acct, tmp_path, "ig2"), {}, Refs())
    fake.insights[result.platform_post_id] = {"views": 3}
    readings = {r.raw_name: r.value for r in conn.fetch_metrics([(result.platform_post_id, None)])}
    assert readings == {"views": 3.0}


def test_publishing_limit_is_checked_before_uploading(fake, acct, clock, tmp_path):
    fake.quota_total = 1
    conn = ig(fake, acct, clock, tmp_path)
    conn.publish(content(acct, tmp_path, "ig3"), {}, Refs())
    with pytest.raises(ConnectorError) as err:
        conn.publish(content(acct, tmp_path, "ig4"), {}, Refs())
    assert err.value.kind is ErrorKind.RATE_LIMITED and "24 hours" in err.value.message
    assert fake.received["create_container"] == 1  # no container made for a post that cannot go out


def test_daily_cap_refusal_at_media_publish_is_rate_limited(fake, acct, clock, tmp_path):
    secrets = Secrets()
    conn = ig(fake, acct, clock, tmp_path, secrets=secrets)
    refs = Refs()
    post = content(acct, tmp_path, "ig5")
    fake.quota_total = 1
    # Another app used the account's slot between the check and the publish.
    fake.publish_times[secrets.data[acct.credentials]["access_token"]] = [clock() - 86000]
    conn.check_publishing_limit = lambda: None
    with pytest.raises(ConnectorError) as err:
        conn.publish(post, {}, refs)
    assert err.value.kind is ErrorKind.RATE_LIMITED and "2207042" in err.value.reason
    clock.sleep(500)  # the slot frees; the container (valid 24 h) is still there
    result = conn.publish(post, refs.last, refs)
    assert result.state == "published" and fake.received["create_container"] == 1


def test_server_errors_and_throttling_are_retried_with_the_asked_wait(fake, acct, clock, tmp_path):
    conn = ig(fake, acct, clock, tmp_path)
    fake.faults.next("rupload", "5xx", times=2)
    fake.faults.next("content_publishing_limit", "429", wait_s=90)  # Meta: HTTP 400, code 17 + BUC header
    started = clock()
    result = conn.publish(content(acct, tmp_path, "ig6"), {}, Refs())
    assert result.state == "published" and fake.published_markers() == {"ig6": 1}
    assert fake.received["rupload"] == 3 and fake.received["create_container"] == 1
    assert clock() - started >= 90


def test_a_long_throttle_goes_back_to_the_caller_with_its_wait(fake, acct, clock, tmp_path):
    conn = ig(fake, acct, clock, tmp_path)
    fake.faults.next("content_publishing_limit", "429", wait_s=3600)
    with pytest.raises(ConnectorError) as err:
        conn.publish(content(acct, tmp_path, "ig7"), {}, Refs())
    assert err.value.kind is ErrorKind.RATE_LIMITED and err.value.retry_after_s >= 3600


def test_lost_media_publish_answer_is_settled_by_the_container_status(fake, acct, clock, tmp_path):
    conn = ig(fake, acct, clock, tmp_path)
    fake.faults.next("media_publish", "drop_after")
    result = conn.publish(content(acct, tmp_path, "ig8"), {}, Refs())
    assert result.state == "published" and result.platform_post_id == fake.published[0]["id"]
    assert fake.received["media_publish"] == 1 and fake.duplicate_publishes == 0


def test_server_error_on_media_publish_checks_before_trying_again(fake, acct, clock, tmp_path):
    conn = ig(fake, acct, clock, tmp_path)
    refs = Refs()
    post = content(acct, tmp_path, "ig9")
    fake.faults.next("media_publish", "5xx")
    with pytest.raises(ConnectorError) as err:
        conn.publish(post, {}, refs)
    assert err.value.kind is ErrorKind.RETRYABLE  # checked: not published, and a container posts only once
    result = conn.publish(post, refs.last, refs)
    assert result.state == "published" and fake.published_markers() == {"ig9": 1}
    assert fake.received["create_container"] == 1


def test_crash_after_publish_is_reconciled_without_sending_again(fake, acct, clock, tmp_path):
    conn = ig(fake, acct, clock, tmp_path)
    refs = Refs()
    post = content(acct, tmp_path, "ig10")
    conn.publish(post, {}, refs)
    interrupted = {k: v for k, v in refs.last.items() if k not in ("media_id", "permalink")}  # answer never saved
    found = conn.reconcile(post, interrupted)
    assert found is not None and found.platform_post_id == fake.published[0]["id"]
    again = conn.publish(post, interrupted, Refs())
    assert again.platform_post_id == found.platform_post_id
    assert fake.received["media_publish"] == 1 and fake.published_markers() == {"ig10": 1}


def test_lost_container_answer_reconciles_to_nothing(fake, acct, clock, tmp_path):
    conn = ig(fake, acct, clock, tmp_path)
    refs = Refs()
    post = content(acct, tmp_path, "ig11")
    fake.faults.next("create_container", "drop_after")
    with pytest.raises(ConnectorError) as err:
        conn.publish(post, {}, refs)
    assert err.value.kind is ErrorKind.UNKNOWN_OUTCOME
    assert conn.reconcile(post, refs.last) is None  # an unpublished container is never live
    assert conn.publish(post, refs.last, refs).state == "published"
    assert fake.published_markers() == {"ig11": 1}


def test_interrupted_upload_resumes_on_the_same_container(fake, acct, clock, tmp_path):
    conn = ig(fake, acct, clock, tmp_path)
    refs = Refs()
    post = content(acct, tmp_path, "ig12")
    fake.faults.next("rupload", "drop_before", times=5)  # more than the client's retries
    with pytest.raises(ConnectorError):
        conn.publish(post, {}, refs)
    assert refs.last.get("container_id") and not refs.last.get("uploaded")
    assert conn.reconcile(post, refs.last).state == "processing"  # accepted: to be resumed, not restarted
    result = conn.publish(post, refs.last, refs)
    assert result.state == "published" and fake.received["create_container"] == 1


def test_processing_error_is_permanent_with_instagrams_reason(fake, acct, clock, tmp_path):
    fake.fail_processing.append("Error: Unsupported video format (2207026)")
    with pytest.raises(ConnectorError) as err:
        ig(fake, acct, clock, tmp_path).publish(content(acct, tmp_path, "ig13"), {}, Refs())
    assert err.value.kind is ErrorKind.PERMANENT and "2207026" in err.value.reason
    assert not fake.published


def test_expired_container_is_replaced(fake, acct, clock, tmp_path):
    conn = ig(fake, acct, clock, tmp_path)
    refs = Refs()
    post = content(acct, tmp_path, "ig14")
    fake.faults.next("media_publish", "drop_before")
    with pytest.raises(ConnectorError):
        conn.publish(post, {}, refs)
    clock.sleep(86400 * 2)  # nobody came back for two days: Instagram expires the container
    result = conn.publish(post, refs.last, refs)
    assert result.state == "published" and fake.received["create_container"] == 2
    assert fake.published_markers() == {"ig14": 1}


def test_token_expiring_mid_upload_holds_the_account_then_resumes_after_reconnect(fake, acct, clock, tmp_path):
    secrets = Secrets()
    conn = ig(fake, acct, clock, tmp_path, secrets=secrets)
    refs = Refs()
    post = content(acct, tmp_path, "ig15")
    fake.faults.next("rupload", "expire_token")
    with pytest.raises(ConnectorError) as err:
        conn.publish(post, {}, refs)
    # An expired Instagram token cannot be refreshed: a person reconnects, and the posts wait.
    assert err.value.kind is ErrorKind.NEEDS_RECONNECT
    secrets.add(acct.credentials, fake.tokens.grant(), clock, user_id=fake.ig_user_id)
    result = ig(fake, acct, clock, tmp_path, secrets=secrets).publish(post, refs.last, refs)
    assert result.state == "published" and fake.received["create_container"] == 1


def test_instagram_login_token_close_to_expiry_is_refreshed_before_use(fake, acct, clock, tmp_path, served):
    secrets = Secrets()
    grant = fake.tokens.grant(access_ttl_s=3 * 86400)  # inside the 7-day refresh window
    secrets.add(acct.credentials, grant, clock, user_id=fake.ig_user_id, login="instagram")
    conn = ig(fake, acct, clock, tmp_path, secrets=secrets)
    assert conn.publish(served(content(acct, tmp_path, "ig16")), {}, Refs()).state == "published"
    assert fake.received["refresh"] == 1
    assert conn.tokens.tokens().access_token != grant["access_token"]


def test_instagram_login_cannot_upload_a_file_and_says_what_to_do(fake, acct, clock, tmp_path):
    secrets = Secrets()
    secrets.add(acct.credentials, fake.tokens.grant(), clock, user_id=fake.ig_user_id, login="instagram")
    with pytest.raises(ConnectorError) as err:
        ig(fake, acct, clock, tmp_path, secrets=secrets).publish(content(acct, tmp_path, "ig19"), {}, Refs())
    assert err.value.kind is ErrorKind.NEEDS_RECONNECT and "S3" in err.value.message
    assert fake.received["create_container"] == 0


def test_facebook_login_token_is_never_refreshed_early(fake, acct, clock, tmp_path):
    secrets = Secrets()
    secrets.add(acct.credentials, fake.tokens.grant(access_ttl_s=3 * 86400), clock, user_id=fake.ig_user_id)
    assert ig(fake, acct, clock, tmp_path, secrets=secrets).publish(content(acct, tmp_path, "ig20"), {}, Refs())
    assert fake.received["refresh"] == 0


def test_no_token_in_logs_errors_or_refs(fake, acct, clock, tmp_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    secrets = Secrets()
    conn = ig(fake, acct, clock, tmp_path, secrets=secrets)
    refs = Refs()
    errors = []
    fake.faults.next("rupload", "5xx")
    fake.faults.next("media_publish", "drop_after")
    conn.publish(content(acct, tmp_path, "ig17"), {}, refs)
    fake.faults.next("node", "expire_token")
    try:
        conn.publish(content(acct, tmp_path, "ig18"), {}, refs)
    except ConnectorError as exc:
        errors.append(f"{exc} {exc.reason} {exc!r}")
    out = capsys.readouterr()
    haystack = caplog.text + json.dumps(refs.saved) + " ".join(errors) + out.out + out.err
    assert errors and fake.tokens.issued
    assert_no_secrets(fake.tokens.issued, haystack, "logs, saved handles, errors or output")


def test_account_check_reports_the_quota_and_a_bad_token(fake, acct, clock, tmp_path):
    secrets = Secrets()
    ok = ig(fake, acct, clock, tmp_path, secrets=secrets).check()
    assert ok.ok and "fake_reels_account" in ok.message and "0 of 50" in ok.message
    fake.tokens.expire_all()
    bad = ig(fake, acct, clock, tmp_path, secrets=secrets).check()
    assert not bad.ok and bad.kind is ErrorKind.NEEDS_RECONNECT


def test_random_faults_still_publish_each_post_exactly_once(clock, acct, tmp_path):
    from tests.connectors.fakes.driver import publish_until_settled

    with FakeInstagram(clock=clock, seed=7, quota_total=1000) as fake:
        conn = ig(fake, acct, clock, tmp_path)
        fake.faults.randomly(transient=0.2, lost=0.05)
        for i in range(12):
            publish_until_settled(conn, content(acct, tmp_path, f"r{i}"), clock)
        assert fake.published_markers() == {f"r{i}": 1 for i in range(12)}
        assert fake.duplicate_publishes == 0 and fake.faults.injected["drop_after"] > 0


def test_usage_headers_near_the_budget_pause_the_account_before_meta_refuses(fake, acct, clock, tmp_path):
    conn = ig(fake, acct, clock, tmp_path)
    refs = Refs()
    post = content(acct, tmp_path, "ig21")
    fake.app_usage_pct = 96  # X-App-Usage on every answer: 96 % of the hourly budget used
    with pytest.raises(ConnectorError) as err:
        conn.publish(post, {}, refs)
    assert err.value.kind is ErrorKind.RATE_LIMITED and err.value.retry_after_s > 120
    assert sum(fake.received.values()) == 1  # paused after the first answer, before Meta had to throttle
    clock.sleep(err.value.retry_after_s + 1)
    fake.app_usage_pct = 10
    assert conn.publish(post, refs.last, refs).state == "published"
    assert fake.published_markers() == {"ig21": 1}


def test_s3_store_presigned_link_is_what_instagram_fetches(fake, acct, clock, tmp_path, monkeypatch):
    import boto3
    from moto.server import ThreadedMotoServer

    from media.store import S3Store

    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)  # fake credentials for the loopback server only
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="chorus")
        store = S3Store("s3://chorus/campaigns", endpoint_url=endpoint)
        post = content(acct, tmp_path, "ig-s3")
        store.put_file("variants/ig-s3.mp4", post.video_path)
        link = store.presigned_url("variants/ig-s3.mp4", expires_s=3600)
        result = ig(fake, acct, clock, tmp_path).publish(replace(post, video_url=link), {}, Refs())
    finally:
        server.stop()
    assert result.state == "published" and fake.received["rupload"] == 0
    assert fake.published_markers() == {"ig-s3": 1}


def test_no_token_in_logs_when_a_token_is_refreshed_through_the_url(fake, acct, clock, tmp_path, served, caplog,
                                                                      capsys):
    # ig_refresh_token sends the token in the query string: urllib3 logs request lines at DEBUG.
    caplog.set_level(logging.DEBUG)
    secrets = Secrets()
    secrets.add(acct.credentials, fake.tokens.grant(access_ttl_s=86400), clock, user_id=fake.ig_user_id,
                login="instagram")
    fake.faults.next("refresh", "5xx")
    conn = ig(fake, acct, clock, tmp_path, secrets=secrets)
    assert conn.publish(served(content(acct, tmp_path, "ig22")), {}, Refs()).state == "published"
    assert fake.received["refresh"] == 2 and len(fake.tokens.issued) >= 2
    out = capsys.readouterr()
    haystack = caplog.text + out.out + out.err
    assert "refresh_access_token" in haystack  # the call was logged...
    assert_no_secrets(fake.tokens.issued, haystack, "the log of the refresh")  # ...without the token


def test_a_lapsed_presigned_link_is_retried_with_a_fresh_container(fake, acct, clock, tmp_path, served):
    conn = ig(fake, acct, clock, tmp_path)
    refs = Refs()
    post = served(content(acct, tmp_path, "ig23"))
    lapsed = replace(post, video_url=post.video_url.replace("ig23.mp4", "gone.mp4"))
    with pytest.raises(ConnectorError) as err:
        conn.publish(lapsed, {}, refs)
    assert err.value.kind is ErrorKind.RETRYABLE and "2207003" in err.value.reason
    assert "container_id" not in refs.last  # the failed container is dropped, never resumed
    assert conn.publish(post, refs.last, refs).state == "published"  # the stage presigns a fresh link
    assert fake.received["create_container"] == 2 and fake.published_markers() == {"ig23": 1}


def test_slow_processing_hands_back_processing_and_the_next_run_goes_on(fake, acct, clock, tmp_path):
    fake.processing_polls = 1000  # longer than the polling budget
    conn = ig(fake, acct, clock, tmp_path)
    refs = Refs()
    post = content(acct, tmp_path, "ig24")
    first = conn.publish(post, {}, refs)
    assert first.state == "processing" and first.ref["container_id"]
    fake.processing_polls = 0
    assert conn.publish(post, first.ref, refs).state == "published"
    assert fake.received["create_container"] == 1 and fake.received["rupload"] == 1


def test_already_published_refusal_is_checked_against_the_container(fake, acct, clock, tmp_path):
    conn = ig(fake, acct, clock, tmp_path)
    refs = Refs()
    post = content(acct, tmp_path, "ig25")
    first = conn.publish(post, {}, refs)
    stale = {k: v for k, v in refs.last.items() if k not in ("media_id", "permalink")}
    real, calls = conn._container_status, []

    def lagging(container_id):  # a status read that lags behind the publish (a race between two readers)
        calls.append(container_id)
        return {"status_code": "FINISHED", "status": None} if len(calls) <= 2 else real(container_id)

    conn._container_status = lagging
    again = conn.publish(post, stale, Refs())
    assert again.platform_post_id == first.platform_post_id
    assert fake.duplicate_publishes == 1 and fake.published_markers() == {"ig25": 1}
