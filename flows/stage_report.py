"""The impact report in the terminal: reach and engagement per country, language and platform, and KPI progress."""
from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from warehouse.report import Report


def _num(value) -> str:
    return "–" if value is None else f"{value:,.0f}"


def render_table(report: Report, width: int = 120) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=False, color_system=None)
    console.print(f"[bold]Impact report — {report.campaign_name}[/bold] ({report.campaign_id})")
    if any(r.get("sandbox") for r in report.breakdown):
        console.print("Rows marked sandbox come from the sandbox platform: simulated figures, nothing was posted.")
    t = Table(title="Reach and engagement by country, language and platform")
    for col in ("country", "language", "platform", "source", "posts", "sum of post reach", "views", "engagements"):
        t.add_column(col, justify="right" if col in {"posts", "sum of post reach", "views", "engagements"} else "left")
    for r in report.breakdown:
        t.add_row(r["country"], r["language"], r["platform"], "sandbox" if r["sandbox"] else "live",
                  str(r["posts_published"]), _num(r["sum_of_post_reach"]), _num(r["views"]), _num(r["engagements"]))
    console.print(t)
    k = Table(title="Progress against objectives")
    for col in ("objective", "metric", "scope", "value", "target", "progress", "deadline", "needed/day", "source"):
        k.add_column(col)
    for r in report.kpis:
        k.add_row(r["objective"], r["metric"], r["scope"], _num(r["value"]), _num(r["target"]),
                  f"{r['progress']:.0%}", str(r["deadline"] or "–"), _num(r["needed_per_day"]),
                  "sandbox" if r["sandbox"] else "live")
    console.print(k)
    return buf.getvalue()
