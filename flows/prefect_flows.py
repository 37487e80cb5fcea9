"""The Prefect flows: one per stage, each a thin layer over a plain stage function, each emitting its event when done.

In server mode each stage is a deployment triggered by the previous stage's event (prefect.yaml); in embedded
mode `campaign_flow` runs the same stage flows in one process, in order.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from prefect import flow, task

from campaign.errors import ChorusError
from campaign.manifest import load_manifest
from flows import events
from flows.runtime import Progress, make_runtime, no_progress
from flows.stage_caption import caption_asset
from flows.stage_ingest import ingest_asset, register_campaign
from flows.stage_metrics import pull_metrics
from flows.stage_publish import publish_due, schedule_asset_posts
from flows.stage_variants import render_asset_variants

# The CLI sets this to draw its progress bars; server runs leave it silent.
PROGRESS: dict[str, Progress] = {"hook": no_progress}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@task(name="ingest asset")
def ingest_task(manifest_path: str, asset_id: str) -> dict[str, Any]:
    rt = make_runtime()
    manifest = load_manifest(manifest_path)
    register_campaign(rt, manifest)
    got = ingest_asset(rt, manifest, manifest.asset(asset_id))
    return {"master_key": got.master_key, "duration_s": got.info.duration_s}


@flow(name="caption", log_prints=True)
def caption_flow(manifest_path: str, asset_id: str) -> dict[str, Any]:
    rt = make_runtime()
    manifest = load_manifest(manifest_path)
    asset = manifest.asset(asset_id)
    ingested = ingest_task(manifest_path, asset_id)
    events.emit(events.ASSET_RECEIVED, events.asset_resource(manifest.id, asset_id),
                {"manifest_path": manifest_path, "master_key": ingested["master_key"]})
    result = caption_asset(rt, manifest, asset)
    payload = {"manifest_path": manifest_path, "language": result.language, "origin": result.origin,
               "cue_count": result.cue_count, "master_key": ingested["master_key"]}
    events.emit(events.CAPTIONS_READY, events.asset_resource(manifest.id, asset_id), payload)
    return payload


@flow(name="variants", log_prints=True)
def variants_flow(manifest_path: str, asset_id: str) -> dict[str, Any]:
    rt = make_runtime()
    manifest = load_manifest(manifest_path)
    asset = manifest.asset(asset_id)
    with rt.warehouse() as con:
        row = con.execute("SELECT source_key FROM assets WHERE campaign_id = ? AND asset_id = ?",
                          [manifest.id, asset_id]).fetchone()
    if not row or not row[0]:
        raise ChorusError(f"asset {asset_id!r} has not been received yet", "run the caption stage first")
    results = render_asset_variants(rt, manifest, asset, row[0], PROGRESS["hook"])
    payload = {
        "manifest_path": manifest_path,
        "rendered": [r.variant_id for r in results if r.status == "rendered"],
        "failed": [{"variant": r.variant_id, "error": r.error} for r in results if r.status == "failed"],
    }
    events.emit(events.VARIANTS_READY, events.asset_resource(manifest.id, asset_id), payload)
    return payload


@flow(name="schedule", log_prints=True)
def schedule_flow(manifest_path: str, asset_id: str, post_now: bool = False) -> dict[str, Any]:
    rt = make_runtime()
    manifest = load_manifest(manifest_path)
    planned = schedule_asset_posts(rt, manifest, manifest.asset(asset_id), _now(), post_now=post_now)
    payload = {"manifest_path": manifest_path, "posts_planned": planned}
    events.emit(events.POSTS_SCHEDULED, events.asset_resource(manifest.id, asset_id), payload)
    return payload


@flow(name="publish-due", log_prints=True)
def publish_due_flow(campaign_id: str | None = None) -> dict[str, Any]:
    rt = make_runtime()
    report = publish_due(rt, _now(), campaign_id=campaign_id, progress=PROGRESS["hook"])
    for d in report.details:
        name = events.POST_PUBLISHED if d["state"] in {"published", "scheduled"} else events.POST_FAILED
        events.emit(name, {"prefect.resource.id": f"chorus.post.{d['post']}", "chorus.account": d["account"]}, d)
    return {"published": report.published, "failed": report.failed, "unknown": report.unknown, "details": report.details}


@flow(name="metrics-pull", log_prints=True)
def metrics_pull_flow(campaign_id: str | None = None) -> dict[str, Any]:
    rt = make_runtime()
    report = pull_metrics(rt, _now(), campaign_id)
    payload = {"posts": report.posts, "snapshots": report.snapshots, "errors": report.errors}
    events.emit(events.METRICS_PULLED, {"prefect.resource.id": f"chorus.metrics.{campaign_id or 'all'}"}, payload)
    return payload


@flow(name="campaign", log_prints=True)
def campaign_flow(manifest_path: str, post_now: bool = False) -> list[dict[str, Any]]:
    """Embedded mode: caption -> variants -> schedule for every asset, one asset's failure not stopping the others."""
    manifest_path = str(Path(manifest_path).resolve())
    manifest = load_manifest(manifest_path)
    outcomes = []
    for asset in manifest.assets:
        outcome: dict[str, Any] = {"asset": asset.id}
        try:
            caption_flow(manifest_path, asset.id)
            outcome.update(variants_flow(manifest_path, asset.id))
            outcome.update(schedule_flow(manifest_path, asset.id, post_now))
            outcome["status"] = "scheduled"
        except ChorusError as err:
            outcome.update(status="failed", error=err.line)
        outcomes.append(outcome)
    return outcomes
