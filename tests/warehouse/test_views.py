"""Impact views on a data set with known answers: reach and engagement by every dimension, KPI progress, fixed-age
figures, renamed platform metrics, parts that add up, a lagging platform and variant comparison intervals."""
from __future__ import annotations

import pytest

from tests.warehouse import impact_dataset as ds
from warehouse import db
from warehouse.report import query


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    c = db.connect(tmp_path_factory.mktemp("views") / "w.duckdb")
    ds.load(c)
    yield c
    c.close()


def _by(con, dimension):
    rows = query(con, "impact_breakdown", campaign_id=ds.CID)
    return {r["value"]: r for r in rows if r["dimension"] == dimension}


@pytest.mark.parametrize("dimension,attr", [("country", "country"), ("language", "language"),
                                            ("platform", "platform"), ("organisation", "org"),
                                            ("format", "format"), ("asset", "asset")])
def test_reach_views_and_engagements_by_dimension(con, dimension, attr):
    rows = _by(con, dimension)
    values = {getattr(p, attr) for p in ds.POSTS}
    assert set(rows) == values
    for value in values:
        posts = [p for p in ds.POSTS if getattr(p, attr) == value]
        assert rows[value]["sum_of_post_reach"] == ds.expected_sum("reach", **{attr: value})
        assert rows[value]["views"] == ds.expected_sum("views", **{attr: value})
        eng = [ds.engagements(p) for p in posts if ds.engagements(p) is not None]
        assert rows[value]["engagements"] == (sum(eng) if eng else None)
        assert rows[value]["posts"] == len(posts)


def test_reach_is_never_called_reach_when_summed(con):
    for view in ("impact_breakdown", "impact_by_country", "reach_by_country_language_platform"):
        cols = [d[0] for d in con.execute(f"SELECT * FROM {view} LIMIT 0").description]
        assert "sum_of_post_reach" in cols and "reach" not in cols


def test_organisation_view_names_the_organisation(con):
    rows = {r[0]: r[1] for r in con.execute(
        "SELECT organisation_id, organisation FROM impact_by_organisation WHERE campaign_id = ?", [ds.CID]).fetchall()}
    assert rows == ds.ORGS


def test_sandbox_rows_say_sandbox(con):
    rows = query(con, "reach_by_country_language_platform", campaign_id=ds.CID)
    by = {(r["country"], r["language"], r["platform"]): r["source"] for r in rows}
    assert by[("DE", "de", "tiktok")] == "sandbox+live"
    assert by[("IE", "en", "x")] == "live"


def test_kpi_progress_against_targets_with_pace(con):
    rows = {r["objective_id"]: r for r in query(con, "kpi_progress", campaign_id=ds.CID, as_of=ds.AS_OF)}
    days_left = (ds.DEADLINE - ds.AS_OF).days
    reach = ds.expected_sum("reach")
    assert rows["reach-all"]["value"] == reach
    assert rows["reach-all"]["measure"] == "sum of post reach"
    assert rows["reach-all"]["progress"] == pytest.approx(reach / 20000)
    assert rows["reach-all"]["days_left"] == days_left
    assert rows["reach-all"]["needed_per_day"] == pytest.approx((20000 - reach) / days_left)
    de_views = ds.expected_sum("views", country="DE")
    assert rows["views-de"]["value"] == de_views
    assert rows["x-shares"]["value"] == ds.expected_sum("shares", platform="x")
    assert rows["quality"]["value"] == pytest.approx(ds.expected_engagement_rate(ds.POSTS))
    assert rows["quality"]["needed_per_day"] is None  # a rate has no daily pace


def test_a_metric_some_platforms_do_not_report_is_not_counted_as_zero(con):
    row = next(r for r in query(con, "kpi_progress", campaign_id=ds.CID, as_of=ds.AS_OF)
               if r["objective_id"] == "impressions")
    assert row["value"] == ds.expected_sum("impressions")
    measured = [p for p in ds.POSTS if "impressions" in p.final]
    assert row["posts_measured"] == len(measured)
    assert row["posts_in_scope"] == len(ds.POSTS)
    assert set(row["platforms_missing"]) == {p.platform for p in ds.POSTS if "impressions" not in p.final}


def test_renamed_instagram_metric_continues_the_series(con):
    # The first pulls said `plays`, the last says `views`: one views series, its definition change flagged.
    rows = con.execute("""SELECT canonical_value, definition_changed, definition_versions FROM post_metrics_latest
                          WHERE idempotency_key = 'k-ig-es' AND canonical_name = 'views'""").fetchall()
    ig = next(p for p in ds.POSTS if p.key == "k-ig-es")
    assert rows[0][0] == ig.final["views"]
    assert rows[0][1] is True and "plays" in rows[0][2]
    at = dict(con.execute("""SELECT age, value FROM post_metrics_at_age
                             WHERE idempotency_key = 'k-ig-es' AND canonical_name = 'views'""").fetchall())
    assert at["24h"] == ig.final["views"] // 2  # measured under the old name, still a views figure


