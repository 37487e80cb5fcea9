"""Chorus's Prefect events: names, resource ids and emission (Prefect is imported here, in flows/ only).

Every asset event carries a `chorus.mode` label: `server` for events from the inbox watchers and from stage flows
running as deployments, `embedded` for stage flows run in-process (`chorus run`, `chorus demo`). The deployments'
triggers (prefect.yaml) match `chorus.mode: server` only, so an embedded run against the same Prefect server never
starts a second, triggered pipeline.
"""
from __future__ import annotations

from typing import Any

ASSET_RECEIVED = "chorus.asset.received"
ASSET_DUPLICATE = "chorus.asset.duplicate"
ASSET_REJECTED = "chorus.asset.rejected"
CAPTIONS_READY = "chorus.captions.ready"
VARIANTS_READY = "chorus.variants.ready"
APPROVAL_REQUESTED = "chorus.approval.requested"
APPROVAL_DECIDED = "chorus.approval.decided"
POSTS_SCHEDULED = "chorus.posts.scheduled"
POST_PUBLISHED = "chorus.post.published"
POST_FAILED = "chorus.post.failed"
# The account needs reconnecting by a person; its posts wait instead of failing one by one.
POST_HELD = "chorus.post.held"
METRICS_PULLED = "chorus.metrics.pulled"
SERVE_READY = "chorus.serve.ready"

SERVER = "server"
EMBEDDED = "embedded"


def current_mode() -> str:
    """`server` inside a flow run started from a deployment, `embedded` otherwise."""
    from prefect.runtime import deployment

    return SERVER if deployment.id else EMBEDDED


def asset_resource(campaign_id: str, asset_id: str, mode: str | None = None) -> dict[str, str]:
    return {
        "prefect.resource.id": f"chorus.asset.{campaign_id}.{asset_id}",
        "prefect.resource.name": f"{campaign_id}/{asset_id}",
        "chorus.campaign": campaign_id,
        "chorus.asset": asset_id,
        "chorus.mode": mode or current_mode(),
    }


def inbox_resource(campaign_id: str, name: str) -> dict[str, str]:
    """A file in the inbox that is not (or not yet) an asset of a campaign."""
    return {
        "prefect.resource.id": f"chorus.inbox.{campaign_id or 'none'}.{name}",
        "prefect.resource.name": f"{campaign_id or '?'}/{name}",
        "chorus.campaign": campaign_id,
        "chorus.file": name,
    }


def post_resource(campaign_id: str, asset_id: str, idempotency_key: str, platform: str) -> dict[str, str]:
    return {
        "prefect.resource.id": f"chorus.post.{idempotency_key}",
        "chorus.campaign": campaign_id,
        "chorus.asset": asset_id,
        "chorus.platform": platform,
    }


def emit(event: str, resource: dict[str, str], payload: dict[str, Any] | None = None) -> Any:
    """Emit one event; returns Prefect's Event (None when events are disabled)."""
    from prefect.events import emit_event

    return emit_event(event=event, resource=resource, payload=payload or {})
