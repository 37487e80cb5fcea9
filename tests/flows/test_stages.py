"""The stage functions without Prefect: a tiny campaign from master video to published sandbox posts, metrics and report."""
from __future__ import annotations

import datetime as dt

import pytest

from campaign.errors import MediaError
from campaign.manifest import load_manifest
from campaign.settings import Settings
from flows.runtime import make_runtime
from flows.stage_caption import caption_asset
from flows.stage_ingest import ingest_asset, register_campaign
from flows.stage_metrics import pull_metrics
from flows.stage_publish import publish_due, schedule_asset_posts
from flows.stage_variants import render_asset_variants
from media.probe import probe
from warehouse.report import build_report

UTC = dt.timezone.utc


def test_tiny_campaign_end_to_end_through_the_stages(chorus_home, tiny_campaign):
    rt = make_runtime(Settings.from_env())
    manifest = load_manifest(tiny_campaign)
    asset = manifest.asset("good")
    register_campaign(rt, manifest)
    ingested = ingest_asset(rt, manifest, asset)
    assert rt.store.exists(ingested.master_key)

    caption = caption_asset(rt, manifest, asset)
    assert caption.cue_count >= 1
    assert rt.store.exists(caption.srt_key)

    variants = render_asset_variants(rt, manifest, asset, ingested.master_key)
    # X needs de at 16:9 (1280x720); LinkedIn needs en and de at 1:1.
    assert {(v.language, v.format, v.status) for v in variants} == {
        ("de", "16:9", "rendered"), ("en", "1:1", "rendered"), ("de", "1:1", "rendered")}
    for v in variants:
        with rt.store.local_copy(v.key) as path:
            info = probe(path)
        expected = (1280, 720) if v.format == "16:9" else (1080, 1080)
        assert (info.width, info.height) == expected
        assert info.has_audio

    now = dt.datetime.now(UTC)
    assert schedule_asset_posts(rt, manifest, asset, now, post_now=True) == 3
    # Planning again adds nothing: the ledger key is the variant x account.
    assert schedule_asset_posts(rt, manifest, asset, now, post_now=True) == 0

    first = publish_due(rt, now + dt.timedelta(seconds=1))
    assert first.published == 3 and first.failed == 0
    second = publish_due(rt, now + dt.timedelta(seconds=2))
    assert second.published == 0  # never posts twice
    assert len(rt.store.list("sandbox/")) == 3

    pulled = pull_metrics(rt, now + dt.timedelta(hours=1))
    assert pulled.posts == 3 and pulled.snapshots > 0

    with rt.warehouse() as con:
        report = build_report(con, "tiny")
        states = dict(con.execute("SELECT state, count(*) FROM posts GROUP BY 1").fetchall())
    assert states == {"published": 3}
    assert report.breakdown and all(row["sandbox"] for row in report.breakdown)


def test_a_corrupt_asset_is_recorded_as_failed_with_its_reason(chorus_home, tiny_campaign_with_corrupt_asset):
    rt = make_runtime(Settings.from_env())
    manifest = load_manifest(tiny_campaign_with_corrupt_asset)
    register_campaign(rt, manifest)
    with pytest.raises(MediaError) as info:
        ingest_asset(rt, manifest, manifest.asset("broken"))
    assert "broken.mp4" in info.value.line and "re-export" in info.value.line
    with rt.warehouse() as con:
        status, error = con.execute("SELECT status, error FROM assets WHERE asset_id = 'broken'").fetchone()
    assert status == "failed" and "broken.mp4" in error
    # The good asset is unaffected.
    assert ingest_asset(rt, manifest, manifest.asset("good")).info.duration_s > 1
