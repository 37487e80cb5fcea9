"""The impact report for people and for tools: terminal tables (rich), CSV and JSON on stdout, a self-contained HTML
page, and the Parquet export. Every row that comes from the sandbox says `sandbox`."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any, Iterable

from rich.console import Console
from rich.table import Table

from campaign.errors import ChorusError
from warehouse import db
from warehouse.export import export_parquet as _export
from warehouse.report import Report, build_report, read_label as _read_label
from warehouse.report_html import write_html

FORMATS = ("table", "csv", "json")


def _num(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and value != int(value) and abs(value) < 10:
        return f"{value:,.2f}"
    return f"{value:,.0f}"


def _pct(value: Any) -> str:
    return "–" if value is None else f"{value:.1%}"


def _table(title: str, rows: Iterable[dict[str, Any]], columns: list[tuple[str, str, str]]) -> Table:
    t = Table(title=title, title_justify="left")
    for _, heading, kind in columns:
        t.add_column(heading, justify="right" if kind in ("num", "pct") else "left")
    for r in rows:
        cells = []
        for key, _, kind in columns:
            v = r.get(key)
            cells.append(_num(v) if kind == "num" else _pct(v) if kind == "pct" else
                         (", ".join(map(str, v)) or "all") if isinstance(v, (list, tuple)) else
                         ("yes" if v else "no") if isinstance(v, bool) else
                         "–" if v is None else str(v))
        t.add_row(*cells)
    return t


_BREAKDOWN = [("source", "source", "text"), ("posts", "posts", "num"),
              ("sum_of_post_reach", "sum of post reach", "num"), ("views", "views", "num"),
              ("engagements", "engagements", "num"), ("engagement_rate", "eng. rate", "pct")]


def render_table(report: Report, width: int = 140) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=False, color_system=None)
    console.print(f"[bold]Impact report — {report.campaign_name}[/bold] ({report.campaign_id}), "
                  f"{report.generated_at:%Y-%m-%d %H:%M} UTC, deadlines from {report.as_of}, read from {_read_label(report.read_from)}")
    s = report.summary or {}
    console.print(_table("Campaign", [s], [("source", "source", "text"), ("posts", "posts", "num"),
                                           ("posts_live", "live", "num"), ("posts_measured", "measured", "num"),
                                           ("sum_of_post_reach", "sum of post reach", "num"),
                                           ("views", "views", "num"), ("engagements", "engagements", "num"),
                                           ("engagement_rate", "eng. rate", "pct")]))
    console.print(_table("Progress against objectives", report.kpis, [
        ("objective_id", "objective", "text"), ("label", "measure", "text"), ("value", "value", "num"),
        ("target", "target", "num"), ("progress", "progress", "pct"), ("deadline", "deadline", "text"),
        ("days_left", "days left", "num"), ("needed_per_day", "needed/day", "num"),
        ("on_track", "on track", "text"), ("source", "source", "text")]))
    for k in report.kpis:
        for n in k.get("notes") or []:
            console.print(f"  {k['objective_id']}: {n}")
    for dim in ("country", "language", "platform", "organisation"):
        rows = [{**r, "value": r.get("label") or r["value"]} for r in report.by.get(dim, [])]
        console.print(_table(f"By {dim}", rows, [("value", dim, "text")] + _BREAKDOWN))
    console.print(_table("By country, language and platform", report.breakdown, [
        ("country", "country", "text"), ("language", "language", "text"), ("platform", "platform", "text"),
        ("source", "source", "text"), ("posts_published", "posts", "num"),
        ("sum_of_post_reach", "sum of post reach", "num"), ("views", "views", "num"),
        ("engagements", "engagements", "num"), ("engagement_rate", "eng. rate", "pct")]))
    if report.at_age:
        console.print(_table("At a fixed post age", report.at_age, [
            ("platform", "platform", "text"), ("age", "age", "text"), ("posts_measured", "posts", "num"),
            ("sum_of_post_reach", "sum of post reach", "num"), ("views", "views", "num"),
            ("engagement_rate", "eng. rate", "pct"), ("source", "source", "text")]))
    if report.variants:
        console.print(_table("Which variant worked (engagement rate, 95 % interval)", report.variants, [
            ("asset_id", "asset", "text"), ("dimension", "by", "text"), ("rank", "#", "num"),
            ("variant", "variant", "text"), ("views", "views", "num"), ("rate", "rate", "pct"),
            ("rate_low", "low", "pct"), ("rate_high", "high", "pct"), ("compared_with", "vs", "text"),
            ("diff", "diff", "pct"), ("sure", "sure", "text"), ("source", "source", "text")]))
    for n in report.notes:
        console.print(f"• {n}")
    return buf.getvalue()


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value


def render_json(report: Report) -> str:
    doc = {"campaign": report.campaign_id, "campaign_name": report.campaign_name,
           "generated_at": report.generated_at, "as_of": report.as_of, "read_from": report.read_from,
           "sandbox": report.sandbox, "notes": report.notes, **report.tables()}
    return json.dumps(doc, default=_jsonable, indent=2, ensure_ascii=False)


def render_csv(report: Report, sections: Iterable[str] | None = None) -> str:
    """One CSV: a `section` column, then the union of every section's columns (empty where not relevant)."""
    tables = report.tables()
    chosen = list(sections) if sections else [name for name in tables if name != "posts"] + ["posts"]
    unknown = [s for s in chosen if s not in tables]
    if unknown:
        raise ChorusError(f"unknown report section(s) {', '.join(unknown)}", f"choose from {', '.join(tables)}")
    columns: list[str] = []
    for name in chosen:
        for row in tables[name]:
            for c in row:
                if c not in columns:
                    columns.append(c)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["section"] + columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for name in chosen:
        for row in tables[name]:
            w.writerow({"section": name, **{k: _csv_cell(v) for k, v in row.items()}})
    return buf.getvalue()


def _csv_cell(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return ";".join(map(str, v))
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    return v


def render(report: Report, fmt: str) -> str:
    if fmt == "table":
        return render_table(report)
    if fmt == "json":
        return render_json(report)
    if fmt == "csv":
        return render_csv(report)
    raise ChorusError(f"unknown report format {fmt!r}", "use --format table, csv or json")


def render_report(warehouse_path: str | Path, campaign_id: str, *, formats: str | Iterable[str] = "table",
                  html: str | Path | None = None, today: dt.date | None = None) -> str:
    """`chorus report CAMPAIGN [--format table,csv,json] [--html FILE]`: the text to print (and the HTML written).

    Reads through a read-only connection: while a pull is writing, it reads the last published read copy.
    """
    fmts = [f.strip() for f in (formats.split(",") if isinstance(formats, str) else formats) if f.strip()]
    for f in fmts:
        if f not in FORMATS:
            raise ChorusError(f"unknown report format {f!r}", "use --format table, csv or json (comma-separated)")
    con = db.connect(warehouse_path, read_only=True)
    try:
        report = build_report(con, campaign_id, today=today)
    finally:
        con.close()
    out = [render(report, f) for f in fmts]
    if html:
        path = write_html(report, html)
        out.append(f"HTML report written to {path}")
    return "\n".join(out)


def export_parquet(warehouse_path: str | Path, out_dir: str | Path, campaign_id: str | None = None) -> dict[str, Path]:
    """`chorus export [--campaign ID] DIR`: one Parquet file per table and impact view."""
    con = db.connect(warehouse_path, read_only=True)
    try:
        return _export(con, out_dir, campaign_id)
    finally:
        con.close()
