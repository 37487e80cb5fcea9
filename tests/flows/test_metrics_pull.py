"""The metrics pull with platform-shaped test doubles: batching to each platform's limit, cadence by post age,
a repeated pull adding nothing, a lagging platform, a renamed metric, and one account's error not stopping others."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from connectors.base import ConnectorError, ErrorKind, MetricReading
from flows.stage_metrics import pull
from warehouse import db
from warehouse.snapshots import Cadence

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class FakeTikTok:
    """TikTok Display API shape: view_count, like_count ... for at most 20 ids per call."""

    platform = "tiktok"
    metric_vocabulary = "tiktok"

    def __init__(self):
        self.calls: list[int] = []

    def fetch_metrics(self, posts):
        assert len(posts) <= 20, "TikTok video.query takes at most 20 ids"
        self.calls.append(len(posts))
        out = []
        for post_id, published in posts:
            n = int(post_id.rsplit("-", 1)[-1])
            payload = {"id": post_id}
            out += [MetricReading(post_id, "view_count", 100.0 * (n + 1), payload),
                    MetricReading(post_id, "like_count", 10.0 * (n + 1), payload)]
        return out


class FakeX(FakeTikTok):
    platform = "x"
    metric_vocabulary = "x"

    def fetch_metrics(self, posts):
        assert len(posts) <= 100
        self.calls.append(len(posts))
        return [MetricReading(p, "retweet_count", 3.0) for p, _ in posts] + \
               [MetricReading(p, "quote_count", 2.0) for p, _ in posts]


class FakeInstagram:
    """Insights that lag 48 h (nothing for a younger post) and that used `plays` before `views`."""

    platform = "instagram"
    metric_vocabulary = "instagram"

    def __init__(self, clock, renamed_after: dt.datetime | None = None):
        self.clock = clock
        self.renamed_after = renamed_after

    def fetch_metrics(self, posts):
        out = []
        now = self.clock()
        for post_id, published in posts:
            age_h = (now - published).total_seconds() / 3600
            if age_h < 48:
                continue  # empty set: not 0
            name = "views" if self.renamed_after is None or now >= self.renamed_after else "plays"
            out += [MetricReading(post_id, name, 50.0 * age_h), MetricReading(post_id, "reach", 40.0 * age_h)]
        return out


class Broken:
    platform = "youtube"
    metric_vocabulary = "youtube"

    def fetch_metrics(self, posts):
        raise ConnectorError(ErrorKind.AUTH_EXPIRED, "youtube", "the token expired", reason="invalid_grant")


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "w.duckdb"
    with db.writer(path) as con:
        con.execute("INSERT INTO campaigns (campaign_id, name, manifest) VALUES ('c', 'C', '{}')")
    return path


def add_posts(path, account: str, platform: str, n: int, published: dt.datetime, sandbox: bool = False) -> None:
    with db.writer(path, publish=False) as con:
        for i in range(n):
            con.execute(
                """INSERT INTO posts (idempotency_key, campaign_id, asset_id, variant_id, language, format, account_id,
                       platform, organisation_id, country, sandbox, scheduled_at, state, platform_post_id, published_at)
                   VALUES (?, 'c', 'a', 'v', 'en', '9:16', ?, ?, 'o', 'IE', ?, ?, 'published', ?, ?)""",
                [f"{account}-k{i}", account, platform, sandbox, published, f"{account}-{i}", published])


def run(path, connectors: dict[str, Any], now: dt.datetime, **kw):
    return pull(lambda: db.writer(path), lambda cid, acc: connectors[acc], now, **kw)


def snapshot_count(path) -> int:
    con = db.connect(path, read_only=True)
    try:
        return con.execute("SELECT count(*) FROM metric_snapshots").fetchall()[0][0]
    finally:
        con.close()


def test_batches_follow_each_platform_limit(warehouse):
    add_posts(warehouse, "tt", "tiktok", 45, NOW - dt.timedelta(days=1))
    add_posts(warehouse, "xx", "x", 120, NOW - dt.timedelta(days=1))
    tt, x = FakeTikTok(), FakeX()
    report = run(warehouse, {"tt": tt, "xx": x}, NOW)
    assert tt.calls == [20, 20, 5] and x.calls == [100, 20]
    assert report.posts == 165 and report.posts_answered == 165 and report.batches == 5
    assert report.snapshots == 45 * 2 + 120 * 2
    con = db.connect(warehouse, read_only=True)
    shares = con.execute("SELECT DISTINCT shares FROM post_metrics_wide WHERE platform = 'x'").fetchall()
    views = con.execute("SELECT views FROM post_metrics_wide WHERE idempotency_key = 'tt-k7'").fetchall()
    con.close()
    assert shares == [(5.0,)] and views == [(800.0,)]


def test_a_repeated_pull_adds_nothing(warehouse):
    add_posts(warehouse, "tt", "tiktok", 3, NOW - dt.timedelta(days=2))
    first = run(warehouse, {"tt": FakeTikTok()}, NOW)
    n = snapshot_count(warehouse)
    again = run(warehouse, {"tt": FakeTikTok()}, NOW, force=True)  # the very same pull, forced past the cadence
    assert first.snapshots == n == 6
    assert again.posts == 3 and again.snapshots == 0 and snapshot_count(warehouse) == n


def test_cadence_pulls_young_posts_more_often(warehouse):
    add_posts(warehouse, "young", "tiktok", 2, NOW - dt.timedelta(hours=2))
    add_posts(warehouse, "old", "tiktok", 2, NOW - dt.timedelta(days=20))
    fakes = {"young": FakeTikTok(), "old": FakeTikTok()}
    cadence = Cadence.parse("6h:15m,3d:1h,*:1d")
    assert run(warehouse, fakes, NOW, cadence=cadence).posts == 4
    assert run(warehouse, fakes, NOW + dt.timedelta(minutes=5), cadence=cadence).posts == 0
    later = run(warehouse, fakes, NOW + dt.timedelta(minutes=20), cadence=cadence)
    assert later.posts == 2 and later.snapshots == 4  # the young ones only
    assert run(warehouse, fakes, NOW + dt.timedelta(days=1, minutes=1), cadence=cadence).posts == 4
    assert Cadence.parse("*:1d,stop:30d").interval_s(31 * 86400) is None
    with pytest.raises(ValueError, match="duration"):
        Cadence.parse("3d:soon")


def test_lagging_platform_is_asked_again_and_never_zeroed(warehouse):
    add_posts(warehouse, "ig", "instagram", 1, NOW - dt.timedelta(hours=3))
    clock = {"now": NOW}
    ig = FakeInstagram(lambda: clock["now"])
    first = run(warehouse, {"ig": ig}, NOW)
    assert first.posts_empty == 1 and first.snapshots == 0 and snapshot_count(warehouse) == 0
    clock["now"] = NOW + dt.timedelta(hours=50)
    second = run(warehouse, {"ig": ig}, clock["now"])
    assert second.posts_answered == 1 and second.snapshots == 2
    con = db.connect(warehouse, read_only=True)
    outcomes = [r[0] for r in con.execute("SELECT outcome FROM metric_pull_log ORDER BY attempted_at").fetchall()]
    con.close()
    assert outcomes == ["empty", "answered"]


def test_a_renamed_metric_continues_through_pulls(warehouse):
    published = NOW - dt.timedelta(days=3)
    add_posts(warehouse, "ig", "instagram", 1, published)
    clock = {"now": NOW}
    ig = FakeInstagram(lambda: clock["now"], renamed_after=NOW + dt.timedelta(hours=12))
    run(warehouse, {"ig": ig}, NOW)
    clock["now"] = NOW + dt.timedelta(days=1)
    run(warehouse, {"ig": ig}, clock["now"])
    con = db.connect(warehouse, read_only=True)
    row = con.execute("SELECT views, definition_changed FROM post_metrics_wide").fetchall()[0]
    names = {r[0] for r in con.execute("SELECT raw_name FROM metric_snapshots").fetchall()}
    con.close()
    age_h = (clock["now"] - published).total_seconds() / 3600
    assert names >= {"plays", "views"} and row == (50.0 * age_h, True)


def test_one_accounts_error_does_not_stop_the_others(warehouse):
    add_posts(warehouse, "yt", "youtube", 2, NOW - dt.timedelta(days=1))
    add_posts(warehouse, "tt", "tiktok", 2, NOW - dt.timedelta(days=1))
    report = run(warehouse, {"yt": Broken(), "tt": FakeTikTok()}, NOW)
    assert report.snapshots == 4 and len(report.errors) == 1
    assert report.errors[0].startswith("yt:") and "expired" in report.errors[0]
    con = db.connect(warehouse, read_only=True)
    log = dict(con.execute("SELECT idempotency_key, outcome FROM metric_pull_log").fetchall())
    pulls = con.execute("SELECT errors, snapshots_added FROM metric_pulls").fetchall()
    con.close()
    assert log == {"yt-k0": "error", "yt-k1": "error", "tt-k0": "answered", "tt-k1": "answered"}
    assert pulls == [(1, 4)]
    # The failed account is due again at the next run.
    assert run(warehouse, {"yt": Broken(), "tt": FakeTikTok()}, NOW + dt.timedelta(hours=2)).posts == 4


class OddTikTok(FakeTikTok):
    def fetch_metrics(self, posts):
        return super().fetch_metrics(posts) + [MetricReading(posts[0][0], "share_count", "n/a")]


def test_a_figure_that_is_not_a_number_is_left_out_and_named(warehouse):
    add_posts(warehouse, "tt", "tiktok", 2, NOW - dt.timedelta(days=1))
    report = run(warehouse, {"tt": OddTikTok()}, NOW)
    assert report.snapshots == 4 and report.posts_answered == 2
    assert len(report.errors) == 1 and "share_count='n/a'" in report.errors[0]
