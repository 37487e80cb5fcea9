"""Facebook Page Reels connector against the fake Facebook: happy path, native scheduling, caps and every fault."""
from __future__ import annotations

import datetime as dt
import json
import logging

import pytest

from connectors.base import ConnectorError, ErrorKind, ScheduleWindow
from connectors.common import FakeClock
from connectors.facebook import schedule_window_from_env
from tests.connectors.fakes.facebook import FakeFacebook
from tests.connectors.fakes.harness import Refs, Secrets, account, connect, content
from tests.secret_scan import assert_no_secrets

BASES = ("facebook", "rupload")


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def fake(clock):
    with FakeFacebook(clock=clock) as f:
        yield f


@pytest.fixture
def acct():
    return account("facebook", handle="@jungestimmen", countries=["DE"])


def fb(fake, acct, clock, tmp_path, **kw):
    secrets = kw.pop("secrets", None) or Secrets()
    if acct.credentials not in secrets.data:
        secrets.add(acct.credentials, fake.tokens.grant(), clock, page_id=fake.page_id)
    return connect(fake, acct, clock, tmp_path, secrets=secrets, base_names=BASES, **kw)


def at(clock, seconds):
    return dt.datetime.fromtimestamp(clock() + seconds, dt.timezone.utc)


def srt(tmp_path):
    path = tmp_path / "captions.srt"
    path.write_text("1\n00:00:00,000 --> 00:00:02,000\nDeine Stimme zählt\n", encoding="utf-8")
    return path


def test_happy_path_start_upload_captions_finish_and_insights(fake, acct, clock, tmp_path):
    conn = fb(fake, acct, clock, tmp_path)
    refs = Refs()
    result = conn.publish(content(acct, tmp_path, "fb1", captions_srt=srt(tmp_path)), {}, refs)
    assert result.state == "published" and result.platform_post_id == fake.published[0]["id"]
    assert result.url.endswith(f"/reel/{result.platform_post_id}") and result.published_at is not None
    assert fake.published_markers() == {"fb1": 1}
    assert fake.captions[result.platform_post_id] == ["de_DE"]
    assert refs.saved[0] == {"video_id": result.platform_post_id}  # saved before any byte
    readings = {r.raw_name: r.value for r in conn.fetch_metrics([(result.platform_post_id, None)])}
    assert readings["blue_reels_play_count"] == 800
    assert readings["post_video_social_actions.COMMENT"] == 9 and readings["post_video_social_actions.SHARE"] == 4
    assert readings["post_video_likes_by_reaction_type"] == 46


def test_native_scheduling_inside_the_window(fake, acct, clock, tmp_path):
    conn = fb(fake, acct, clock, tmp_path)
    when = at(clock, 3 * 86400)
    result = conn.publish(content(acct, tmp_path, "fb2", publish_at=when), {}, Refs())
    assert result.state == "scheduled"
    assert fake.published[0]["scheduled"] == int(when.timestamp())
    assert conn.schedule_window.accepts(when, at(clock, 0))


def test_a_time_too_close_is_published_now_and_one_too_far_waits(fake, acct, clock, tmp_path):
    conn = fb(fake, acct, clock, tmp_path)
    assert conn.publish(content(acct, tmp_path, "fb3", publish_at=at(clock, 120)), {}, Refs()).state == "published"
    with pytest.raises(ConnectorError) as err:
        conn.publish(content(acct, tmp_path, "fb4", publish_at=at(clock, 40 * 86400)), {}, Refs())
    assert err.value.kind is ErrorKind.RATE_LIMITED and err.value.retry_after_s >= 10 * 86400
    assert fake.published_markers() == {"fb3": 1} and fake.received["reels_start"] == 1  # nothing sent for fb4


def test_schedule_window_is_a_setting():
    window = schedule_window_from_env({"CHORUS_FACEBOOK_SCHEDULE_MIN_MINUTES": "20",
                                       "CHORUS_FACEBOOK_SCHEDULE_MAX_DAYS": "7"})
    assert window == ScheduleWindow(dt.timedelta(minutes=20), dt.timedelta(days=7))


