"""The canonical vocabulary: every platform name maps to a known canonical metric with a definition version,
renamed and retired Meta metrics are understood (never silently zero), and the terminology table is complete."""
from __future__ import annotations

import datetime as dt

import pytest

from campaign import metrics as m
from campaign.manifest import Kpi


def test_every_mapping_targets_a_canonical_metric_with_a_version():
    for platform, table in m.MAPPINGS.items():
        for raw, mapping in table.items():
            assert mapping.canonical in m.CANONICAL_METRICS, (platform, raw)
            assert mapping.definition_version and mapping.definition, (platform, raw)
            assert mapping.status in {"current", "renamed", "deprecated", "retired"}
            assert mapping.scale > 0


def test_platform_names_map_to_one_vocabulary():
    assert m.canonical("tiktok", "view_count").canonical == "views"
    assert m.canonical("youtube", "viewCount").canonical == "views"
    assert m.canonical("x", "reply_count").canonical == "comments"
    assert m.canonical("instagram", "saved").canonical == "saves"
    assert m.canonical("linkedin", "uniqueImpressionsCount").canonical == "reach"
    watched = m.canonical("youtube", "estimatedMinutesWatched")
    assert (watched.canonical, watched.scale) == ("watch_time", 60.0)  # minutes -> seconds
    assert m.canonical("instagram", "ig_reels_avg_watch_time").scale == 0.001  # ms -> s
    assert m.canonical("tiktok", "no_such_metric") is None


def test_meta_renamed_plays_to_views_and_retired_impressions():
    plays = m.canonical("instagram", "plays")
    views = m.canonical("instagram", "views")
    assert plays.canonical == views.canonical == "views"
    assert plays.status == "renamed" and plays.replaced_by == "views"
    assert plays.definition_version != views.definition_version  # the change of definition stays visible
    assert plays.rank > views.rank  # in one pull the current name wins
    impressions = m.canonical("instagram", "impressions")
    assert impressions.status == "deprecated" and impressions.valid_until == dt.date(2024, 7, 2)
    # Instagram media created after 2024-07-02 cannot report impressions; older media could.
    assert m.available("instagram", "impressions", dt.date(2024, 8, 1)) is None
    assert m.available("instagram", "impressions", dt.date(2024, 5, 1)) is not None
    assert m.available("instagram", "views", dt.date(2026, 1, 1)).raw_name == "views"


def test_parts_add_up_and_unmapped_names_have_a_reason():
    x_shares = m.mappings_for("x", "shares")
    assert {p.raw_name for p in x_shares} == {"retweet_count", "quote_count"} and all(p.part for p in x_shares)
    assert "always 0" in m.unmapped_reason("youtube", "favoriteCount")
    assert m.unmapped_reason("youtube", "brand_new") is None
    # A known raw name is either mapped or deliberately unmapped, never both.
    for platform, table in m.UNMAPPED.items():
        assert not set(table) & set(m.MAPPINGS.get(platform, {}))


def test_terminology_table_lists_every_metric_and_platform():
    rows = m.terminology()
    assert [r["metric"] for r in rows] == list(m.CANONICAL_METRICS)
    views = next(r for r in rows if r["metric"] == "views")
    assert "`view_count`" in views["tiktok"] and "`plays` (renamed 2025-04-21)" in views["instagram"]
    md = m.terminology_markdown()
    assert md.count("\n") == len(rows) + 1 and "| reach |" in md


def test_fetch_batches_follow_platform_limits():
    assert (m.fetch_batch("tiktok"), m.fetch_batch("youtube"), m.fetch_batch("x")) == (20, 50, 100)
    assert m.fetch_batch("unknown") == m.DEFAULT_FETCH_BATCH


@pytest.mark.parametrize("metric", sorted(m.CANONICAL_METRICS))
def test_every_canonical_metric_is_a_valid_kpi(metric):
    assert Kpi(metric=metric, target=1).metric == metric
