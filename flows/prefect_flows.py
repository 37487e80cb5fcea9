"""The Prefect flows: one per stage, each a thin layer over a plain stage function, each emitting its event when done.

In server mode each stage is a deployment triggered by the previous stage's event (prefect.yaml, served by
`chorus serve`, see flows/serve.py); in embedded mode `campaign_flow` runs the same stage flows in one process,
in order. Imports of the heavy stage modules (moviepy, connectors) happen inside the flows, so that the process
Prefect starts for each flow run is ready sooner.
"""
from __future__ import annotations

import datetime as dt
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from prefect import flow, task
from prefect.input import RunInput

from campaign.errors import ChorusError
from campaign.manifest import Manifest, load_manifest
from flows import events
from flows.runtime import Progress, Runtime, asset_prefix, make_runtime, no_progress

# The CLI sets this to draw its progress bars; server runs leave it silent.
PROGRESS: dict[str, Progress] = {"hook": no_progress}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@contextmanager
def _local_source(source: str) -> Iterator[Path]:
    """The dropped file as a local path: an s3:// drop is downloaded (with the store's endpoint setting) first."""
    if not source.startswith("s3://"):
        yield Path(source)
        return
    import boto3

    from media.inbox import download_s3

    client = boto3.client("s3", endpoint_url=os.environ.get("CHORUS_S3_ENDPOINT") or None)
    with tempfile.TemporaryDirectory(prefix="chorus-drop-") as tmp:
        yield download_s3(client, source, Path(tmp) / source.rsplit("/", 1)[-1])


def _with_source(manifest: Manifest, asset_id: str, source: Path) -> Manifest:
    """The manifest with the asset's video replaced by the file dropped into the inbox."""
    assets = [a.model_copy(update={"file": str(source.resolve())}) if a.id == asset_id else a for a in manifest.assets]
    return manifest.model_copy(update={"assets": assets})


def _is_video(path: Path) -> bool:
    from media.probe import probe

    try:
        probe(path)
    except ChorusError:
        return False
    return True


@task(name="ingest asset")
def ingest_task(manifest_path: str, asset_id: str, source: str | None = None) -> dict[str, Any]:
    from flows.stage_ingest import ingest_asset, register_campaign

    rt = make_runtime()
    manifest = load_manifest(manifest_path)
    register_campaign(rt, manifest)
    if source is None:
        got = ingest_asset(rt, manifest, manifest.asset(asset_id))
    else:
        with _local_source(source) as path:
            dropped = _with_source(manifest, asset_id, path)
            if _is_video(path):
                # The watcher sends only content it has not taken before, so this is a new cut of the asset: it
                # replaces the stored master (ingest keeps an existing master otherwise). A bad drop keeps the old.
                for key in rt.store.list(f"{asset_prefix(manifest.id, asset_id)}/master"):
                    rt.store.delete(key)
            got = ingest_asset(rt, dropped, dropped.asset(asset_id))
    return {"master_key": got.master_key, "duration_s": got.info.duration_s}


@flow(name="caption", log_prints=True)
def caption_flow(manifest_path: str, asset_id: str, source: str | None = None) -> dict[str, Any]:
    """Ingest the asset's video (the manifest's file, or `source`: the file dropped into the inbox) and caption it."""
    from flows.stage_caption import caption_asset

    rt = make_runtime()
    manifest = load_manifest(manifest_path)
    asset = manifest.asset(asset_id)
    ingested = ingest_task(manifest_path, asset_id, source or None)
    if events.current_mode() == events.EMBEDDED:
        # In server mode the inbox watcher emitted `received` already, and it is what started this run:
        # emitting it again here would start a second caption run.
        events.emit(events.ASSET_RECEIVED, events.asset_resource(manifest.id, asset_id),
                    {"manifest_path": manifest_path, "master_key": ingested["master_key"]})
    result = caption_asset(rt, manifest, asset)
    payload = {"manifest_path": manifest_path, "language": result.language, "origin": result.origin,
               "cue_count": result.cue_count, "master_key": ingested["master_key"]}
    events.emit(events.CAPTIONS_READY, events.asset_resource(manifest.id, asset_id), payload)
    return payload


@flow(name="variants", log_prints=True)
def variants_flow(manifest_path: str, asset_id: str) -> dict[str, Any]:
    from flows.stage_variants import render_asset_variants

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


class Approval(RunInput):
    """The form a person fills in (Prefect UI: the suspended run's Resume button) to let an asset's posts go out."""

    approved_by: str
    approve: bool = True
    note: str = ""


def _approval_timeout_s() -> int:
    return int(os.environ.get("CHORUS_APPROVAL_TIMEOUT_S", str(7 * 24 * 3600)))


