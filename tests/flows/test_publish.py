"""The publishing stage against the fake platforms: exactly once, native scheduling, holds, caps, reschedule, cancel."""
from __future__ import annotations

import datetime as dt

import pytest

from campaign.errors import ChorusError
from flows.stage_publish import cancel, check_accounts, publish_due, reschedule
from tests.flows.publish_world import T0, build_world, manifest_doc
from warehouse.ledger import Ledger

ALL = ["tiktok", "youtube", "x", "instagram", "facebook", "linkedin"]
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def world_factory(tmp_path):
    worlds = []

    def make(platforms, **kw):
        doc_kw = {k: kw.pop(k) for k in ("accounts_per_platform", "assets", "languages") if k in kw}
        world = build_world(tmp_path / f"home{len(worlds)}", manifest_doc(platforms, **doc_kw), fakes=platforms, **kw)
        worlds.append(world)
        return world

    yield make
    for w in worlds:
        w.close()


def history(world, key):
    with world.rt.warehouse() as con:
        return [e["to_state"] for e in Ledger(con).history(key)]


def test_each_platform_gets_each_post_exactly_once(world_factory):
    world = world_factory(ALL, captions=True)
    first = publish_due(world.rt, T0, connectors=world.factory())
    assert first.published == 6 and first.failed == 0, first.details
    second = publish_due(world.rt, T0 + HOUR, connectors=world.factory())
    assert second.published == 0 and second.details == []
    assert world.states() == {"published": 6}
    assert sorted(world.published_counts().values()) == [1] * 6
    for post in world.posts():
        assert post["platform_post_id"] and post["post_url"] and post["published_at"] is not None


def test_youtube_and_facebook_are_scheduled_natively_ahead_and_confirmed_when_live(world_factory):
    world = world_factory(["youtube", "facebook", "tiktok"], at=T0 + 2 * HOUR)
    report = publish_due(world.rt, T0, connectors=world.factory())
    assert report.scheduled == 2 and report.published == 0
    states = {p["platform"]: p["state"] for p in world.posts()}
    assert states == {"youtube": "scheduled", "facebook": "scheduled", "tiktok": "planned"}
    status = world.fakes["youtube"].published[0]["status"]
    assert status["privacyStatus"] == "private" and status["publishAt"] == "2027-03-01T19:00:00Z"
    world.clock.now = (T0 + 2 * HOUR + dt.timedelta(minutes=1)).timestamp()
    later = publish_due(world.rt, T0 + 2 * HOUR + dt.timedelta(minutes=1), connectors=world.factory())
    assert later.published == 3
    assert world.states() == {"published": 3} and sorted(world.published_counts().values()) == [1, 1, 1]


def test_a_lost_answer_is_reconciled_in_the_same_run(world_factory):
    world = world_factory(["x", "youtube"])
    world.fakes["x"].faults.next("tweets.create", "drop_after")
    world.fakes["youtube"].faults.next("bytes", "drop_after")
    report = publish_due(world.rt, T0, connectors=world.factory())
    assert report.published == 2
    assert sorted(world.published_counts().values()) == [1, 1]
    assert world.fakes["x"].received["tweets.create"] == 1
    x_post = next(p for p in world.posts() if p["platform"] == "x")
    assert history(world, x_post["idempotency_key"]) == ["planned", "uploading", "unknown", "published"]


def test_an_interrupted_upload_is_resumed_on_the_next_run(world_factory):
    world = world_factory(["tiktok"])
    world.fakes["tiktok"].faults.next("status", "5xx", times=200)
    report = publish_due(world.rt, T0, connectors=world.factory())
    assert report.published == 0 and report.waiting == 1
    post = world.posts()[0]
    assert post["state"] == "uploading" and post["platform_ref"] and post["next_attempt_at"] > T0
    world.fakes["tiktok"].faults.clear()
    assert publish_due(world.rt, T0 + HOUR, connectors=world.factory()).published == 1
    assert world.fakes["tiktok"].received["init"] == 1 and world.published_counts() == {post["idempotency_key"]: 1}


def test_refresh_refused_holds_the_account_and_a_reconnect_releases_it(world_factory):
    world = world_factory(["tiktok", "x"], assets=3)
    tiktok = world.fakes["tiktok"]
    tiktok.tokens.revoke_refresh()
    tiktok.tokens.expire_all()
    report = publish_due(world.rt, T0, connectors=world.factory())
    assert report.failed == 0 and report.held >= 1 and report.published == 3
    states = {(p["platform"], p["state"]) for p in world.posts()}
    assert states == {("tiktok", "held"), ("x", "published")}
    accounts = {a["platform"]: a for a in check_accounts(world.rt, probe=False, connectors=world.factory())}
    assert accounts["tiktok"]["status"] == "needs_reconnect" and accounts["tiktok"]["held_posts"] == 3
    assert "reconnect" in accounts["tiktok"]["message"]
    # Someone reconnects the account: new tokens in the environment.
    world.secrets.add("TEST_TIKTOK_0", tiktok.tokens.grant(), world.clock)
    again = publish_due(world.rt, T0 + HOUR, connectors=world.factory())
    assert again.published == 3 and world.states() == {"published": 6}
    assert sorted(world.published_counts().values()) == [1] * 6


