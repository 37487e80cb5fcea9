"""`chorus report` renderers: terminal tables, CSV and JSON a tool can parse, the HTML file, the Parquet export;
rows from the sandbox say sandbox, and a bad format gets one clear message."""
from __future__ import annotations

import csv
import io
import json

import pytest

from campaign.errors import ChorusError
from flows.stage_report import export_parquet, render_report
from tests.warehouse import impact_dataset as ds
from warehouse import db


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    path = tmp_path_factory.mktemp("render") / "w.duckdb"
    with db.writer(path) as con:
        ds.load(con)
    return path


def test_terminal_tables_mark_sandbox_rows(warehouse):
    text = render_report(warehouse, ds.CID, formats="table", today=ds.AS_OF)
    assert "Impact report — Impact test" in text and "Progress against objectives" in text
    de_row = next(line for line in text.splitlines() if "│ DE " in line and "│ de " in line and "tiktok" in line)
    assert "sandbox" in de_row
    x_row = next(line for line in text.splitlines() if "│ IE " in line and "│ x " in line)
    assert "sandbox" not in x_row and "live" in x_row
    assert "sum of post reach" in text


def test_csv_and_json_carry_the_same_figures(warehouse):
    out = render_report(warehouse, ds.CID, formats="csv,json", today=ds.AS_OF)
    csv_text, json_text = out.split("\n{", 1)
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    kpis = [r for r in rows if r["section"] == "kpis"]
    assert {r["objective_id"] for r in kpis} == {k[0] for k in ds.KPIS}
    reach = next(r for r in kpis if r["objective_id"] == "reach-all")
    assert float(reach["value"]) == ds.expected_sum("reach")
    doc = json.loads("{" + json_text)
    assert doc["sandbox"] is True
    by_country = {r["value"]: r for r in doc["by_country"]}
    assert by_country["ES"]["views"] == ds.expected_sum("views", country="ES")
    assert by_country["DE"]["source"] == "sandbox+live"


def test_html_file_and_parquet_export(warehouse, tmp_path):
    html = tmp_path / "out" / "report.html"
    out = render_report(warehouse, ds.CID, formats=[], html=html, today=ds.AS_OF)
    assert str(html) in out and html.read_text(encoding="utf-8").startswith("<!doctype html>")
    files = export_parquet(warehouse, tmp_path / "pq", ds.CID)
    assert files["kpi_progress"].exists() and files["metric_snapshots"].stat().st_size > 0


def test_bad_format_is_one_clear_message(warehouse):
    with pytest.raises(ChorusError) as info:
        render_report(warehouse, ds.CID, formats="table,xml")
    assert "xml" in str(info.value) and "csv" in str(info.value)
