"""Report queries: the impact of one campaign, read through the SQL files in warehouse/sql/ (the same files any
DuckDB client can run), gathered into one Report value that the terminal, CSV, JSON and HTML renderers share."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import duckdb

from campaign.errors import ChorusError
from campaign.metrics import CANONICAL_METRICS, REPORTING_LAG_H, available, canonical

SECTIONS = ("summary", "kpis", "breakdown", "by", "at_age", "variants", "reach_over_time", "posts", "gaps")


def sql(name: str) -> str:
    """The text of warehouse/sql/NAME.sql."""
    return resources.files("warehouse.sql").joinpath(f"{name}.sql").read_text(encoding="utf-8")


def query(con: duckdb.DuckDBPyConnection, name: str, **variables: Any) -> list[dict[str, Any]]:
    """Run one SQL file with its variables set (SET VARIABLE name = value), as a list of dicts."""
    for key, value in variables.items():
        if value is None:
            con.execute(f"RESET VARIABLE {key}")
        else:
            con.execute(f"SET VARIABLE {key} = ?", [value])
    cur = con.execute(sql(name))
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]


@dataclass(frozen=True)
class Report:
    campaign_id: str
    campaign_name: str
    breakdown: list[dict[str, Any]]           # country x language x platform
    kpis: list[dict[str, Any]]
    posts: list[dict[str, Any]]
    generated_at: dt.datetime
    summary: dict[str, Any] = field(default_factory=dict)
    by: dict[str, list[dict[str, Any]]] = field(default_factory=dict)   # dimension -> rows
    at_age: list[dict[str, Any]] = field(default_factory=list)
    variants: list[dict[str, Any]] = field(default_factory=list)
    reach_over_time: list[dict[str, Any]] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    as_of: dt.date | None = None
    read_from: str = "live"

    @property
    def sandbox(self) -> bool:
        return any(r.get("sandbox") for r in self.posts)

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        """Every section as a flat table (what CSV, JSON and Parquet writers need)."""
        out: dict[str, list[dict[str, Any]]] = {"summary": [self.summary] if self.summary else [], "kpis": self.kpis,
                                                "breakdown": self.breakdown}
        for dim, rows in self.by.items():
            out[f"by_{dim}"] = rows
        out.update(at_age=self.at_age, variants=self.variants, reach_over_time=self.reach_over_time,
                   posts=self.posts, gaps=self.gaps)
        return out


def _bucket(con: duckdb.DuckDBPyConnection, campaign_id: str) -> str:
    """Chart resolution from the span of the snapshots: minutes for a demo, hours for days, days beyond."""
    row = con.execute("SELECT min(first_pulled_at), max(last_pulled_at) FROM metric_current WHERE campaign_id = ?",
                      [campaign_id]).fetchall()[0]
    if row[0] is None:
        return "day"
    span = (row[1] - row[0]).total_seconds()
    return "minute" if span < 3 * 3600 else "hour" if span < 3 * 86400 else "day"


def _kpi_notes(kpi: dict[str, Any], posts: list[dict[str, Any]], now: dt.datetime) -> list[str]:
    """Why some posts in a KPI's scope have no figure: not reported by the platform, or not yet (lag)."""
    notes = []
    metric = kpi["metric"]
    for platform in kpi.get("platforms_missing") or []:
        mine = [p for p in posts if p["platform"] == platform and p["state"] in ("published", "scheduled")]
        vocab = "sandbox" if mine and all(p["sandbox"] for p in mine) else platform
        created = min((p["published_at"] for p in mine if p["published_at"]), default=None)
        lag = REPORTING_LAG_H.get(platform)
        young = [p for p in mine if p["published_at"] and (now - p["published_at"]).total_seconds() < (lag or 0) * 3600]
        derived = CANONICAL_METRICS.get(metric) is not None and CANONICAL_METRICS[metric].derived
        mapping = None if derived else available(vocab, metric, created.date() if created else None)
        if not derived and mapping is None:
            retired = [m for m in _all_mappings(vocab, metric) if m.status != "current"]
            why = f" ({retired[0].raw_name}: {retired[0].note or retired[0].status})" if retired else ""
            notes.append(f"{platform}: does not report {metric}{why}; its posts are left out, not counted as 0")
            continue
        if young:
            notes.append(f"{platform}: awaiting figures for {len(young)} post(s) (it reports up to {lag:.0f} h late)")
        else:
            notes.append(f"{platform}: no {metric} figure yet")
    return notes


