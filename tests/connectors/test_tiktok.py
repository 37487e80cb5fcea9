"""TikTok connector against the fake TikTok: happy path, chunk rules, and every injected fault."""
from __future__ import annotations

import pytest

from connectors.base import ConnectorError, ErrorKind
from connectors.common import FakeClock
from connectors.tiktok import MB, chunk_ranges, plan_chunks
from connectors.tokens import MemoryTokenStore
from tests.connectors.fakes.harness import Refs, Secrets, account, connect, content
from tests.connectors.fakes.tiktok import FakeTikTok


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def fake(clock):
    with FakeTikTok(clock=clock) as f:
        yield f


@pytest.fixture
def acct():
    return account("tiktok")


def test_plan_chunks_follows_the_media_transfer_rules():
    assert plan_chunks(4 * MB) == (4 * MB, 1)                     # under 5 MB: one chunk
    assert plan_chunks(11 * MB, 5 * MB) == (5 * MB, 2)            # floor(11/5) = 2, the last takes the rest
    assert chunk_ranges(11 * MB, 5 * MB, 2) == [(0, 5 * MB - 1), (5 * MB, 11 * MB - 1)]
    chunk, total = plan_chunks(3000 * MB, 5 * MB)
    assert total <= 1000 and 3000 * MB - chunk * (total - 1) <= 128 * MB


def test_happy_path_publishes_once_and_reads_metrics(fake, acct, clock, tmp_path):
    conn = connect(fake, acct, clock, tmp_path)
    refs = Refs()
    result = conn.publish(content(acct, tmp_path, "p1"), {}, refs)
    assert result.state == "published" and result.platform_post_id
    assert fake.published_markers() == {"p1": 1}
    assert fake.published[0]["privacy"] == "PUBLIC_TO_EVERYONE"
    assert refs.saved[0]["publish_id"]  # saved before the upload
    readings = {r.raw_name: r.value for r in conn.fetch_metrics([(result.platform_post_id, None)])}
    assert readings["view_count"] == 120 and readings["share_count"] == 2


def test_multi_chunk_upload_gets_206_then_201(fake, acct, clock, tmp_path):
    conn = connect(fake, acct, clock, tmp_path, chunk_size=5 * MB)
    result = conn.publish(content(acct, tmp_path, "big", size=11 * MB), {}, Refs())
    assert result.state == "published"
    statuses = [s for m, p, s in fake.log if p == "/upload/"]
    assert statuses == [206, 201]


def test_server_errors_and_429_are_retried(fake, acct, clock, tmp_path):
    conn = connect(fake, acct, clock, tmp_path)
    fake.faults.next("creator_info", "5xx", times=2)
    fake.faults.next("status", "429", wait_s=5)
    fake.faults.next("upload", "5xx")
    started = clock()
    result = conn.publish(content(acct, tmp_path, "p2"), {}, Refs())
    assert result.state == "published"
    assert fake.published_markers() == {"p2": 1}
    assert fake.received["upload"] == 2
    assert clock() - started >= 60  # TikTok sends no wait header, so its 429 waits a minute


def test_init_answer_lost_is_reconciled_then_sent_once(fake, acct, clock, tmp_path):
    conn = connect(fake, acct, clock, tmp_path)
    post = content(acct, tmp_path, "p3")
    fake.faults.next("init", "drop_after")
    refs = Refs()
    with pytest.raises(ConnectorError) as err:
        conn.publish(post, {}, refs)
    assert err.value.kind == ErrorKind.UNKNOWN_OUTCOME
    assert conn.reconcile(post, refs.last) is None  # no publish id: nothing can have gone out
    result = conn.publish(post, refs.last, refs)
    assert result.state == "published"
    assert fake.published_markers() == {"p3": 1}


def test_final_chunk_answer_lost_after_commit_is_not_sent_again(fake, acct, clock, tmp_path):
    conn = connect(fake, acct, clock, tmp_path, chunk_size=5 * MB)
    fake.faults.next("upload", "drop_after")  # the first chunk lands, its answer is lost
    result = conn.publish(content(acct, tmp_path, "p4", size=11 * MB), {}, Refs())
    assert result.state == "published"
    assert fake.received["upload"] == 2  # the status said 5 MB were there: the first chunk was not sent twice
    assert fake.published_markers() == {"p4": 1}


def test_interrupted_upload_is_resumed_not_restarted(fake, acct, clock, tmp_path):
    conn = connect(fake, acct, clock, tmp_path, chunk_size=5 * MB)
    post = content(acct, tmp_path, "p5", size=11 * MB)
    fake.faults.next("upload", "drop_before", times=2)
    fake.faults.next("status", "5xx", times=12)  # the status check keeps failing: give up for this run
    refs = Refs()
    with pytest.raises(ConnectorError):
        conn.publish(post, {}, refs)
    fake.faults.clear()
    assert conn.reconcile(post, refs.last).state == "processing"
    result = conn.publish(post, refs.last, refs)
    assert result.state == "published"
    assert fake.received["init"] == 1
    assert fake.published_markers() == {"p5": 1}


