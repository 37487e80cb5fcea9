"""The impact report as one self-contained HTML page: inline CSS and inline SVG charts, no script, no network.

Charts are drawn as SVG here rather than with a JavaScript chart library: the page then opens anywhere (an email
attachment, an offline laptop), stays small (tens of kB instead of megabytes of inlined library), prints well,
and every number a chart shows is also text in the page, readable by screen readers and by tests.
"""
from __future__ import annotations

import datetime as dt
import html
from pathlib import Path
from typing import Any, Iterable

from warehouse.report import Report, read_label

PALETTE = ["#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d"]
BAR_COLOUR = "#2563eb"
VIEWS_COLOUR = "#16a34a"

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#1f2937;
padding:0 1rem;line-height:1.4}
h1{margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:2px solid #e5e7eb;padding-bottom:.2rem}
.meta{color:#6b7280}.badge{display:inline-block;padding:.1rem .5rem;border-radius:.6rem;font-size:.8rem;
background:#fef3c7;color:#92400e;margin-left:.4rem}.badge.live{background:#dcfce7;color:#166534}
.notes{background:#f9fafb;border-left:4px solid #9ca3af;padding:.5rem 1rem}.notes li{margin:.2rem 0}
table{border-collapse:collapse;width:100%;margin:.6rem 0;font-size:.9rem}
th,td{padding:.3rem .5rem;border-bottom:1px solid #e5e7eb;text-align:left}td.n,th.n{text-align:right;
font-variant-numeric:tabular-nums}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:1rem}
.dim{margin-bottom:1.5rem}svg{max-width:100%;height:auto}
figure{margin:0}figcaption{font-weight:600;margin-bottom:.3rem}svg text{font-size:12px;fill:#374151}
.ok{color:#166534}.behind{color:#b91c1c}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and digits == 0 and abs(value) < 10 and value != int(value):
        return f"{value:,.2f}"
    return f"{value:,.{digits}f}"


def _pct(value: Any) -> str:
    return "–" if value is None else f"{value:.1%}"


def bar_chart(title: str, rows: list[tuple[str, float | None]], colour: str = BAR_COLOUR, unit: str = "") -> str:
    """Horizontal bars, one per label; a missing value is drawn as 'no figure', not as a zero-length bar."""
    width, label_w, row_h = 520, 180, 24
    height = row_h * max(len(rows), 1) + 10
    top = max((v for _, v in rows if v is not None), default=0) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{_e(title)}" viewBox="0 0 {width} {height}">']
    for i, (label, value) in enumerate(rows):
        y = 5 + i * row_h
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{_e(label)}</text>')
        if value is None:
            parts.append(f'<text x="{label_w + 4}" y="{y + 15}" font-style="italic">no figure</text>')
            continue
        w = max((width - label_w - 90) * value / top, 1)
        parts.append(f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" '
                     f'fill="{colour}"><title>{_e(label)}: {_num(value)}{unit}</title></rect>')
        parts.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 15}">{_num(value)}{unit}</text>')
    parts.append("</svg>")
    return f"<figure><figcaption>{_e(title)}</figcaption>{''.join(parts)}</figure>"


def line_chart(title: str, points: list[tuple[dt.datetime, dict[str, float | None]]], series: list[str]) -> str:
    """Lines over time for each named series (missing points are skipped, not drawn at zero)."""
    width, height, left, bottom, top_pad = 680, 260, 70, 40, 20
    if not points:
        return f"<figure><figcaption>{_e(title)}</figcaption><p>No metric pulls yet.</p></figure>"
    xs = [p[0] for p in points]
    t0, t1 = min(xs), max(xs)
    span = (t1 - t0).total_seconds() or 1.0
    top = max((v for _, vals in points for v in vals.values() if v is not None), default=0) or 1
    plot_w, plot_h = width - left - 20, height - bottom - top_pad

    def x(t: dt.datetime) -> float:
        return left + (plot_w * (t - t0).total_seconds() / span if len(points) > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top_pad + plot_h * (1 - v / top)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'aria-label="{_e(title)}" viewBox="0 0 {width} {height}">',
           f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{left + plot_w}" y2="{top_pad + plot_h}" stroke="#9ca3af"/>',
           f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{top_pad + plot_h}" stroke="#9ca3af"/>']
    for frac in (0, 0.5, 1):
        out.append(f'<text x="{left - 6}" y="{y(top * frac) + 4:.1f}" text-anchor="end">{_num(top * frac)}</text>')
    fmt = "%d %b %H:%M" if span < 3 * 86400 else "%d %b"
    for t in sorted({t0, t1}):
        out.append(f'<text x="{x(t):.1f}" y="{height - 18}" text-anchor="middle">{_e(t.strftime(fmt))}</text>')
    for i, name in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        pts = [(x(t), y(v[name])) for t, v in points if v.get(name) is not None]
        if not pts:
            continue
        path = " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
        out.append(f'<polyline class="series" data-series="{_e(name)}" fill="none" stroke="{colour}" '
                   f'stroke-width="2.5" points="{path}"/>')
        for a, b in pts:
            out.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{colour}"/>')
        out.append(f'<rect x="{left + 10 + i * 170}" y="{height - 12}" width="12" height="4" fill="{colour}"/>'
                   f'<text x="{left + 26 + i * 170}" y="{height - 6}">{_e(name)}</text>')
    out.append("</svg>")
    return f"<figure><figcaption>{_e(title)}</figcaption>{''.join(out)}</figure>"


def kpi_bars(kpis: list[dict[str, Any]]) -> str:
    width, label_w, row_h = 680, 250, 30
    height = row_h * max(len(kpis), 1) + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'aria-label="Progress against each KPI" viewBox="0 0 {width} {height}">']
    track = width - label_w - 80
    for i, k in enumerate(kpis):
        y0 = 5 + i * row_h
        out.append(f'<text x="{label_w - 6}" y="{y0 + 17}" text-anchor="end">{_e(k.get("label") or k["metric"])}</text>')
        out.append(f'<rect x="{label_w}" y="{y0 + 5}" width="{track}" height="{row_h - 12}" fill="#e5e7eb"/>')
        progress = k.get("progress")
        if progress is None:
            out.append(f'<text x="{label_w + 6}" y="{y0 + 17}" font-style="italic">no figure yet</text>')
            continue
        colour = "#16a34a" if k.get("on_track") else "#d97706"
        out.append(f'<rect class="kpi" x="{label_w}" y="{y0 + 5}" width="{track * min(progress, 1):.1f}" '
                   f'height="{row_h - 12}" fill="{colour}"><title>{_e(k["metric"])}: {_pct(progress)}</title></rect>')
        out.append(f'<text x="{label_w + track + 6}" y="{y0 + 17}">{_pct(progress)}</text>')
    out.append("</svg>")
    return "".join(out)


def _table(rows: Iterable[dict[str, Any]], columns: list[tuple[str, str, str]]) -> str:
    """columns: (key, heading, kind) with kind one of text, num, pct, date."""
    head = "".join(f'<th class="{"n" if kind in ("num", "pct") else ""}">{_e(h)}</th>' for _, h, kind in columns)
    body = []
    for r in rows:
        cells = []
        for key, _, kind in columns:
            v = r.get(key)
            if kind == "num":
                cells.append(f'<td class="n">{_num(v)}</td>')
            elif kind == "pct":
                cells.append(f'<td class="n">{_pct(v)}</td>')
            elif isinstance(v, bool):
                cells.append(f"<td>{'yes' if v else 'no'}</td>")
            elif isinstance(v, (list, tuple)):
                cells.append(f"<td>{_e(', '.join(map(str, v)) or 'all')}</td>")
            else:
                cells.append(f"<td>{_e('–' if v is None else v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


BREAKDOWN_COLUMNS = [("source", "source", "text"), ("posts", "posts", "num"),
                     ("sum_of_post_reach", "sum of post reach", "num"), ("views", "views", "num"),
                     ("engagements", "engagements", "num"), ("engagement_rate", "engagement rate", "pct")]


def render_html(report: Report) -> str:
    s = report.summary or {}
    flags = {bool(p.get("sandbox")) for p in report.posts}
    source = "sandbox+live" if flags == {True, False} else "sandbox" if flags == {True} else "live"
    badge = ('<span class="badge">sandbox: simulated figures</span>' if report.sandbox
             else '<span class="badge live">live</span>')
    parts = [f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
             f"<title>Impact report — {_e(report.campaign_name)}</title><style>{CSS}</style></head><body>",
             f"<h1>Impact report — {_e(report.campaign_name)}{badge}</h1>",
             f'<p class="meta">Campaign <code>{_e(report.campaign_id)}</code> · generated '
             f'{_e(report.generated_at.strftime("%Y-%m-%d %H:%M UTC"))} · deadlines counted from {_e(report.as_of)}'
             f' · read from {_e(read_label(report.read_from))} · source: <span id="source">{source}</span></p>']
    parts.append('<section id="summary"><h2>Summary</h2>' + _table([s], [
        ("posts", "posts", "num"), ("posts_live", "live", "num"), ("posts_measured", "measured", "num"),
        ("sum_of_post_reach", "sum of post reach", "num"), ("views", "views", "num"),
        ("engagements", "engagements", "num"), ("engagement_rate", "engagement rate", "pct"),
        ("watch_time_s", "watch time (s)", "num")]) + "</section>")
    if report.notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in report.notes) + "</ul>")

    parts.append('<section id="kpis"><h2>Progress against objectives</h2>' + kpi_bars(report.kpis))
    parts.append(_table(report.kpis, [
        ("objective_id", "objective", "text"), ("label", "measure", "text"), ("value", "value", "num"),
        ("target", "target", "num"), ("progress", "progress", "pct"), ("deadline", "deadline", "text"),
        ("days_left", "days left", "num"), ("needed_per_day", "needed / day", "num"),
        ("per_day_so_far", "so far / day", "num"), ("on_track", "on track", "text"), ("source", "source", "text")]))
    for k in report.kpis:
        for n in k.get("notes") or []:
            parts.append(f'<p class="meta">{_e(k["objective_id"])}: {_e(n)}</p>')
    parts.append("</section>")

    points = [(r["period"], {"sum of post reach": r["sum_of_post_reach"], "views": r["views"]})
              for r in report.reach_over_time]
    parts.append('<section id="over-time"><h2>Reach over time</h2>'
                 + line_chart("Sum of post reach and views over time", points, ["sum of post reach", "views"])
                 + "</section>")

    parts.append('<section id="breakdown"><h2>Breakdown</h2>')
    for dim in ("country", "language", "platform", "organisation"):
        rows = report.by.get(dim, [])
        label = (lambda r: r.get("label") or r["value"])
        parts.append(f'<div class="dim" id="by-{dim}"><h3>By {dim}</h3><div class="charts">')
        parts.append(bar_chart(f"Sum of post reach by {dim}", [(label(r), r["sum_of_post_reach"]) for r in rows]))
        parts.append(bar_chart(f"Views by {dim}", [(label(r), r["views"]) for r in rows], VIEWS_COLOUR))
        parts.append("</div>")
        parts.append(_table([{**r, "value": label(r)} for r in rows], [("value", dim, "text")] + BREAKDOWN_COLUMNS))
        parts.append("</div>")
    parts.append("<h3>Country × language × platform</h3>" + _table(report.breakdown, [
        ("country", "country", "text"), ("language", "language", "text"), ("platform", "platform", "text"),
        ("source", "source", "text"), ("posts_published", "posts", "num"),
        ("sum_of_post_reach", "sum of post reach", "num"), ("views", "views", "num"),
        ("engagements", "engagements", "num"), ("engagement_rate", "engagement rate", "pct")]))
    for dim in ("format", "asset"):
        rows = report.by.get(dim, [])
        parts.append(f"<h3>By {dim}</h3>" + _table(rows, [("value", dim, "text")] + BREAKDOWN_COLUMNS))
    parts.append("</section>")

    parts.append('<section id="at-age"><h2>At a fixed post age</h2><p class="meta">Each post counts at an age only '
                 "when it was measured within ±10 % of that age, so young and old posts compare fairly.</p>"
                 + _table(report.at_age, [("platform", "platform", "text"), ("age", "age", "text"),
                                          ("posts_measured", "posts", "num"),
                                          ("sum_of_post_reach", "sum of post reach", "num"), ("views", "views", "num"),
                                          ("engagements", "engagements", "num"),
                                          ("engagement_rate", "engagement rate", "pct"), ("source", "source", "text")])
                 + "</section>")

    parts.append('<section id="variants"><h2>Which variant worked</h2><p class="meta">Engagement rate per view with '
                 "a 95 % interval; <em>sure</em> means the gap to the compared variant is larger than chance.</p>"
                 + _table(report.variants, [
                     ("asset_id", "asset", "text"), ("dimension", "by", "text"), ("rank", "rank", "num"),
                     ("variant", "variant", "text"), ("views", "views", "num"), ("rate", "rate", "pct"),
                     ("rate_low", "low", "pct"), ("rate_high", "high", "pct"), ("compared_with", "vs", "text"),
                     ("diff", "difference", "pct"), ("diff_low", "diff low", "pct"),
                     ("diff_high", "diff high", "pct"), ("sure", "sure", "text"), ("source", "source", "text")])
                 + "</section>")

    parts.append('<section id="posts"><h2>Posts</h2>' + _table(report.posts, [
        ("account_id", "account", "text"), ("platform", "platform", "text"), ("country", "country", "text"),
        ("language", "language", "text"), ("format", "format", "text"), ("state", "state", "text"),
        ("sandbox", "sandbox", "text"), ("views", "views", "num"), ("reach", "reach", "num"),
        ("engagements", "engagements", "num"), ("engagement_rate", "engagement rate", "pct")]) + "</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_html(report: Report, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
    return path
