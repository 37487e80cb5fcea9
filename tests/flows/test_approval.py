"""The approval gate's record, without a server: decisions in the warehouse, what they cover, `chorus approve` alone."""
from __future__ import annotations

import pytest

from campaign.errors import ChorusError
from campaign.settings import Settings
from flows.approval import approve
from warehouse import db
from warehouse.approvals import latest_decision, record_decision, rendered_variants
from warehouse.records import upsert_variant


def _variant(con, vid: str, status: str = "rendered") -> None:
    upsert_variant(con, vid, campaign_id="c", asset_id="a", language=vid.split("/")[-2], format="9:16", width=1080,
                   height=1920, status=status, key=f"k/{vid}" if status == "rendered" else None)


def test_the_latest_decision_counts_and_only_for_the_variants_it_names(tmp_path):
    con = db.connect(tmp_path / "w.duckdb")
    _variant(con, "c/a/en/9x16")
    _variant(con, "c/a/de/9x16")
    _variant(con, "c/a/ar/9x16", status="failed")
    assert rendered_variants(con, "c", "a") == ["c/a/de/9x16", "c/a/en/9x16"]
    assert latest_decision(con, "c", "a") is None
    record_decision(con, "c", "a", decision="rejected", decided_by="Bo", variants=["c/a/en/9x16"], channel="cli",
                    note="wrong logo")
    con.execute("UPDATE approvals SET decided_at = decided_at - INTERVAL 1 MINUTE")
    record_decision(con, "c", "a", decision="approved", decided_by="  Ada  ", variants=rendered_variants(con, "c", "a"),
                    channel="prefect", flow_run_id="run-1")
    got = latest_decision(con, "c", "a")
    assert (got.decision, got.decided_by, got.channel, got.flow_run_id) == ("approved", "Ada", "prefect", "run-1")
    assert got.approved and got.covers(["c/a/en/9x16", "c/a/de/9x16"])
    assert not got.covers(["c/a/en/9x16", "c/a/es/9x16"])  # a variant rendered later was not seen
    with pytest.raises(ValueError):
        record_decision(con, "c", "a", decision="maybe", decided_by="x", variants=[], channel="cli")
    with pytest.raises(ValueError):
        record_decision(con, "c", "a", decision="approved", decided_by=" ", variants=[], channel="cli")
    con.close()


def test_chorus_approve_without_a_server_records_the_decision(chorus_home, monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    settings = Settings.from_env()
    with pytest.raises(ChorusError, match="no rendered variants"):
        approve("c", "a", by="Ada")
    con = db.connect(settings.warehouse_path)
    _variant(con, "c/a/en/9x16")
    con.close()
    got = approve("c", "a", by="Ada Lovelace", note="checked")
    assert got.how == "recorded" and got.variants == ("c/a/en/9x16",)
    con = db.connect(settings.warehouse_path, read_only=True)
    rows = con.execute("SELECT decision, decided_by, channel, note, variants FROM approvals").fetchall()
    con.close()
    assert rows == [("approved", "Ada Lovelace", "cli", "checked", ["c/a/en/9x16"])]
