"""The HTML report: self-contained (no script, no external resource), and what headless Chromium shows of it —
the KPI bars, the reach-over-time lines and the per-country / language / platform bars, with their numbers."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from tests.warehouse import impact_dataset as ds
from warehouse import db
from warehouse.report import build_report
from warehouse.report_html import BAR_COLOUR, VIEWS_COLOUR, render_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> tuple[Path, object]:
    tmp = tmp_path_factory.mktemp("html")
    con = db.connect(tmp / "w.duckdb")
    ds.load(con)
    report = build_report(con, ds.CID, today=ds.AS_OF, now=ds.NOW)
    con.close()
    path = tmp / "report.html"
    path.write_text(render_html(report), encoding="utf-8")
    return path, report


def test_page_needs_no_network(page):
    text = page[0].read_text(encoding="utf-8")
    assert "<script" not in text and "<link" not in text and "@import" not in text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (the Makefile's test target installs it: "
                    "apt-get install -y chromium)")
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile'}", *args],
                          capture_output=True, text=True, timeout=90)


def test_chromium_shows_kpis_breakdowns_and_chart_numbers(page, tmp_path):
    path, report = page
    out = _chromium(tmp_path, "--dump-dom", path.as_uri())
    dom = out.stdout
    assert "Impact report — Impact test" in dom
    assert dom.count('class="kpi"') == sum(1 for k in report.kpis if k["progress"] is not None)
    for dim in ("country", "language", "platform"):
        section = dom.split(f'id="by-{dim}"')[1].split('class="dim"')[0]
        for row in report.by[dim]:
            assert f">{row['value']}<" in section
            if row["sum_of_post_reach"] is not None:
                assert f"{row['sum_of_post_reach']:,.0f}" in section
    # Two lines over time (sum of post reach, views), drawn from the snapshots.
    assert dom.count('class="series"') == 2
    assert "sum of post reach" in dom and ">sandbox" in dom


def test_chromium_draws_the_charts(page, tmp_path):
    path, _ = page
    shot = tmp_path / "shot.png"
    _chromium(tmp_path, "--window-size=1200,4000", f"--screenshot={shot}", path.as_uri())
    img = Image.open(shot).convert("RGB")
    colours = img.getcolors(maxcolors=1 << 20)
    counts = {c: n for n, c in colours}

    def pixels(hex_colour: str) -> int:
        rgb = tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
        return counts.get(rgb, 0)

    assert pixels(BAR_COLOUR) > 2000   # reach bars and the reach line
    assert pixels(VIEWS_COLOUR) > 2000  # views bars, KPI bars on track and the views line
