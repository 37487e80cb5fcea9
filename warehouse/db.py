"""Opening the DuckDB warehouse: forward-only numbered migrations applied on open, read-only connections for queries."""
from __future__ import annotations

import re
import time
from importlib import resources
from pathlib import Path

import duckdb

from campaign.errors import ChorusError

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every packaged migration, in order."""
    out = []
    for entry in resources.files("warehouse.migrations").iterdir():
        m = _MIGRATION_NAME.match(entry.name)
        if m:
            out.append((int(m.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    out.sort()
    versions = [v for v, _, _ in out]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a number: {versions}")
    return out


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply every migration not yet applied, each in its own transaction; returns the versions applied."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMPTZ DEFAULT now())")
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for version, name, sql in migrations():
        if version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [version, name])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(version)
    return applied


def _is_lock_error(err: Exception) -> bool:
    text = str(err).lower()
    return "lock" in text or "could not set lock" in text or "conflicting lock" in text


def connect(path: str | Path, *, read_only: bool = False, wait_s: float = 30.0) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse file, migrated when opened for writing.

    DuckDB lets one process write a file at a time; another process waiting for it retries with backoff
    for up to `wait_s` instead of failing at once.
    """
    path = Path(path)
    if read_only and not path.exists():
        raise ChorusError(f"no warehouse at {path}", "run `chorus run` or `chorus demo` first, or set CHORUS_WAREHOUSE")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_s
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as err:
            if not _is_lock_error(err) or time.monotonic() > deadline:
                raise ChorusError(
                    f"the warehouse {path} is busy or unreadable: {str(err).splitlines()[0]}",
                    "wait for the running pull or publish to finish and try again",
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
    if not read_only:
        migrate(con)
    con.execute("SET TimeZone = 'UTC'")
    return con
