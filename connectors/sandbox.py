"""The sandbox platform: for trying Chorus without accounts. Posts stay in the asset store; figures are simulated.

Nothing here talks to a platform. Engagement is a deterministic function of the post id and its age, with
sandbox time running faster than real time (CHORUS_SANDBOX_SPEED, default one simulated hour per real
second) so a demo shows figures a few seconds after posting. Every row that comes from here is marked sandbox.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
from typing import Any

from campaign.manifest import Account
from connectors.base import MetricReading, PostContent, PublishResult


class SandboxConnector:
    metric_vocabulary = "sandbox"
    native_scheduling = False

    def __init__(self, account: Account, store, *, clock=None, speed: float | None = None):
        self.account = account
        self.platform = account.platform.value
        self.store = store
        self.clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
        self.speed = speed if speed is not None else float(os.environ.get("CHORUS_SANDBOX_SPEED", "3600"))

    def _key(self, idempotency_key: str) -> str:
        return f"sandbox/{self.account.id}/{idempotency_key}.json"

    def publish(self, content: PostContent, ref: dict[str, Any], save_ref) -> PublishResult:
        key = self._key(content.idempotency_key)
        if self.store.exists(key):
            # A sandbox post is keyed by the idempotency key: a repeat is answered with the existing post.
            return self._result(json.loads(self.store.get_bytes(key)))
        post_id = "sbx_" + hashlib.sha256(content.idempotency_key.encode()).hexdigest()[:16]
        record = {
            "id": post_id,
            "account": self.account.id,
            "platform": self.platform,
            "language": content.language,
            "title": content.title,
            "text": content.text,
            "video_bytes": content.video_path.stat().st_size,
            "published_at": self.clock().isoformat(),
        }
        self.store.put_bytes(key, json.dumps(record, ensure_ascii=False, indent=2).encode())
        return self._result(record)

    def _result(self, record: dict[str, Any]) -> PublishResult:
        return PublishResult("published", record["id"], {"sandbox_key": record["id"]}, f"sandbox://{self.platform}/{record['id']}")

    def reconcile(self, content: PostContent, ref: dict[str, Any]) -> PublishResult | None:
        key = self._key(content.idempotency_key)
        return self._result(json.loads(self.store.get_bytes(key))) if self.store.exists(key) else None

    def fetch_metrics(self, posts: list[tuple[str, dt.datetime | None]]) -> list[MetricReading]:
        now = self.clock()
        out = []
        for post_id, published_at in posts:
            if published_at is None:
                continue
            age_h = max((now - published_at).total_seconds(), 0.0) * self.speed / 3600.0
            for name, value in simulated_figures(post_id, age_h).items():
                out.append(MetricReading(post_id, name, value, {"sandbox": True, "simulated_age_h": round(age_h, 3)}))
        return out

    def cancel(self, ref: dict[str, Any]) -> None:
        return None


def simulated_figures(post_id: str, age_h: float) -> dict[str, float]:
    """Deterministic figures that grow with age and level off after a few days, like real short-form video."""
    seed = int(hashlib.sha256(post_id.encode()).hexdigest()[:8], 16)
    ceiling = 2000 + seed % 18000
    views = math.floor(ceiling * (1 - math.exp(-age_h / 36.0)))
    reach = math.floor(views * (0.7 + (seed >> 8) % 20 / 100))
    return {
        "views": float(views),
        "reach": float(reach),
        "likes": float(math.floor(views * 0.06)),
        "comments": float(math.floor(views * 0.008)),
        "shares": float(math.floor(views * 0.012)),
        "saves": float(math.floor(views * 0.01)),
        "watch_time": float(math.floor(views * 6.5)),
    }
