"""Metric snapshots: append-only, time-stamped raw values with their canonical name and definition version."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Iterable

import duckdb

from campaign.metrics import canonical


@dataclass(frozen=True)
class Snapshot:
    campaign_id: str
    idempotency_key: str
    platform: str            # the metric vocabulary to map from ("sandbox" for sandbox posts)
    platform_post_id: str
    pulled_at: dt.datetime
    post_age_s: float | None
    raw_name: str
    raw_value: float | None
    sandbox: bool = False
    payload: dict[str, Any] | None = None


def append_snapshots(con: duckdb.DuckDBPyConnection, snapshots: Iterable[Snapshot]) -> int:
    """Append snapshots, mapping each raw name to the canonical vocabulary; unknown names are kept with no canonical name."""
    rows = []
    for s in snapshots:
        mapping = canonical(s.platform, s.raw_name)
        value = None if s.raw_value is None else float(s.raw_value)
        rows.append([
            s.campaign_id, s.idempotency_key, s.platform, s.platform_post_id, s.pulled_at, s.post_age_s,
            s.raw_name, value,
            mapping.canonical if mapping else None,
            (value * mapping.scale) if (mapping and value is not None) else None,
            mapping.definition_version if mapping else None,
            s.sandbox,
            json.dumps(s.payload) if s.payload is not None else None,
        ])
    if rows:
        con.executemany("INSERT INTO metric_snapshots VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return len(rows)