def _all_mappings(platform: str, metric: str):
    from campaign.metrics import mappings_for

    return mappings_for(platform, metric)


def build_report(con: duckdb.DuckDBPyConnection, campaign_id: str, *, today: dt.date | None = None,
                 now: dt.datetime | None = None) -> Report:
    """The impact report of one campaign. `today` is the reference date for deadlines (default: today, UTC)."""
    rows = con.execute("SELECT name FROM campaigns WHERE campaign_id = ?", [campaign_id]).fetchall()
    if not rows:
        known = [r[0] for r in con.execute("SELECT campaign_id FROM campaigns ORDER BY 1").fetchall()]
        raise ChorusError(f"no campaign {campaign_id!r} in the warehouse",
                          f"known campaigns: {', '.join(known) or 'none yet — run `chorus run` first'}")
    now = now or dt.datetime.now(dt.timezone.utc)
    today = today or now.date()
    v = {"campaign_id": campaign_id, "as_of": today, "bucket": _bucket(con, campaign_id)}
    summary = query(con, "campaign_summary", **v)
    breakdown = query(con, "reach_by_country_language_platform", **v)
    kpis = query(con, "kpi_progress", **v)
    by: dict[str, list[dict[str, Any]]] = {}
    for r in query(con, "impact_breakdown", **v):
        by.setdefault(r.pop("dimension"), []).append(r)
    posts = query(con, "posts", **v)
    at_age = query(con, "metrics_at_age", **v)
    variants = query(con, "variant_comparison", **v)
    over_time = query(con, "reach_over_time", **v)
    gaps = query(con, "metric_gaps", **v)
    from warehouse.db import source_of

    read_from = source_of(con)
    notes: list[str] = []
    if any(p["sandbox"] for p in posts):
        notes.append("Rows marked sandbox come from the sandbox platform: simulated figures, nothing was posted.")
    if read_from != "live":
        notes.append("A pull was writing: this report reads the copy published by the last finished write.")
    notes.append("Reach is unique per post: added over posts it is the sum of post reach, not the number of people "
                 "reached (one person who saw three posts counts three times).")
    for k in kpis:
        k["notes"] = _kpi_notes(k, posts, now)
        k["label"] = _kpi_label(k)
    for g in gaps:
        if g["kind"] == "definition changed":
            notes.append(f"{g['platform']} {g['metric']}: the platform changed its definition during the campaign "
                         f"({g['detail']}) for {g['posts']} post(s); the series continues under the new name.")
        else:
            notes.append(f"{g['platform']} {g['metric']}: {g['detail']}")
    return Report(campaign_id, rows[0][0], breakdown, kpis, posts, now, summary=summary[0] if summary else {},
                  by=by, at_age=at_age, variants=variants, reach_over_time=over_time, gaps=gaps, notes=notes,
                  as_of=today, read_from=read_from)


def _kpi_label(k: dict[str, Any]) -> str:
    scope = ", ".join(
        "/".join(v) for v in (k.get("countries"), k.get("languages"), k.get("platforms")) if v
    )
    return f"{k['measure']}" + (f" ({scope})" if scope else "")


def kpi_progress(con: duckdb.DuckDBPyConnection, campaign_id: str, today: dt.date | None = None) -> list[dict[str, Any]]:
    """Each KPI's value against its target (kept for callers of the skeleton's API)."""
    return query(con, "kpi_progress", campaign_id=campaign_id,
                 as_of=today or dt.datetime.now(dt.timezone.utc).date())


def breakdown(con: duckdb.DuckDBPyConnection, campaign_id: str) -> list[dict[str, Any]]:
    return query(con, "reach_by_country_language_platform", campaign_id=campaign_id)


__all__ = ["Report", "build_report", "kpi_progress", "breakdown", "query", "sql", "canonical"]


def read_label(read_from: str) -> str:
    """Where a report read its figures, in words: the warehouse itself, or the read copy while a pull was writing."""
    return "the warehouse" if read_from == "live" else "the read copy (a pull was writing)"
