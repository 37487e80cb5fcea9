"""The publishing ledger on the real migrations: planning, compare-and-set transitions, handles, holds, caps."""
from __future__ import annotations

import datetime as dt

import pytest

from warehouse import db
from warehouse.ledger import Ledger, PlannedPost, StaleTransition

T0 = dt.datetime(2027, 3, 28, 17, 0, tzinfo=dt.timezone.utc)


def _post(key: str, at: dt.datetime = T0, account: str = "acc-tiktok", platform: str = "tiktok") -> PlannedPost:
    return PlannedPost(key, "camp", "asset", f"camp/asset/de/{key}", "de", "9:16", account, platform, "org", "DE",
                       False, at)


@pytest.fixture
def ledger(tmp_path):
    con = db.connect(tmp_path / "w.duckdb")
    yield Ledger(con)
    con.close()


def test_plan_is_idempotent_and_keeps_an_existing_row(ledger):
    assert ledger.plan([_post("a"), _post("b")]) == 2
    ledger.transition("a", "uploading", expect=["planned"])
    assert ledger.plan([_post("a", T0 + dt.timedelta(days=1)), _post("c")]) == 1
    row = ledger.get("a")
    assert row["state"] == "uploading" and row["scheduled_at"] == T0


def test_transition_is_compare_and_set_and_audited(ledger):
    ledger.plan([_post("a")])
    ledger.transition("a", "uploading", expect=["planned"], detail="go", started_at=T0)
    with pytest.raises(StaleTransition):
        ledger.transition("a", "uploading", expect=["planned"])  # a second worker loses
    ledger.transition("a", "published", expect=["uploading"], platform_post_id="v1", published_at=T0)
    assert [(e["from_state"], e["to_state"]) for e in ledger.history("a")] == [
        (None, "planned"), ("planned", "uploading"), ("uploading", "published")]
    with pytest.raises(ValueError):
        ledger.transition("a", "gone", expect=["published"])


def test_save_ref_only_while_the_post_is_in_flight(ledger):
    ledger.plan([_post("a")])
    with pytest.raises(StaleTransition):
        ledger.save_ref("a", {"publish_id": "p"})
    ledger.transition("a", "uploading", expect=["planned"])
    ledger.save_ref("a", {"publish_id": "p", "n": 1})
    assert ledger.get("a")["platform_ref"] == {"publish_id": "p", "n": 1}
    assert len(ledger.history("a")) == 2  # handles are not state changes


def test_due_includes_interrupted_posts_and_respects_waits(ledger):
    ledger.plan([_post("early", T0), _post("late", T0 + dt.timedelta(hours=2)), _post("mid", T0)])
    ledger.transition("mid", "unknown", expect=["planned"])
    ledger.transition("early", "planned", expect=["planned"], next_attempt_at=T0 + dt.timedelta(minutes=5))
    assert {p["idempotency_key"] for p in ledger.due(T0)} == {"mid"}
    assert {p["idempotency_key"] for p in ledger.due(T0 + dt.timedelta(minutes=6))} == {"mid", "early"}
    ahead = ledger.planned_between(T0, T0 + dt.timedelta(hours=3), platforms=["tiktok"])
    assert [p["idempotency_key"] for p in ahead] == ["late"]
    assert ledger.planned_between(T0, T0 + dt.timedelta(hours=3), platforms=[]) == []


def test_hold_and_release_an_account(ledger):
    ledger.plan([_post("a"), _post("b"), _post("c"), _post("other", account="acc-x", platform="x")])
    ledger.transition("b", "uploading", expect=["planned"], started_at=T0)
    ledger.transition("c", "published", expect=["planned"])
    assert ledger.hold_account("acc-tiktok", "tiktok", "refresh refused") == 2
    assert ledger.get("a")["state"] == "held" and ledger.get("a")["error_kind"] == "needs_reconnect"
    assert ledger.get("c")["state"] == "published" and ledger.get("other")["state"] == "planned"
    assert ledger.release_account("acc-tiktok", "tiktok") == 2
    assert ledger.get("a")["state"] == "planned"
    assert ledger.get("b")["state"] == "unknown"  # it had started: ask the platform first


def test_started_since_counts_for_daily_caps(ledger):
    ledger.plan([_post(k) for k in "abc"])
    for i, key in enumerate("ab"):
        ledger.transition(key, "uploading", expect=["planned"], started_at=T0 + dt.timedelta(hours=i))
    assert ledger.started_since("acc-tiktok", "tiktok", T0 - dt.timedelta(hours=24)) == 2
    assert ledger.started_since("acc-tiktok", "tiktok", T0 + dt.timedelta(minutes=30)) == 1
    assert ledger.oldest_started_since("acc-tiktok", "tiktok", T0 - dt.timedelta(days=1)) == T0


def test_account_status_is_kept_per_account(ledger):
    ledger.set_account_status("acc-tiktok", "tiktok", "needs_reconnect", "reconnect it")
    ledger.set_account_status("acc-tiktok", "tiktok", "ok", "connected")
    rows = ledger.account_status()
    assert len(rows) == 1 and rows[0]["status"] == "ok"
