"""The report value: every section filled from the SQL files, notes that explain gaps instead of zeros, the
reach-over-time series, and the Parquet export analysts open."""
from __future__ import annotations

import duckdb
import pytest

from campaign.errors import ChorusError
from tests.warehouse import impact_dataset as ds
from warehouse import db
from warehouse.export import export_parquet
from warehouse.report import build_report


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "w.duckdb"
    con = db.connect(path)
    ds.load(con)
    yield con, path
    con.close()


def test_report_sections_match_the_data_set(loaded):
    con, _ = loaded
    r = build_report(con, ds.CID, today=ds.AS_OF, now=ds.NOW)
    assert r.summary["views"] == ds.expected_sum("views")
    assert r.summary["sum_of_post_reach"] == ds.expected_sum("reach")
    assert {k["objective_id"] for k in r.kpis} == {k[0] for k in ds.KPIS}
    assert {row["value"] for row in r.by["country"]} == {p.country for p in ds.POSTS}
    assert len(r.posts) == len(ds.POSTS)
    assert r.read_from == "live"
    # Reach over time ends at the latest figures of every post.
    assert r.reach_over_time[-1]["views"] == ds.expected_sum("views")
    assert r.reach_over_time[-1]["sum_of_post_reach"] == ds.expected_sum("reach")
    values = [row["views"] for row in r.reach_over_time]
    assert values == sorted(values)


def test_report_explains_gaps_lag_and_renamed_metrics(loaded):
    con, _ = loaded
    r = build_report(con, ds.CID, today=ds.AS_OF, now=ds.NOW)
    kpi = {k["objective_id"]: k for k in r.kpis}
    assert any("instagram: does not report impressions" in n and "2024-07-02" in n for n in kpi["impressions"]["notes"])
    assert any("instagram: awaiting figures for 1 post" in n for n in kpi["reach-all"]["notes"])
    assert any("instagram views" in n and "definition" in n for n in r.notes)
    assert any("sandbox" in n for n in r.notes)
    assert any("sum of post reach" in n for n in r.notes)


def test_unknown_campaign_names_the_known_ones(loaded):
    con, _ = loaded
    with pytest.raises(ChorusError, match=ds.CID):
        build_report(con, "nope")


def test_parquet_export_round_trips(loaded, tmp_path):
    con, _ = loaded
    files = export_parquet(con, tmp_path / "pq", ds.CID)
    assert {"metric_snapshots", "posts", "kpi_progress", "impact_breakdown"} <= set(files)
    check = duckdb.connect()
    n = check.execute(f"SELECT count(*) FROM '{files['metric_snapshots']}'").fetchall()[0][0]
    assert n == con.execute("SELECT count(*) FROM metric_snapshots WHERE campaign_id = ?", [ds.CID]).fetchall()[0][0]
    views = check.execute(f"SELECT sum(views) FROM '{files['post_metrics_wide']}'").fetchall()[0][0]
    assert views == ds.expected_sum("views")
    other = export_parquet(con, tmp_path / "none", "another-campaign")
    assert check.execute(f"SELECT count(*) FROM '{other['posts']}'").fetchall()[0][0] == 0
