"""YouTube connector against the fake YouTube: resumable upload, scheduling, captions, metrics and every fault."""
from __future__ import annotations

import datetime as dt

import pytest

from connectors.base import ConnectorError, ErrorKind
from connectors.common import FakeClock
from tests.connectors.fakes.harness import Refs, account, connect, content
from tests.connectors.fakes.youtube import FakeYouTube

NAMES = ("youtube", "youtube_analytics", "youtube_oauth")
KIB = 1024


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def fake(clock):
    with FakeYouTube(clock=clock) as f:
        yield f


@pytest.fixture
def acct():
    return account("youtube", languages=["en"], countries=["IE"])


def yt(fake, acct, clock, tmp_path, **kw):
    return connect(fake, acct, clock, tmp_path, base_names=NAMES, chunk_size=256 * KIB, **kw)


def test_happy_path_in_chunks_with_captions_and_metrics(fake, acct, clock, tmp_path):
    conn = yt(fake, acct, clock, tmp_path)
    srt = tmp_path / "c.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:02,000\nYour vote is your voice\n", encoding="utf-8")
    refs = Refs()
    result = conn.publish(content(acct, tmp_path, "y1", size=700 * KIB, captions_srt=srt, language="en"), {}, refs)
    assert result.state == "published" and result.url.endswith(result.platform_post_id)
    assert refs.saved[0]["session_uri"] and "video_id" not in refs.saved[0]  # the session was saved first
    assert [s for m, p, s in fake.log if m == "PUT" and p.startswith("/upload")] == [308, 308, 200]
    assert fake.published_markers() == {"y1": 1}
    assert [t["snippet"]["language"] for t in fake.captions[result.platform_post_id]] == ["en"]
    readings = {r.raw_name: r.value for r in conn.fetch_metrics([(result.platform_post_id, None)])}
    assert readings["viewCount"] == 345.0 and readings["shares"] == 4.0 and readings["estimatedMinutesWatched"] == 30


def test_publish_at_schedules_natively_private_until_then(fake, acct, clock, tmp_path):
    conn = yt(fake, acct, clock, tmp_path)
    when = dt.datetime.fromtimestamp(clock() + 3 * 3600, dt.timezone.utc).replace(microsecond=0)
    result = conn.publish(content(acct, tmp_path, "y2", publish_at=when), {}, Refs())
    assert result.state == "scheduled" and result.published_at == when
    assert fake.published[0]["status"]["privacyStatus"] == "private"
    later = when + dt.timedelta(hours=2)
    moved = conn.reschedule(result.ref, later)
    assert moved.state == "scheduled" and moved.published_at == later
    clock.sleep(6 * 3600)
    assert conn.reconcile(content(acct, tmp_path, "y2"), result.ref).state == "published"


def test_cancel_keeps_the_video_private_without_a_time(fake, acct, clock, tmp_path):
    conn = yt(fake, acct, clock, tmp_path)
    when = dt.datetime.fromtimestamp(clock() + 3600, dt.timezone.utc)
    result = conn.publish(content(acct, tmp_path, "y3", publish_at=when), {}, Refs())
    conn.cancel(result.ref)
    clock.sleep(7200)
    status = fake.videos[result.platform_post_id]["resource"]["status"]
    assert status["privacyStatus"] == "private" and "publishAt" not in status


def test_lost_answer_on_the_last_chunk_is_read_from_the_session(fake, acct, clock, tmp_path):
    conn = yt(fake, acct, clock, tmp_path)
    fake.faults.next("bytes", "5xx")            # first chunk: server error before storing
    fake.faults.next("bytes", "drop_after")     # last chunk: stored and the video made, the answer lost
    result = conn.publish(content(acct, tmp_path, "y4", size=300 * KIB), {}, Refs())
    assert result.state == "published"
    assert fake.published_markers() == {"y4": 1} and fake.received["start"] == 1


def test_interrupted_upload_resumes_from_the_session(fake, acct, clock, tmp_path):
    conn = yt(fake, acct, clock, tmp_path)
    post = content(acct, tmp_path, "y5", size=900 * KIB)
    fake.faults.next("bytes", "drop_before", times=20)
    refs = Refs()
    with pytest.raises(ConnectorError):
        conn.publish(post, {}, refs)
    fake.faults.clear()
    assert conn.reconcile(post, refs.last).state == "processing"
    assert conn.publish(post, refs.last, refs).state == "published"
    assert fake.received["start"] == 1 and fake.published_markers() == {"y5": 1}


def test_start_answer_lost_means_nothing_exists(fake, acct, clock, tmp_path):
    conn = yt(fake, acct, clock, tmp_path)
    post = content(acct, tmp_path, "y6")
    fake.faults.next("start", "drop_after")
    refs = Refs()
    with pytest.raises(ConnectorError) as err:
        conn.publish(post, {}, refs)
    assert err.value.kind == ErrorKind.UNKNOWN_OUTCOME
    assert conn.reconcile(post, refs.last) is None
    assert conn.publish(post, refs.last, refs).state == "published"
    assert fake.published_markers() == {"y6": 1}


def test_429_waits_and_token_expiring_mid_upload_refreshes(fake, acct, clock, tmp_path):
    conn = yt(fake, acct, clock, tmp_path)
    fake.faults.next("videos.list", "429", wait_s=30)
    fake.faults.next("bytes", "expire_token")
    started = clock()
    assert conn.publish(content(acct, tmp_path, "y7", size=600 * KIB), {}, Refs()).state == "published"
    assert clock() - started >= 30
    assert conn.tokens.refreshes == 1 and fake.published_markers() == {"y7": 1}


def test_quota_exceeded_waits_for_the_reset(fake, acct, clock, tmp_path):
    conn = yt(fake, acct, clock, tmp_path)
    fake.start_error = (403, "quotaExceeded")
    with pytest.raises(ConnectorError) as err:
        conn.publish(content(acct, tmp_path, "y8"), {}, Refs())
    assert err.value.kind == ErrorKind.RATE_LIMITED and 60 <= err.value.retry_after_s <= 25 * 3600
    assert "quota" in err.value.message


def test_rejected_processing_reports_the_reason(fake, acct, clock, tmp_path):
    conn = yt(fake, acct, clock, tmp_path)
    fake.reject_next.append("duplicate")
    with pytest.raises(ConnectorError) as err:
        conn.publish(content(acct, tmp_path, "y9"), {}, Refs())
    assert err.value.kind == ErrorKind.PERMANENT and err.value.reason == "duplicate"


def test_refresh_refused_means_reconnect(fake, acct, clock, tmp_path):
    conn = yt(fake, acct, clock, tmp_path)
    fake.tokens.revoke_refresh()
    fake.tokens.expire_all()
    with pytest.raises(ConnectorError) as err:
        conn.publish(content(acct, tmp_path, "y10"), {}, Refs())
    assert err.value.kind == ErrorKind.NEEDS_RECONNECT and fake.published == []
    assert conn.check().ok is False