def test_reschedule_and_cancel(fake, acct, clock, tmp_path):
    conn = fb(fake, acct, clock, tmp_path)
    result = conn.publish(content(acct, tmp_path, "fb5", publish_at=at(clock, 86400)), {}, Refs())
    moved = conn.reschedule(result.ref, at(clock, 2 * 86400))
    assert moved.state == "scheduled" and fake.videos[result.platform_post_id]["scheduled"] == int(clock() + 2 * 86400)
    conn.cancel(moved.ref)
    assert fake.videos[result.platform_post_id]["deleted"]


def test_server_errors_and_throttling_are_retried(fake, acct, clock, tmp_path):
    conn = fb(fake, acct, clock, tmp_path)
    fake.faults.next("rupload", "5xx", times=2)
    fake.faults.next("video", "429", wait_s=45)
    started = clock()
    result = conn.publish(content(acct, tmp_path, "fb6"), {}, Refs())
    assert result.state == "published" and fake.published_markers() == {"fb6": 1}
    assert fake.received["reels_start"] == 1 and fake.received["rupload"] == 3
    assert clock() - started >= 45


def test_lost_finish_answer_is_settled_by_the_status(fake, acct, clock, tmp_path):
    conn = fb(fake, acct, clock, tmp_path)
    fake.faults.next("reels_finish", "drop_after")
    result = conn.publish(content(acct, tmp_path, "fb7"), {}, Refs())
    assert result.state == "published" and fake.received["reels_finish"] == 1
    assert fake.published_markers() == {"fb7": 1} and fake.duplicate_finishes == 0


def test_crash_after_finish_does_not_post_twice(fake, acct, clock, tmp_path):
    conn = fb(fake, acct, clock, tmp_path)
    refs = Refs()
    post = content(acct, tmp_path, "fb8")
    fake.faults.next("reels_finish", "drop_after")
    fake.faults.next("video", "drop_before", times=5)  # and the status check fails too: the run gives up
    with pytest.raises(ConnectorError):
        conn.publish(post, {}, refs)
    assert refs.last.get("finish_sent")
    found = conn.reconcile(post, refs.last)
    assert found is not None and found.state == "processing"  # finished, Facebook still processing
    again = conn.publish(post, refs.last, refs)
    assert again.state == "published" and again.platform_post_id == found.platform_post_id
    assert fake.received["reels_start"] == 1 and fake.published_markers() == {"fb8": 1}


def test_duplicate_post_506_is_read_as_already_done(fake, acct, clock, tmp_path):
    conn = fb(fake, acct, clock, tmp_path)
    refs = Refs()
    post = content(acct, tmp_path, "fb9")
    conn.publish(post, {}, refs)
    conn._settled = lambda ref, body: None  # pretend the status said nothing, so finish is sent again
    stale = {k: v for k, v in refs.last.items() if k != "permalink"}
    with pytest.raises(ConnectorError):
        conn.publish(post, stale, Refs())
    assert fake.duplicate_finishes == 1 and fake.published_markers() == {"fb9": 1}
    del conn._settled
    assert conn.publish(post, stale, Refs()).state == "published" and fake.duplicate_finishes == 1


def test_interrupted_upload_resumes_from_the_bytes_facebook_has(fake, acct, clock, tmp_path):
    conn = fb(fake, acct, clock, tmp_path)
    refs = Refs()
    post = content(acct, tmp_path, "fb10", size=8192)
    fake.faults.next("rupload", "drop_before", times=10)  # the client's retries and its one resume, all lost
    with pytest.raises(ConnectorError):
        conn.publish(post, {}, refs)
    assert conn.reconcile(post, refs.last).state == "processing"  # accepted: to be resumed, not restarted
    video = fake.videos[refs.last["video_id"]]
    video["upload"].update(data=bytearray(post.video_path.read_bytes()[:3000]), file_size=8192)  # a partial upload
    result = conn.publish(post, refs.last, refs)
    assert result.state == "published" and fake.received["reels_start"] == 1
    assert bytes(video["upload"]["data"]) == post.video_path.read_bytes()
    # Resumed at Facebook's offset, not from zero.
    assert fake.published_markers() == {"fb10": 1}