def approval_gate(rt: Runtime, manifest: Manifest, asset_id: str) -> dict[str, Any]:
    """Wait for a person's decision on the asset's rendered variants; {"decision": ..., "by": ...} or awaiting.

    In a deployment run the flow run is suspended (its process exits, nothing is held) until someone resumes it
    with an `Approval` in the Prefect UI or with `chorus approve`; the resumed run starts again from the top and
    gets the input here. Run in-process (`chorus run`), it cannot wait, so it reports `awaiting` and a later run
    finds the decision `chorus approve` wrote to the warehouse.
    """
    from prefect.flow_runs import suspend_flow_run
    from prefect.runtime import flow_run

    from warehouse.approvals import latest_decision, record_decision, rendered_variants

    with rt.warehouse() as con:
        variants = rendered_variants(con, manifest.id, asset_id)
        decided = latest_decision(con, manifest.id, asset_id)
    if decided is not None and decided.covers(variants):
        return {"decision": decided.decision, "by": decided.decided_by, "variants": list(decided.variants)}
    resource = events.asset_resource(manifest.id, asset_id)
    if events.current_mode() == events.EMBEDDED:
        how = f"chorus approve {manifest.id} {asset_id} --by NAME, then run again"
        events.emit(events.APPROVAL_REQUESTED, resource, {"variants": variants, "how": how})
        return {"decision": "awaiting", "variants": variants, "how": how}
    events.emit(events.APPROVAL_REQUESTED, resource,
                {"variants": variants, "flow_run_id": str(flow_run.id),
                 "how": f"resume flow run {flow_run.name} in the Prefect UI, or run `chorus approve {manifest.id} {asset_id} --by NAME`"})
    description = (f"Approve the posts of **{manifest.id}/{asset_id}** before they are published.\n\n"
                   + "Rendered variants:\n" + "".join(f"- `{v}`\n" for v in variants)
                   + "\nName yourself in *approved_by*; untick *approve* to reject (nothing is posted).")
    answer = suspend_flow_run(wait_for_input=Approval.with_initial_data(description=description, approve=True),
                              timeout=_approval_timeout_s(), key="approval")
    decision = "approved" if answer.approve else "rejected"
    with rt.warehouse() as con:
        record_decision(con, manifest.id, asset_id, decision=decision, decided_by=answer.approved_by,
                        variants=variants, channel="prefect", note=answer.note or None, flow_run_id=str(flow_run.id))
    events.emit(events.APPROVAL_DECIDED, resource, {"decision": decision, "by": answer.approved_by, "variants": variants})
    return {"decision": decision, "by": answer.approved_by, "variants": variants}


@flow(name="schedule", log_prints=True)
def schedule_flow(manifest_path: str, asset_id: str, post_now: bool = False) -> dict[str, Any]:
    """Plan the asset's posts in the ledger; behind the approval gate when the manifest asks for `review.approval`."""
    from flows.stage_publish import publishing_holds, schedule_asset_posts

    rt = make_runtime()
    manifest = load_manifest(manifest_path)
    approval: dict[str, Any] | None = None
    if manifest.review.approval:
        approval = approval_gate(rt, manifest, asset_id)
        if approval["decision"] != "approved":
            print(f"{manifest.id}/{asset_id}: approval {approval['decision']}; no post planned")
            return {"manifest_path": manifest_path, "posts_planned": 0, "approval": approval}
    asset = manifest.asset(asset_id)
    planned = schedule_asset_posts(rt, manifest, asset, _now(), post_now=post_now)
    with rt.warehouse() as con:
        holds = publishing_holds(con, manifest, asset)
    payload = {"manifest_path": manifest_path, "posts_planned": planned, "approval": approval, "holds": holds}
    events.emit(events.POSTS_SCHEDULED, events.asset_resource(manifest.id, asset_id), payload)
    return payload


@flow(name="publish-due", log_prints=True)
def publish_due_flow(campaign_id: str | None = None) -> dict[str, Any]:
    from flows.stage_publish import publish_due

    rt = make_runtime()
    report = publish_due(rt, _now(), campaign_id=campaign_id, progress=PROGRESS["hook"])
    for d in report.details:
        name = {"published": events.POST_PUBLISHED, "scheduled": events.POST_PUBLISHED,
                "failed": events.POST_FAILED, "held": events.POST_HELD}.get(d["state"])
        if name:
            events.emit(name, {"prefect.resource.id": f"chorus.post.{d['post']}", "chorus.account": d["account"]}, d)
    return {"published": report.published, "scheduled": report.scheduled, "failed": report.failed,
            "unknown": report.unknown, "held": report.held, "waiting": report.waiting,
            "processing": report.processing, "details": report.details}


@flow(name="metrics-pull", log_prints=True)
def metrics_pull_flow(campaign_id: str | None = None, force: bool = False) -> dict[str, Any]:
    from flows.stage_metrics import pull_metrics

    rt = make_runtime()
    report = pull_metrics(rt, _now(), campaign_id, force=force)
    payload = {"posts": report.posts, "snapshots": report.snapshots, "errors": report.errors,
               "posts_answered": report.posts_answered, "posts_empty": report.posts_empty}
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
