"""Report queries: reach and engagement per country, language and platform, and progress against each KPI."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import duckdb

from warehouse.records import fetch_dicts


@dataclass(frozen=True)
class Report:
    campaign_id: str
    campaign_name: str
    breakdown: list[dict[str, Any]]
    kpis: list[dict[str, Any]]
    posts: list[dict[str, Any]]
    generated_at: dt.datetime


def breakdown(con: duckdb.DuckDBPyConnection, campaign_id: str) -> list[dict[str, Any]]:
    return fetch_dicts(
        con,
        "SELECT * EXCLUDE (campaign_id) FROM reach_by_country_language_platform WHERE campaign_id = ?",
        [campaign_id],
    )


def kpi_progress(con: duckdb.DuckDBPyConnection, campaign_id: str, today: dt.date | None = None) -> list[dict[str, Any]]:
    """Each KPI's current value (latest snapshot per post, filtered as the KPI says) against its target."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    kpis = fetch_dicts(con, "SELECT * FROM kpis WHERE campaign_id = ? ORDER BY objective_id, kpi_index", [campaign_id])
    out = []
    for k in kpis:
        sql = """SELECT coalesce(sum(m.canonical_value), 0) AS value, bool_or(p.sandbox) AS sandbox
                 FROM posts p JOIN post_metrics_latest m USING (idempotency_key)
                 WHERE p.campaign_id = ? AND m.canonical_name = ?"""
        params: list[Any] = [campaign_id, k["metric"]]
        for col, values in (("country", k["countries"]), ("language", k["languages"]), ("platform", k["platforms"])):
            if values:
                sql += f" AND p.{col} IN (SELECT unnest(?))"
                params.append(values)
        value, sandbox = con.execute(sql, params).fetchone()
        label = "sum of post reach" if k["metric"] == "reach" else k["metric"]
        scope = ", ".join(
            f"{name} {'/'.join(v)}" for name, v in (("countries", k["countries"]), ("languages", k["languages"]),
                                                    ("platforms", k["platforms"])) if v
        ) or "all"
        progress = value / k["target"] if k["target"] else 0.0
        days_left = (k["deadline"] - today).days if k["deadline"] else None
        out.append({
            "objective": k["objective_id"], "metric": label, "scope": scope, "value": value, "target": k["target"],
            "progress": progress, "deadline": k["deadline"], "days_left": days_left,
            "needed_per_day": (max(k["target"] - value, 0) / days_left) if days_left and days_left > 0 else None,
            "sandbox": bool(sandbox),
        })
    return out


def build_report(con: duckdb.DuckDBPyConnection, campaign_id: str) -> Report:
    row = con.execute("SELECT name FROM campaigns WHERE campaign_id = ?", [campaign_id]).fetchone()
    if row is None:
        from campaign.errors import ChorusError

        known = [r[0] for r in con.execute("SELECT campaign_id FROM campaigns ORDER BY 1").fetchall()]
        raise ChorusError(f"no campaign {campaign_id!r} in the warehouse", f"known campaigns: {', '.join(known) or 'none yet — run `chorus run` first'}")
    posts = fetch_dicts(
        con,
        """SELECT account_id, platform, country, language, format, state, sandbox, views, reach, likes, comments, shares
           FROM post_metrics_wide WHERE campaign_id = ? ORDER BY platform, country, language""",
        [campaign_id],
    )
    return Report(campaign_id, row[0], breakdown(con, campaign_id), kpi_progress(con, campaign_id), posts,
                  dt.datetime.now(dt.timezone.utc))
