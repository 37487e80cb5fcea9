"""The approval gate's record: who approved or rejected which variants of an asset, and the decision in force."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Sequence

import duckdb

DECISIONS = ("approved", "rejected")


@dataclass(frozen=True)
class Decision:
    campaign_id: str
    asset_id: str
    decision: str
    decided_by: str
    note: str | None
    variants: tuple[str, ...]
    channel: str
    flow_run_id: str | None
    decided_at: dt.datetime

    @property
    def approved(self) -> bool:
        return self.decision == "approved"

    def covers(self, variants: Sequence[str]) -> bool:
        """True when the person saw every one of these variants (a re-render adds variants they did not see)."""
        return set(variants) <= set(self.variants)


def record_decision(con: duckdb.DuckDBPyConnection, campaign_id: str, asset_id: str, *, decision: str,
                    decided_by: str, variants: Sequence[str], channel: str, note: str | None = None,
                    flow_run_id: str | None = None) -> None:
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {DECISIONS}, not {decision!r}")
    if not decided_by.strip():
        raise ValueError("an approval must name the person who decided")
    con.execute(
        "INSERT INTO approvals (campaign_id, asset_id, decision, decided_by, note, variants, channel, flow_run_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [campaign_id, asset_id, decision, decided_by.strip(), note, sorted(variants), channel, flow_run_id],
    )


def latest_decision(con: duckdb.DuckDBPyConnection, campaign_id: str, asset_id: str) -> Decision | None:
    row = con.execute(
        "SELECT campaign_id, asset_id, decision, decided_by, note, variants, channel, flow_run_id, decided_at"
        " FROM approvals WHERE campaign_id = ? AND asset_id = ? ORDER BY decided_at DESC LIMIT 1",
        [campaign_id, asset_id],
    ).fetchone()
    if row is None:
        return None
    return Decision(*row[:5], tuple(row[5]), *row[6:])


def rendered_variants(con: duckdb.DuckDBPyConnection, campaign_id: str, asset_id: str) -> list[str]:
    return sorted(r[0] for r in con.execute(
        "SELECT variant_id FROM variants WHERE campaign_id = ? AND asset_id = ? AND status = 'rendered'",
        [campaign_id, asset_id]).fetchall())
