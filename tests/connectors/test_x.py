"""X connector against the fake X: media upload v2, subtitles, the post, metrics and every fault."""
from __future__ import annotations

import pytest

from connectors.base import ConnectorError, ErrorKind
from connectors.common import FakeClock
from connectors.tokens import MemoryTokenStore
from connectors.x import post_text
from tests.connectors.fakes.harness import Refs, Secrets, account, connect, content
from tests.connectors.fakes.x import FakeX


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def fake(clock):
    with FakeX(clock=clock) as f:
        yield f


@pytest.fixture
def acct():
    return account("x", languages=["en"], countries=["IE"], handle="@fakeorg")


def xc(fake, acct, clock, tmp_path, **kw):
    return connect(fake, acct, clock, tmp_path, segment_size=1024, **kw)


def test_post_text_fits_280_weighted_characters():
    from tests.connectors.fakes.harness import content as make
    import pathlib
    import tempfile

    tmp = pathlib.Path(tempfile.mkdtemp())
    long = make(account("x"), tmp, "t", title="Title", description="word " * 100, hashtags=("A", "B"))
    text = post_text(long)
    assert len(text) <= 280 and text.startswith("Title") and text.endswith("#A #B") and "…" in text
    wide = make(account("x"), tmp, "w", title="", description="投票" * 200, hashtags=())
    assert len(post_text(wide)) <= 140


def test_happy_path_with_subtitles_and_metrics(fake, acct, clock, tmp_path):
    conn = xc(fake, acct, clock, tmp_path)
    srt = tmp_path / "c.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:02,000\nYour vote\n", encoding="utf-8")
    refs = Refs()
    result = conn.publish(content(acct, tmp_path, "x1", size=3000, captions_srt=srt, language="en"), {}, refs)
    assert result.state == "published" and result.url == f"https://x.com/fakeorg/status/{result.platform_post_id}"
    assert fake.received["append"] == 3 + 1  # three video segments, one subtitle segment
    assert fake.published == [{**fake.published[0], "marker": "x1", "subtitles": True}]
    sent_index = next(i for i, r in enumerate(refs.saved) if r.get("post_sent"))
    assert "tweet_id" not in refs.saved[sent_index]  # the intent was saved before the post
    readings = {r.raw_name: r.value for r in conn.fetch_metrics([(result.platform_post_id, None)])}
    assert readings["impression_count"] == 900 and readings["view_count"] == 640
    assert readings["playback_100_count"] == 120


def test_transient_faults_in_the_upload_are_retried(fake, acct, clock, tmp_path):
    conn = xc(fake, acct, clock, tmp_path)
    fake.faults.next("append", "5xx", times=2)
    fake.faults.next("media_status", "429", wait_s=20)
    fake.faults.next("append", "drop_after")
    result = conn.publish(content(acct, tmp_path, "x2", size=2500), {}, Refs())
    assert result.state == "published" and fake.published_markers() == {"x2": 1}


def test_post_answer_lost_after_commit_is_found_not_resent(fake, acct, clock, tmp_path):
    conn = xc(fake, acct, clock, tmp_path)
    post = content(acct, tmp_path, "x3")
    fake.faults.next("tweets.create", "drop_after")
    refs = Refs()
    with pytest.raises(ConnectorError) as err:
        conn.publish(post, {}, refs)
    assert err.value.kind == ErrorKind.UNKNOWN_OUTCOME
    found = conn.reconcile(post, refs.last)
    assert found.state == "published" and found.platform_post_id in fake.tweets
    again = conn.publish(post, refs.last, refs)  # even a blind second call looks first
    assert again.platform_post_id == found.platform_post_id
    assert fake.received["tweets.create"] == 1 and fake.published_markers() == {"x3": 1}


def test_post_refused_by_a_5xx_is_sent_again_after_looking(fake, acct, clock, tmp_path):
    conn = xc(fake, acct, clock, tmp_path)
    post = content(acct, tmp_path, "x4")
    fake.faults.next("tweets.create", "5xx")
    refs = Refs()
    with pytest.raises(ConnectorError) as err:
        conn.publish(post, {}, refs)
    assert err.value.kind == ErrorKind.UNKNOWN_OUTCOME
    assert conn.reconcile(post, refs.last).state == "processing"  # the media is reused, the post is not there
    assert conn.publish(post, refs.last, refs).state == "published"
    assert fake.received["initialize"] == 1 and fake.published_markers() == {"x4": 1}


def test_429_waits_until_the_reset_header(fake, acct, clock, tmp_path):
    conn = xc(fake, acct, clock, tmp_path)
    fake.faults.next("tweets.create", "429", wait_s=40)
    started = clock()
    assert conn.publish(content(acct, tmp_path, "x5"), {}, Refs()).state == "published"
    assert clock() - started >= 40 and fake.published_markers() == {"x5": 1}


def test_rate_limit_headers_pause_before_x_refuses(clock, acct, tmp_path):
    with FakeX(clock=clock, post_window=(2, 900)) as fake:
        conn = xc(fake, acct, clock, tmp_path)
        for i in range(2):
            assert conn.publish(content(acct, tmp_path, f"w{i}", description=f"n{i}"), {}, Refs()).state == "published"
        refs = Refs()
        third = content(acct, tmp_path, "w2", description="n2")
        with pytest.raises(ConnectorError) as err:
            conn.publish(third, {}, refs)  # X said 0 remaining: Chorus waits rather than be refused
        assert err.value.kind == ErrorKind.RATE_LIMITED and 800 <= err.value.retry_after_s <= 905
        assert refs.last["post_sent"] is False
        clock.sleep(err.value.retry_after_s)
        assert conn.publish(third, refs.last, refs).state == "published"
        assert [s for m, p, s in fake.log if p == "/2/tweets" and m == "POST"] == [201] * 3


def test_token_expiring_mid_upload_refreshes_and_saves_the_rotation(fake, acct, clock, tmp_path):
    store, secrets = MemoryTokenStore(), Secrets()
    conn = xc(fake, acct, clock, tmp_path, secrets=secrets, token_store=store)
    fake.faults.next("append", "expire_token")
    assert conn.publish(content(acct, tmp_path, "x6", size=2500), {}, Refs()).state == "published"
    assert store.load(acct.credentials)["refresh_token"] in fake.tokens.refresh_tokens


def test_processing_failed_is_permanent_with_the_reason(fake, acct, clock, tmp_path):
    conn = xc(fake, acct, clock, tmp_path)
    fake.fail_processing.append("Video duration exceeds 140 seconds")
    with pytest.raises(ConnectorError) as err:
        conn.publish(content(acct, tmp_path, "x7"), {}, Refs())
    assert err.value.kind == ErrorKind.PERMANENT and "140 seconds" in err.value.reason
    assert fake.published == []


def test_duplicate_text_is_refused_in_words(fake, acct, clock, tmp_path):
    conn = xc(fake, acct, clock, tmp_path)
    conn.publish(content(acct, tmp_path, "x8", description="same"), {}, Refs())
    with pytest.raises(ConnectorError) as err:
        conn.publish(content(acct, tmp_path, "x9", description="same"), {}, Refs())
    assert err.value.kind == ErrorKind.PERMANENT and "duplicate" in err.value.message


def test_refresh_refused_means_reconnect(fake, acct, clock, tmp_path):
    conn = xc(fake, acct, clock, tmp_path)
    fake.tokens.revoke_refresh()
    fake.tokens.expire_all()
    with pytest.raises(ConnectorError) as err:
        conn.publish(content(acct, tmp_path, "x10"), {}, Refs())
    assert err.value.kind == ErrorKind.NEEDS_RECONNECT
