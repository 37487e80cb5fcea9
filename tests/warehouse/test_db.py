"""The warehouse file: migrations applied on open, exactly once, in order; read-only connections refuse writes."""
from __future__ import annotations

import duckdb
import pytest

from campaign.errors import ChorusError
from warehouse import db


def test_migrations_apply_once_in_order(tmp_path):
    path = tmp_path / "w.duckdb"
    con = db.connect(path)
    versions = [r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()]
    assert versions == [v for v, _, _ in db.migrations()]
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"campaigns", "assets", "captions", "variants", "posts", "post_events", "metric_snapshots"} <= tables
    con.close()
    con = db.connect(path)
    assert db.migrate(con) == []  # nothing left to apply on a second open
    con.close()


def test_a_failing_migration_rolls_back_and_is_not_recorded(tmp_path, monkeypatch):
    path = tmp_path / "w.duckdb"
    good = db.migrations()
    bad = good + [(999, "999_broken.sql", "CREATE TABLE half_done (x INT); SELECT * FROM no_such_table;")]
    monkeypatch.setattr(db, "migrations", lambda: bad)
    with pytest.raises(duckdb.Error):
        db.connect(path)
    monkeypatch.setattr(db, "migrations", lambda: good)
    con = db.connect(path)
    assert con.execute("SELECT count(*) FROM schema_migrations WHERE version = 999").fetchone()[0] == 0
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert "half_done" not in tables
    con.close()


def test_read_only_connection_refuses_writes(tmp_path):
    path = tmp_path / "w.duckdb"
    db.connect(path).close()
    ro = db.connect(path, read_only=True)
    assert ro.execute("SELECT count(*) FROM posts").fetchone()[0] == 0
    with pytest.raises(duckdb.Error, match="read-only"):
        ro.execute("DELETE FROM posts")
    ro.close()


def test_read_only_on_a_missing_warehouse_says_what_to_do(tmp_path):
    with pytest.raises(ChorusError, match="chorus run"):
        db.connect(tmp_path / "nothing.duckdb", read_only=True)