def test_token_expiring_mid_upload_is_refreshed_and_rotation_saved(fake, acct, clock, tmp_path):
    store = MemoryTokenStore()
    secrets = Secrets()
    conn = connect(fake, acct, clock, tmp_path, secrets=secrets, token_store=store)
    old_refresh = secrets.data[acct.credentials]["refresh_token"]
    fake.faults.next("status", "expire_token")
    result = conn.publish(content(acct, tmp_path, "p6"), {}, Refs())
    assert result.state == "published"
    saved = store.load(acct.credentials)
    assert saved["refresh_token"] != old_refresh and saved["refresh_token"] in fake.tokens.refresh_tokens
    # A second connector (another run) starts from the rotated set, not the dead one in the environment.
    again = connect(fake, acct, clock, tmp_path, secrets=secrets, token_store=store)
    fake.tokens.expire_all()
    assert again.publish(content(acct, tmp_path, "p7"), {}, Refs()).state == "published"


def test_refresh_refused_means_reconnect(fake, acct, clock, tmp_path):
    conn = connect(fake, acct, clock, tmp_path)
    fake.tokens.revoke_refresh()
    fake.tokens.expire_all()
    with pytest.raises(ConnectorError) as err:
        conn.publish(content(acct, tmp_path, "p8"), {}, Refs())
    assert err.value.kind == ErrorKind.NEEDS_RECONNECT
    assert "reconnect" in err.value.message
    assert fake.published == []


def test_processing_failed_reports_the_platform_reason(fake, acct, clock, tmp_path):
    conn = connect(fake, acct, clock, tmp_path)
    fake.fail_processing.append("frame_rate_check_failed")
    with pytest.raises(ConnectorError) as err:
        conn.publish(content(acct, tmp_path, "p9"), {}, Refs())
    assert err.value.kind == ErrorKind.PERMANENT
    assert "frames per second" in err.value.message and err.value.reason == "frame_rate_check_failed"


def test_internal_processing_failure_starts_a_new_task(fake, acct, clock, tmp_path):
    conn = connect(fake, acct, clock, tmp_path)
    post = content(acct, tmp_path, "p10")
    fake.fail_processing.append("internal")
    refs = Refs()
    with pytest.raises(ConnectorError) as err:
        conn.publish(post, {}, refs)
    assert err.value.kind == ErrorKind.RETRYABLE and refs.last == {}
    assert conn.publish(post, refs.last, refs).state == "published"
    assert fake.published_markers() == {"p10": 1}


def test_private_only_account_is_refused_in_words(fake, acct, clock, tmp_path):
    fake.privacy_options = ("FOLLOWER_OF_CREATOR", "SELF_ONLY")
    conn = connect(fake, acct, clock, tmp_path)
    assert conn.publish(content(acct, tmp_path, "p11"), {}, Refs()).state == "published"
    fake.privacy_options = ("SELF_ONLY",)
    with pytest.raises(ConnectorError) as err:
        conn.publish(content(acct, tmp_path, "p12"), {}, Refs())
    assert err.value.kind == ErrorKind.PERMANENT and "private" in err.value.message


def test_daily_cap_answer_is_rate_limited_not_failed(fake, acct, clock, tmp_path):
    conn = connect(fake, acct, clock, tmp_path)
    fake.init_error = (403, "spam_risk_too_many_posts")
    with pytest.raises(ConnectorError) as err:
        conn.publish(content(acct, tmp_path, "p13"), {}, Refs())
    assert err.value.kind == ErrorKind.RATE_LIMITED and err.value.retry_after_s >= 3600
    assert "daily post limit" in err.value.message


def test_init_rate_is_kept_below_six_a_minute(clock, acct, tmp_path):
    with FakeTikTok(clock=clock, init_limit=(6, 60)) as fake:
        conn = connect(fake, acct, clock, tmp_path)
        for i in range(8):
            assert conn.publish(content(acct, tmp_path, f"r{i}"), {}, Refs()).state == "published"
        assert [s for m, p, s in fake.log if p.endswith("/init/")] == [200] * 8  # never refused


def test_cancel_withdraws_an_unfinished_post(fake, acct, clock, tmp_path):
    conn = connect(fake, acct, clock, tmp_path)
    fake.processing_polls = 10_000
    refs = Refs()
    result = conn.publish(content(acct, tmp_path, "p14"), {}, refs)
    assert result.state == "processing"
    conn.cancel(result.ref)
    fake.processing_polls = 0
    assert conn.reconcile(content(acct, tmp_path, "p14"), result.ref) is None
    assert fake.published == []


def test_a_video_longer_than_the_account_may_post_is_refused_before_upload(fake, acct, clock, tmp_path):
    conn = connect(fake, acct, clock, tmp_path)
    with pytest.raises(ConnectorError) as err:
        conn.publish(content(acct, tmp_path, "long", duration_s=601.0), {}, Refs())
    assert err.value.kind == ErrorKind.PERMANENT and "at most 600 s" in err.value.message
    assert fake.received["init"] == 0
