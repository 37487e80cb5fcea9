"""Chorus's Prefect events: names, resource ids and emission (Prefect is imported here, in flows/ only)."""
from __future__ import annotations

from typing import Any

ASSET_RECEIVED = "chorus.asset.received"
CAPTIONS_READY = "chorus.captions.ready"
VARIANTS_READY = "chorus.variants.ready"
POSTS_SCHEDULED = "chorus.posts.scheduled"
POST_PUBLISHED = "chorus.post.published"
POST_FAILED = "chorus.post.failed"
METRICS_PULLED = "chorus.metrics.pulled"


def asset_resource(campaign_id: str, asset_id: str) -> dict[str, str]:
    return {
        "prefect.resource.id": f"chorus.asset.{campaign_id}.{asset_id}",
        "prefect.resource.name": f"{campaign_id}/{asset_id}",
        "chorus.campaign": campaign_id,
        "chorus.asset": asset_id,
    }


def post_resource(campaign_id: str, asset_id: str, idempotency_key: str, platform: str) -> dict[str, str]:
    return {
        "prefect.resource.id": f"chorus.post.{idempotency_key}",
        "chorus.campaign": campaign_id,
        "chorus.asset": asset_id,
        "chorus.platform": platform,
    }


def emit(event: str, resource: dict[str, str], payload: dict[str, Any] | None = None) -> None:
    from prefect.events import emit_event

    emit_event(event=event, resource=resource, payload=payload or {})