def test_parts_add_up_and_alternatives_do_not_double_count(con):
    x = next(p for p in ds.POSTS if p.key == "k-x-ie")
    yt = next(p for p in ds.POSTS if p.key == "k-yt-ie")
    got = dict(con.execute("""SELECT idempotency_key, shares FROM post_metrics_wide
                              WHERE idempotency_key IN ('k-x-ie')""").fetchall())
    assert got["k-x-ie"] == x.final["shares"]  # retweets + quotes
    views = con.execute("SELECT views, watch_time FROM post_metrics_wide WHERE idempotency_key = 'k-yt-ie'").fetchall()
    assert views[0] == (yt.final["views"], yt.final["watch_time"])  # viewCount wins over Analytics views


def test_unknown_and_retired_raw_names_are_kept_but_not_counted(con):
    raw = {r[0]: r[1] for r in con.execute(
        "SELECT raw_name, canonical_name FROM metric_current WHERE raw_name IN ('brand_new_metric', 'favoriteCount')"
    ).fetchall()}
    assert raw == {"brand_new_metric": None, "favoriteCount": None}
    gaps = {(g["platform"], g["metric"]): g for g in query(con, "metric_gaps", campaign_id=ds.CID)}
    assert "unknown" in gaps[("x", "brand_new_metric")]["detail"]
    assert "always 0" in gaps[("youtube", "favoriteCount")]["detail"]
    assert ("instagram", "views") in gaps


def test_lagging_platform_post_has_no_zero_rows(con):
    n = con.execute("SELECT count(*) FROM metric_snapshots WHERE idempotency_key = 'k-ig-es-new'").fetchall()[0][0]
    assert n == 0
    row = con.execute("SELECT views, reach FROM post_metrics_wide WHERE idempotency_key = 'k-ig-es-new'").fetchall()
    assert row == [(None, None)]


def test_metrics_at_fixed_age(con):
    rows = {(r[0], r[1]): r[2] for r in con.execute(
        "SELECT idempotency_key, age, views FROM post_metrics_at_age_wide").fetchall()}
    tt = next(p for p in ds.POSTS if p.key == "k-tt-de")
    assert rows[("k-tt-de", "24h")] == tt.final["views"] * 0.5
    assert rows[("k-tt-de", "7d")] == tt.final["views"] * 0.9
    assert ("k-tt-de", "30d") not in rows  # 20 days old: no 30-day figure, not a zero


def test_variant_comparison_finds_the_best_language_with_an_interval(con):
    rows = [r for r in query(con, "variant_comparison", campaign_id=ds.CID)
            if r["asset_id"] == "a1" and r["dimension"] == "language"]
    groups: dict[str, list] = {}
    for p in ds.POSTS:
        if p.asset == "a1" and p.final.get("views") and ds.engagements(p) is not None:
            groups.setdefault(p.language, []).append(p)
    rates = {lang: ds.expected_engagement_rate(ps) for lang, ps in groups.items()}
    ordered = sorted(rates, key=rates.get, reverse=True)
    best, second = ordered[0], ordered[1]
    by = {r["variant"]: r for r in rows}
    assert by[best]["rank"] == 1 and by[best]["compared_with"] == second
    n = sum(p.final["views"] for p in groups[best])
    lo, hi = ds.wilson(sum(ds.engagements(p) for p in groups[best]), n)
    assert by[best]["rate_low"] == pytest.approx(lo) and by[best]["rate_high"] == pytest.approx(hi)
    assert by[best]["diff_low"] < by[best]["diff"] < by[best]["diff_high"]
    assert by[best]["sure"] == (by[best]["diff_low"] > 0)


def test_variant_comparison_is_unsure_when_the_difference_is_within_chance(tmp_path):
    con = db.connect(tmp_path / "w.duckdb")
    ds.load(con)
    # Make two tiny languages almost equal: 3/100 vs 4/100 engagements per view cannot be told apart.
    con.execute("""UPDATE metric_current SET last_value = CASE raw_name WHEN 'view_count' THEN 100
                   WHEN 'like_count' THEN (CASE idempotency_key WHEN 'k-tt-de' THEN 3 ELSE 4 END) ELSE 0 END
                   WHERE idempotency_key IN ('k-tt-de', 'k-tt-ar')""")
    con.execute("DELETE FROM metric_latest")
    con.execute("INSERT INTO metric_latest SELECT * FROM post_metrics_latest_live")
    con.execute("DELETE FROM posts WHERE idempotency_key NOT IN ('k-tt-de', 'k-tt-ar')")
    rows = query(con, "variant_comparison", campaign_id=ds.CID)
    lang = {r["variant"]: r for r in rows if r["dimension"] == "language"}
    assert lang["ar"]["rank"] == 1 and lang["ar"]["sure"] is False
    con.close()


def test_a_platform_without_reach_shows_no_figure_not_zero(con):
    rows = {(r["country"], r["language"], r["platform"]): r
            for r in query(con, "reach_by_country_language_platform", campaign_id=ds.CID)}
    assert rows[("DE", "ar", "tiktok")]["sum_of_post_reach"] is None
    assert rows[("DE", "ar", "tiktok")]["views"] == ds.expected_sum("views", language="ar")
