"""Snapshot appends: mapped to the vocabulary in SQL, idempotent, payload kept once per answer, no zero for a
missing value, metric_current equal to a rebuild from history, and posts due by cadence."""
from __future__ import annotations

import datetime as dt

import pytest

from tests.warehouse import impact_dataset as ds
from warehouse import db
from warehouse.snapshots import Cadence, Snapshot, append_snapshots, log_attempts, posts_due_for_pull, rebuild_current

UTC = dt.timezone.utc
T = dt.datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture
def con(tmp_path):
    c = db.connect(tmp_path / "w.duckdb")
    yield c
    c.close()


def snap(name, value, at=T, age=7200.0, platform="youtube", key="k1", payload=None):
    return Snapshot("c", key, platform, "p1", at, age, name, value, False, payload)


def test_raw_values_are_kept_with_canonical_name_scale_and_version(con):
    payload = {"items": [{"statistics": {"viewCount": "12"}}]}
    n = append_snapshots(con, [snap("viewCount", 12.0, payload=payload),
                               snap("estimatedMinutesWatched", 3.0, payload=payload)])
    assert n == 2
    rows = con.execute("""SELECT raw_name, raw_value, canonical_name, canonical_value, definition_version, payload_no
                          FROM metric_snapshots ORDER BY raw_name""").fetchall()
    assert rows == [("estimatedMinutesWatched", 3.0, "watch_time", 180.0, "analytics-v2", 0),
                    ("viewCount", 12.0, "views", 12.0, "data-v3", 0)]
    # One payload object shared by both readings is stored once, for audit.
    payloads = con.execute("SELECT payload FROM metric_payloads").fetchall()
    assert len(payloads) == 1 and '"viewCount": "12"' in payloads[0][0]


def test_same_snapshots_twice_add_nothing_and_newer_ones_add(con):
    batch = [snap("viewCount", 10.0), snap("likeCount", 1.0)]
    assert append_snapshots(con, batch) == 2
    assert append_snapshots(con, batch) == 0
    assert append_snapshots(con, batch + batch) == 0  # duplicates inside one batch too
    later = [snap("viewCount", 15.0, at=T + dt.timedelta(hours=1), age=10800.0)]
    assert append_snapshots(con, later) == 1
    assert con.execute("SELECT count(*) FROM metric_snapshots").fetchall()[0][0] == 3
    current = con.execute("SELECT last_value, snapshots FROM metric_current WHERE raw_name = 'viewCount'").fetchall()
    assert current == [(15.0, 2)]


def test_a_missing_value_is_null_never_zero(con):
    append_snapshots(con, [snap("viewCount", None)])
    assert con.execute("SELECT raw_value, canonical_value FROM metric_snapshots").fetchall() == [(None, None)]
    assert con.execute("SELECT count(*) FROM post_metrics_latest").fetchall()[0][0] == 0


def test_unknown_platform_names_are_kept_raw(con):
    append_snapshots(con, [snap("shiny_new_counter", 5.0, platform="tiktok")])
    assert con.execute("SELECT raw_name, raw_value, canonical_name FROM metric_snapshots").fetchall() == [
        ("shiny_new_counter", 5.0, None)]


def test_naive_times_are_refused(con):
    with pytest.raises(ValueError, match="timezone"):
        append_snapshots(con, [snap("viewCount", 1.0, at=dt.datetime(2026, 1, 1))])


def test_materialized_latest_equals_the_live_view(con):
    ds.load(con)
    assert con.execute("SELECT count(*) FROM metric_latest").fetchall()[0][0] > 0
    for a, b in (("metric_latest", "post_metrics_latest_live"), ("post_metrics_latest_live", "metric_latest")):
        assert con.execute(f"SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b})").fetchall() == [(0,)]


def test_incremental_current_equals_a_rebuild_from_history(con):
    ds.load(con)
    cols = ("idempotency_key, raw_name, last_value, last_pulled_at, snapshots, at_24h, at_7d, at_30d, "
            "at_24h_age_s, at_7d_age_s, first_pulled_at")
    incremental = con.execute(f"SELECT {cols} FROM metric_current ORDER BY 1, 2").fetchall()
    rebuild_current(con)
    assert con.execute(f"SELECT {cols} FROM metric_current ORDER BY 1, 2").fetchall() == incremental


def test_the_figure_closest_to_each_age_wins_and_older_arrivals_are_dropped(con):
    def at(hours, value):
        return [snap("viewCount", value, at=T + dt.timedelta(hours=hours), age=hours * 3600.0)]

    append_snapshots(con, at(23, 230.0))     # 1 h from 24 h
    append_snapshots(con, at(24.5, 245.0))   # 0.5 h from 24 h: closer, wins
    append_snapshots(con, at(26, 260.0))     # 2 h away: farther, does not replace it
    assert append_snapshots(con, at(23.9, 239.0)) == 0  # older than what is kept: dropped (idempotency rule)
    row = con.execute("SELECT last_value, at_24h, at_24h_age_s FROM metric_current").fetchall()[0]
    assert row == (260.0, 245.0, 24.5 * 3600)


def test_posts_due_follow_the_cadence(con):
    published = T - dt.timedelta(hours=2)
    con.execute("""INSERT INTO posts (idempotency_key, campaign_id, asset_id, variant_id, language, format, account_id,
                       platform, organisation_id, country, sandbox, scheduled_at, state, platform_post_id, published_at)
                   VALUES ('k1', 'c', 'a', 'v', 'en', '9:16', 'acc', 'tiktok', 'o', 'IE', false, ?, 'published', 'p1', ?),
                          ('k2', 'c', 'a', 'v', 'en', '9:16', 'acc', 'tiktok', 'o', 'IE', false, ?, 'planned', NULL, NULL)""",
                [published, published, published])
    cadence = Cadence.parse("6h:30m,*:1d")
    assert [p["idempotency_key"] for p in posts_due_for_pull(con, T, cadence)] == ["k1"]
    log_attempts(con, [("pull1", "k1", "tiktok", "acc", T, "empty", 0, None)])
    assert posts_due_for_pull(con, T + dt.timedelta(minutes=10), cadence) == []
    assert len(posts_due_for_pull(con, T + dt.timedelta(minutes=31), cadence)) == 1