def test_reels_cap_is_kept_locally_before_facebook_refuses(fake, acct, clock, tmp_path):
    conn = fb(fake, acct, clock, tmp_path)
    for i in range(30):
        conn.publish(content(acct, tmp_path, f"cap{i}"), {}, Refs())
    with pytest.raises(ConnectorError) as err:
        conn.publish(content(acct, tmp_path, "cap30"), {}, Refs())
    assert err.value.kind is ErrorKind.RATE_LIMITED and err.value.retry_after_s > 3600
    assert fake.received["reels_start"] == 30  # the 31st never reached Facebook


def test_cap_refusal_from_facebook_carries_its_wait(fake, acct, clock, tmp_path):
    fake.reels_cap = 1
    secrets = Secrets()
    conn = fb(fake, acct, clock, tmp_path, secrets=secrets)
    token = secrets.data[acct.credentials]["access_token"]
    fake.finish_times[token] = [clock() - 80000]  # a reel posted on this Page by someone else earlier today
    with pytest.raises(ConnectorError) as err:
        conn.publish(content(acct, tmp_path, "fb11"), {}, Refs())
    assert err.value.kind is ErrorKind.RATE_LIMITED and 6000 <= err.value.retry_after_s <= 6500


def test_processing_error_is_permanent(fake, acct, clock, tmp_path):
    fake.fail_processing.append("Video duration must be between 3 and 90 seconds")
    with pytest.raises(ConnectorError) as err:
        fb(fake, acct, clock, tmp_path).publish(content(acct, tmp_path, "fb12"), {}, Refs())
    assert err.value.kind is ErrorKind.PERMANENT and "90 seconds" in err.value.reason


def test_token_expiring_mid_upload_holds_the_page_then_resumes(fake, acct, clock, tmp_path):
    secrets = Secrets()
    conn = fb(fake, acct, clock, tmp_path, secrets=secrets)
    refs = Refs()
    post = content(acct, tmp_path, "fb13")
    fake.faults.next("rupload", "expire_token")
    with pytest.raises(ConnectorError) as err:
        conn.publish(post, {}, refs)
    assert err.value.kind is ErrorKind.NEEDS_RECONNECT  # Page tokens have no refresh: a person reconnects
    secrets.add(acct.credentials, fake.tokens.grant(), clock, page_id=fake.page_id)
    result = fb(fake, acct, clock, tmp_path, secrets=secrets).publish(post, refs.last, refs)
    assert result.state == "published" and fake.received["reels_start"] == 1


def test_no_token_in_logs_errors_or_refs(fake, acct, clock, tmp_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    conn = fb(fake, acct, clock, tmp_path)
    refs = Refs()
    errors = []
    fake.faults.next("reels_finish", "drop_after")
    conn.publish(content(acct, tmp_path, "fb14"), {}, refs)
    fake.faults.next("reels_start", "expire_token")
    try:
        conn.publish(content(acct, tmp_path, "fb15"), {}, refs)
    except ConnectorError as exc:
        errors.append(f"{exc} {exc.reason} {exc!r}")
    out = capsys.readouterr()
    haystack = caplog.text + json.dumps(refs.saved) + " ".join(errors) + out.out + out.err
    assert errors
    assert_no_secrets(fake.tokens.issued, haystack, "logs, saved handles, errors or output")


def test_account_check(fake, acct, clock, tmp_path):
    secrets = Secrets()
    check = fb(fake, acct, clock, tmp_path, secrets=secrets).check()
    assert check.ok and "Fake Page" in check.message
    fake.tokens.expire_all()
    bad = fb(fake, acct, clock, tmp_path, secrets=secrets).check()
    assert not bad.ok and bad.kind is ErrorKind.NEEDS_RECONNECT


def test_random_faults_still_publish_each_post_exactly_once(clock, acct, tmp_path):
    from tests.connectors.fakes.driver import publish_until_settled

    with FakeFacebook(clock=clock, seed=7) as fake:
        conn = fb(fake, acct, clock, tmp_path)
        fake.faults.randomly(transient=0.2, lost=0.05)
        for i in range(12):
            publish_until_settled(conn, content(acct, tmp_path, f"r{i}"), clock)
        assert fake.published_markers() == {f"r{i}": 1 for i in range(12)}
        assert fake.duplicate_finishes == 0 and fake.faults.injected["drop_after"] > 0
