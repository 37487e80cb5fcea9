"""Metrics pull: current figures of every live post through its connector, appended to the warehouse as snapshots."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from connectors.base import ConnectorError
from connectors.registry import connector_for
from flows.runtime import Runtime, manifest_from_warehouse
from warehouse.ledger import Ledger
from warehouse.snapshots import Snapshot, append_snapshots


@dataclass(frozen=True)
class PullReport:
    posts: int
    snapshots: int
    errors: list[str]


def pull_metrics(rt: Runtime, now: dt.datetime | None = None, campaign_id: str | None = None) -> PullReport:
    now = now or dt.datetime.now(dt.timezone.utc)
    with rt.warehouse() as con:
        live = Ledger(con).live(campaign_id)
        manifests = {cid: manifest_from_warehouse(con, cid) for cid in {p["campaign_id"] for p in live}}
    by_account: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for p in live:
        by_account[(p["campaign_id"], p["account_id"])].append(p)
    snapshots: list[Snapshot] = []
    errors: list[str] = []
    for (cid, account_id), posts in by_account.items():
        account = manifests[cid].account(account_id)
        connector = connector_for(account, rt.settings, rt.store)
        try:
            readings = connector.fetch_metrics([(p["platform_post_id"], p["published_at"]) for p in posts])
        except ConnectorError as err:
            errors.append(f"{account_id}: {err}")
            continue
        by_id = {p["platform_post_id"]: p for p in posts}
        for r in readings:
            post = by_id[r.platform_post_id]
            age = (now - post["published_at"]).total_seconds() if post["published_at"] else None
            snapshots.append(Snapshot(cid, post["idempotency_key"], connector.metric_vocabulary, r.platform_post_id,
                                      now, age, r.raw_name, r.value, bool(post["sandbox"]), r.payload))
    with rt.warehouse() as con:
        n = append_snapshots(con, snapshots)
    return PullReport(len(live), n, errors)