def test_daily_cap_defers_posts_instead_of_being_refused(world_factory):
    world = world_factory(["tiktok"], assets=3)
    base = world.factory()

    def capped(account):
        conn = base(account)
        conn.daily_post_cap = 2
        return conn

    report = publish_due(world.rt, T0, connectors=capped)
    assert report.published == 2 and report.waiting == 1
    waiting = next(p for p in world.posts() if p["state"] == "planned")
    assert waiting["next_attempt_at"] >= T0 + dt.timedelta(hours=24)
    assert publish_due(world.rt, T0 + 2 * HOUR, connectors=capped).published == 0
    world.clock.now += 25 * 3600
    assert publish_due(world.rt, T0 + dt.timedelta(hours=25), connectors=capped).published == 1


def test_permanent_refusal_fails_one_post_in_words(world_factory):
    world = world_factory(["tiktok"], assets=2)
    world.fakes["tiktok"].fail_processing.append("frame_rate_check_failed")
    report = publish_due(world.rt, T0, connectors=world.factory())
    assert report.published == 1 and report.failed == 1
    failed = next(p for p in world.posts() if p["state"] == "failed")
    assert "frames per second" in failed["last_error"] and failed["error_kind"] == "permanent"


def test_reschedule_and_cancel_a_planned_post(world_factory):
    world = world_factory(["tiktok"], assets=2)
    first, second = (p["idempotency_key"] for p in world.posts())
    moved = reschedule(world.rt, first, T0 + 5 * HOUR, connectors=world.factory())
    assert moved["scheduled_at"] == T0 + 5 * HOUR
    assert cancel(world.rt, second, connectors=world.factory())["state"] == "cancelled"
    assert publish_due(world.rt, T0, connectors=world.factory()).published == 0
    assert publish_due(world.rt, T0 + 5 * HOUR, connectors=world.factory()).published == 1
    with pytest.raises(ChorusError, match="already published"):
        cancel(world.rt, first, connectors=world.factory())
    with pytest.raises(ChorusError, match="time zone"):
        reschedule(world.rt, first, dt.datetime(2027, 5, 1, 18, 0))


def test_reschedule_and_cancel_a_natively_scheduled_post(world_factory):
    world = world_factory(["youtube"], assets=2, at=T0 + 3 * HOUR)
    assert publish_due(world.rt, T0, connectors=world.factory()).scheduled == 2
    first, second = (p["idempotency_key"] for p in world.posts())
    moved = reschedule(world.rt, first, T0 + 6 * HOUR, connectors=world.factory())
    assert moved["state"] == "scheduled" and moved["scheduled_at"] == T0 + 6 * HOUR
    fake = world.fakes["youtube"]
    publish_ats = sorted(v["resource"]["status"].get("publishAt", "-") for v in fake.videos.values())
    assert "2027-03-01T23:00:00Z" in publish_ats
    cancel(world.rt, second, connectors=world.factory())
    world.clock.now = (T0 + 7 * HOUR).timestamp()
    report = publish_due(world.rt, T0 + 7 * HOUR, connectors=world.factory())
    assert report.published == 1 and world.states() == {"published": 1, "cancelled": 1}


def test_a_tiktok_post_id_that_comes_after_moderation_is_filled_in_later(world_factory):
    world = world_factory(["tiktok"])
    fake = world.fakes["tiktok"]
    real_status = fake.status

    def status_without_id(req):  # moderation pending: complete, but no public id yet
        resp = real_status(req)
        resp.body["data"].pop("publicaly_available_post_id", None)
        return resp

    fake.routes = [r if r.name != "status" else type(r)(r.method, r.pattern, status_without_id, r.name, r.auth)
                   for r in fake.routes]
    assert publish_due(world.rt, T0, connectors=world.factory()).published == 1
    assert world.posts()[0]["platform_post_id"] is None
    fake.routes = [r if r.name != "status" else type(r)(r.method, r.pattern, real_status, r.name, r.auth)
                   for r in fake.routes]
    publish_due(world.rt, T0 + HOUR, connectors=world.factory())
    post = world.posts()[0]
    assert post["platform_post_id"] == fake.published[0]["id"] and post["post_url"].endswith(post["platform_post_id"])
    assert world.published_counts() == {post["idempotency_key"]: 1}
