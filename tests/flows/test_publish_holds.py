"""Planning waits for the reviews a manifest asks for: captions under review plan no post; a held variant gets none."""
from __future__ import annotations

import datetime as dt

import yaml

from campaign.manifest import load_manifest
from campaign.settings import Settings
from flows.runtime import make_runtime
from flows.stage_caption import caption_asset, import_reviewed_captions
from flows.stage_ingest import ingest_asset, register_campaign
from flows.stage_publish import publishing_holds, schedule_asset_posts
from flows.stage_variants import render_asset_variants

NOW = dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.timezone.utc)


def _prepare(tiny_campaign, review: dict):
    data = yaml.safe_load(tiny_campaign.read_text(encoding="utf-8"))
    data["review"] = review
    tiny_campaign.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    rt = make_runtime(Settings.from_env())
    manifest = load_manifest(tiny_campaign)
    asset = manifest.asset("good")
    register_campaign(rt, manifest)
    ingested = ingest_asset(rt, manifest, asset)
    caption_asset(rt, manifest, asset)
    render_asset_variants(rt, manifest, asset, ingested.master_key)
    return rt, manifest, asset


def test_unreviewed_captions_hold_every_post_until_the_review_is_imported(chorus_home, tiny_campaign):
    rt, manifest, asset = _prepare(tiny_campaign, {"captions": True})
    with rt.warehouse() as con:
        con.execute("UPDATE captions SET reviewed = false, origin = 'automatic'")
        holds = publishing_holds(con, manifest, asset)
    assert any("await review" in h for h in holds)
    assert schedule_asset_posts(rt, manifest, asset, NOW) == 0
    import_reviewed_captions(rt, manifest, "good", "en", tiny_campaign.parent / "good.en.srt", reviewed_by="Amira")
    assert schedule_asset_posts(rt, manifest, asset, NOW) == 3


def test_a_variant_that_is_not_publishable_gets_no_post(chorus_home, tiny_campaign):
    rt, manifest, asset = _prepare(tiny_campaign, {})
    with rt.warehouse() as con:
        con.execute("UPDATE variants SET publishable = false, hold_reason = 'machine translation awaiting review' "
                    "WHERE language = 'de' AND format = '16:9'")
        holds = publishing_holds(con, manifest, asset)
    assert holds == [h for h in holds if "machine translation awaiting review" in h] and len(holds) == 1
    assert schedule_asset_posts(rt, manifest, asset, NOW) == 2
    with rt.warehouse() as con:
        planned = {r[0] for r in con.execute("SELECT account_id FROM posts").fetchall()}
    assert planned == {"ngo-linkedin"}
