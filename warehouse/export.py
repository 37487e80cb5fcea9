"""Parquet export of the warehouse for analysts: every table and impact view, one file each, written by DuckDB's
own COPY ... (FORMAT parquet) so no extra package is needed."""
from __future__ import annotations

from pathlib import Path

import duckdb

# Tables and views exported, in this order. Views are exported as their current result.
EXPORTED = (
    "campaigns", "organisations", "accounts", "kpis", "assets", "captions", "variants", "posts", "post_events",
    "metric_snapshots", "metric_current", "metric_payloads", "metric_pulls", "metric_pull_log",
    "metric_definitions", "metric_mappings",
    "post_metrics_wide", "post_metrics_at_age_wide", "impact_breakdown", "kpi_progress", "variant_comparison",
)
# Per-campaign filtering column, where a relation has one.
_CAMPAIGN_COLUMN = "campaign_id"


def _relations(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    rows = con.execute("SELECT table_name, column_name FROM information_schema.columns "
                       "WHERE table_schema = 'main'").fetchall()
    out: dict[str, set[str]] = {}
    for table, column in rows:
        out.setdefault(table, set()).add(column)
    return out


def export_parquet(con: duckdb.DuckDBPyConnection, out_dir: str | Path, campaign_id: str | None = None,
                   relations: tuple[str, ...] = EXPORTED) -> dict[str, Path]:
    """Write NAME.parquet for every exported relation (only the campaign's rows when `campaign_id` is given).

    Returns name -> file. Relations missing from this warehouse (an older schema) are skipped.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    known = _relations(con)
    written: dict[str, Path] = {}
    for name in relations:
        if name not in known:
            continue
        target = out_dir / f"{name}.parquet"
        select = f'SELECT * FROM "{name}"'
        if campaign_id is not None and _CAMPAIGN_COLUMN in known[name]:
            escaped = campaign_id.replace("'", "''")
            select += f" WHERE {_CAMPAIGN_COLUMN} = '{escaped}'"
        elif campaign_id is not None and name in ("metric_payloads", "metric_pulls", "metric_pull_log", "post_events"):
            select += _campaign_filter(name, campaign_id)
        path_sql = str(target).replace("'", "''")
        con.execute(f"COPY ({select}) TO '{path_sql}' (FORMAT parquet, COMPRESSION zstd)")
        written[name] = target
    return written


def _campaign_filter(name: str, campaign_id: str) -> str:
    escaped = campaign_id.replace("'", "''")
    if name in ("metric_pull_log", "post_events"):
        return f" WHERE idempotency_key IN (SELECT idempotency_key FROM posts WHERE campaign_id = '{escaped}')"
    if name == "metric_payloads":
        return f" WHERE pull_id IN (SELECT DISTINCT pull_id FROM metric_snapshots WHERE campaign_id = '{escaped}')"
    return f" WHERE pull_id IN (SELECT DISTINCT pull_id FROM metric_snapshots WHERE campaign_id = '{escaped}')"
