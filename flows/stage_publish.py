"""Schedule and publish: plan one ledger row per variant x account at a local slot, then publish what is due."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from campaign.manifest import Asset, Manifest
from campaign.plan import plan_posts
from campaign.platforms import Platform
from connectors.base import ConnectorError, ErrorKind, PostContent
from connectors.registry import connector_for
from flows.runtime import Progress, Runtime, manifest_from_warehouse, no_progress
from warehouse.ledger import Ledger, PlannedPost, StaleTransition


@dataclass(frozen=True)
class PublishReport:
    published: int
    failed: int
    unknown: int
    details: list[dict]


def schedule_asset_posts(rt: Runtime, manifest: Manifest, asset: Asset, now: dt.datetime,
                         *, post_now: bool = False) -> int:
    """Write the asset's posts to the ledger (before anything is sent); returns how many were new."""
    with rt.warehouse() as con:
        rendered = {r[0] for r in con.execute(
            "SELECT variant_id FROM variants WHERE campaign_id = ? AND asset_id = ? AND status = 'rendered'",
            [manifest.id, asset.id]).fetchall()}
        taken = dict(con.execute(
            "SELECT account_id, count(*) FROM posts WHERE campaign_id = ? AND asset_id <> ? GROUP BY 1",
            [manifest.id, asset.id]).fetchall())
        specs = plan_posts(manifest, asset, now, taken)
        rows = [
            PlannedPost(s.idempotency_key, manifest.id, asset.id, s.variant.id, s.variant.language, s.variant.format.name,
                        s.account.id, s.account.platform.value, s.account.organisation, s.country,
                        s.account.sandbox or rt.settings.force_sandbox, now if post_now else s.scheduled_at)
            for s in specs if s.variant.id in rendered
        ]
        return Ledger(con).plan(rows)


def _content(rt: Runtime, manifest: Manifest, post: dict, video: Path) -> PostContent:
    account = manifest.account(post["account_id"])
    text = manifest.post_text(post["language"], Platform(post["platform"]))
    return PostContent(
        idempotency_key=post["idempotency_key"], account=account, video_path=video, language=post["language"],
        title=text.title, description=text.description, hashtags=tuple(text.hashtags),
    )


def publish_due(rt: Runtime, now: dt.datetime, *, campaign_id: str | None = None,
                progress: Progress = no_progress) -> PublishReport:
    """Publish every post that is due now; each post moves through the ledger by compare-and-set."""
    published = failed = unknown = 0
    details = []
    with rt.warehouse() as con:
        due = Ledger(con).due(now, campaign_id)
    manifests: dict[str, Manifest] = {}
    for i, post in enumerate(due):
        progress(f"publishing {post['account_id']} {post['language']}", i, len(due))
        key = post["idempotency_key"]
        with rt.warehouse() as con:
            if post["campaign_id"] not in manifests:
                manifests[post["campaign_id"]] = manifest_from_warehouse(con, post["campaign_id"])
            manifest = manifests[post["campaign_id"]]
            variant_key = con.execute("SELECT key FROM variants WHERE variant_id = ?", [post["variant_id"]]).fetchone()[0]
            try:
                Ledger(con).transition(key, "uploading", expect=["planned"], detail="publishing started")
            except StaleTransition:
                continue
        account = manifest.account(post["account_id"])
        connector = connector_for(account, rt.settings, rt.store)

        def save_ref(ref: dict, _key=key) -> None:
            with rt.warehouse() as c:
                Ledger(c).transition(_key, "uploading", expect=["uploading"], platform_ref=ref)

        try:
            with rt.store.local_copy(variant_key) as video:
                result = connector.publish(_content(rt, manifest, post, Path(video)), post.get("platform_ref") or {}, save_ref)
        except ConnectorError as err:
            state = "unknown" if err.kind == ErrorKind.UNKNOWN_OUTCOME else "failed"
            with rt.warehouse() as con:
                Ledger(con).transition(key, state, expect=["uploading"], error_kind=err.kind.value, last_error=str(err))
            failed += state == "failed"
            unknown += state == "unknown"
            details.append({"post": key, "account": post["account_id"], "state": state, "error": str(err)})
            continue
        with rt.warehouse() as con:
            Ledger(con).transition(
                key, result.state if result.state != "processing" else "processing", expect=["uploading"],
                platform_post_id=result.platform_post_id, platform_ref=result.ref, post_url=result.url,
                published_at=dt.datetime.now(dt.timezone.utc) if result.state == "published" else None,
            )
        published += result.state == "published"
        details.append({"post": key, "account": post["account_id"], "state": result.state, "url": result.url})
    progress("publishing", len(due), len(due))
    return PublishReport(published, failed, unknown, details)
