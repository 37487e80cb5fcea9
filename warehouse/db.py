"""Opening the DuckDB warehouse: forward-only numbered migrations applied on open, and safe concurrent use.

DuckDB lets one process hold a database file for writing, and while it does no other process can open the file
at all, not even to read. Chorus works with that rule instead of against it:

- Writers hold the file briefly. A stage fetches from platforms with no connection open, then opens, writes in a
  short transaction and closes (`writer()`). A writer that finds the file busy retries with backoff (`wait_s`).
- When a writer closes, it publishes a *read copy* next to the file (`chorus.read.duckdb`): the file after a
  checkpoint, copied and renamed into place atomically. Readers that hold it open keep their old copy.
- A reader (`connect(read_only=True)`) opens the live file when it is free (freshest figures). When a writer holds
  it, the reader opens the read copy instead of failing or waiting: a report during a pull shows the warehouse as
  of the last finished write. Writers come first: a writer waiting for readers to let go leaves a marker file, and
  new readers take the read copy while it is there, so a stream of reports cannot starve a pull. Long-lived clients (a DuckDB shell, a BI tool) should open the read
  copy directly so that they never delay a pull.
"""
from __future__ import annotations

import os
import re
import shutil
import time
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Iterator

import duckdb

from campaign.errors import ChorusError

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
READ_COPY_SUFFIX = ".read.duckdb"


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


def read_copy_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.stem + READ_COPY_SUFFIX)


def _waiting_marker(path: Path) -> Path:
    return path.with_name(path.stem + ".writer-waiting")


def _writer_waiting(path: Path, fresh_s: float = 60.0) -> bool:
    """A writer is waiting for the file (it refreshes the marker while it waits; a stale one is ignored)."""
    try:
        return time.time() - _waiting_marker(path).stat().st_mtime < fresh_s
    except FileNotFoundError:
        return False


def _is_lock_error(err: Exception) -> bool:
    text = str(err).lower()
    return "lock" in text or "could not set lock" in text or "conflicting lock" in text


def _is_same_process_conflict(err: Exception) -> bool:
    # This process already has the file open for writing: DuckDB refuses a second, read-only configuration.
    return "different configuration" in str(err).lower()


def _busy(path: Path, err: Exception) -> ChorusError:
    return ChorusError(
        f"the warehouse {path} is busy or unreadable: {str(err).splitlines()[0]}",
        "wait for the running pull or publish to finish and try again",
    )


def _open(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute("SET TimeZone = 'UTC'")
    return con


def connect(path: str | Path, *, read_only: bool = False, wait_s: float = 30.0,
            live_wait_s: float = 0.25) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse file, migrated when opened for writing.

    Writing: another process holding the file is waited for, with backoff, for up to `wait_s`.
    Reading: the live file when it is free within `live_wait_s`, otherwise the read copy published by the last
    writer (see the module docstring); with no read copy yet, it waits for the writer up to `wait_s`.
    """
    path = Path(path)
    copy = read_copy_path(path)
    if read_only and not path.exists() and not copy.exists():
        raise ChorusError(f"no warehouse at {path}", "run `chorus run` or `chorus demo` first, or set CHORUS_WAREHOUSE")
    if read_only and not path.exists():
        return _open(copy, True)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    # Writers come first: while one waits for the file, new readers take the read copy instead of the live
    # file, so a stream of reports cannot keep a pull waiting.
    if read_only and copy.exists() and _writer_waiting(path):
        try:
            return _open(copy, True)
        except (duckdb.IOException, duckdb.ConnectionException):
            pass
    start = time.monotonic()
    delay = 0.02
    marker = _waiting_marker(path)
    try:
        while True:
            try:
                con = _open(path, read_only)
                break
            except (duckdb.IOException, duckdb.ConnectionException) as err:
                same_process = _is_same_process_conflict(err)
                if not (_is_lock_error(err) or same_process):
                    raise _busy(path, err) from None
                waited = time.monotonic() - start
                if read_only and copy.exists() and (same_process or waited >= live_wait_s):
                    try:
                        return _open(copy, True)
                    except (duckdb.IOException, duckdb.ConnectionException):
                        pass  # being replaced right now: try again
                if waited > wait_s or (same_process and not read_only):
                    raise _busy(path, err) from None
                if not read_only:
                    marker.touch()
                time.sleep(delay)
                delay = min(delay * 2, 0.25)
    finally:
        if not read_only:
            marker.unlink(missing_ok=True)
    if not read_only:
        migrate(con)
        from warehouse.snapshots import sync_vocabulary

        sync_vocabulary(con)
    return con


def publish_read_copy(con: duckdb.DuckDBPyConnection, path: str | Path) -> Path | None:
    """Checkpoint the writer's file and atomically replace the read copy with it; None when it could not."""
    path = Path(path)
    copy = read_copy_path(path)
    try:
        con.execute("CHECKPOINT")
    except duckdb.Error:
        return None  # another write is open in this process; the next writer publishes
    tmp = copy.with_name(f".{copy.name}.{os.getpid()}.tmp")
    # The writer holds the file exclusively and has just checkpointed it, so the bytes are a consistent database.
    shutil.copyfile(path, tmp)
    os.replace(tmp, copy)
    return copy


@contextmanager
def writer(path: str | Path, *, wait_s: float = 30.0, publish: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short writing session: open (waiting for another writer), yield, publish the read copy, close."""
    con = connect(path, wait_s=wait_s)
    try:
        yield con
        if publish:
            publish_read_copy(con, path)
    finally:
        con.close()


def source_of(con: duckdb.DuckDBPyConnection) -> str:
    """'live' when the connection reads the warehouse file itself, 'read copy' when it reads the published copy."""
    rows = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    return "read copy" if rows and rows[0][0] and str(rows[0][0]).endswith(READ_COPY_SUFFIX) else "live"
