"""Concurrent use of the warehouse file: a report while a pull is writing (another process holds the file) reads
the published read copy instead of failing; a pull while someone is querying waits for the reader and succeeds;
pulls and reports running side by side never fail. Bounded: a few pulls, a few seconds."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.warehouse import impact_dataset as ds
from warehouse import db
from warehouse.report import build_report

REPO = Path(__file__).resolve().parents[2]

# A pull in another process: open the writer, append one more pull of the data set, hold the file `hold_s`
# (a slow write), then close (which publishes the read copy).
WRITER = textwrap.dedent("""
    import datetime as dt, sys, time
    from pathlib import Path
    from tests.warehouse import impact_dataset as ds
    from warehouse import db
    from warehouse.snapshots import append_snapshots
    path, hold_s, pulls = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    t0 = time.monotonic()
    for k in range(pulls):
        with db.writer(path, wait_s=20) as con:
            Path(path + ".ready").touch()
            batch = ds.pulls()[-1]
            later = [s.__class__(**{**s.__dict__, "pulled_at": s.pulled_at + dt.timedelta(hours=k + 1)}) for s in batch]
            append_snapshots(con, later)
            time.sleep(hold_s)
    print(f"waited-and-wrote {time.monotonic() - t0:.2f}")
""")


def _writer(path: Path, hold_s: float, pulls: int = 1) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(hold_s), str(pulls)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _setup(tmp_path: Path) -> Path:
    path = tmp_path / "chorus.duckdb"
    with db.writer(path) as con:  # publishes the first read copy
        ds.load(con)
    return path


def _wait_for(flag: Path, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not flag.exists():
        assert time.monotonic() < end, "the writer never started"
        time.sleep(0.05)


def test_a_report_during_a_pull_reads_the_read_copy(tmp_path):
    path = _setup(tmp_path)
    proc = _writer(path, hold_s=3.0)
    try:
        _wait_for(Path(str(path) + ".ready"))
        con = db.connect(path, read_only=True, wait_s=2)
        report = build_report(con, ds.CID, today=ds.AS_OF, now=ds.NOW)
        con.close()
        assert report.read_from == "read copy"
        assert report.summary["views"] == ds.expected_sum("views")
        assert any("A pull was writing" in n for n in report.notes)
    finally:
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err


def test_a_pull_while_someone_is_querying_waits_and_succeeds(tmp_path):
    path = _setup(tmp_path)
    reader = db.connect(path, read_only=True)
    assert db.source_of(reader) == "live"
    before = reader.execute("SELECT count(*) FROM metric_snapshots").fetchall()[0][0]
    proc = _writer(path, hold_s=0.0)
    time.sleep(1.0)  # the writer is retrying while the reader holds the file
    assert proc.poll() is None
    reader.close()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    con = db.connect(path, read_only=True)
    after = con.execute("SELECT count(*) FROM metric_snapshots").fetchall()[0][0]
    con.close()
    assert after > before


def test_reports_and_pulls_side_by_side_never_fail(tmp_path):
    path = _setup(tmp_path)
    proc = _writer(path, hold_s=0.3, pulls=4)
    reports, sources = 0, set()
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline:
        con = db.connect(path, read_only=True, wait_s=20)
        try:
            r = build_report(con, ds.CID, today=ds.AS_OF, now=ds.NOW)
            assert r.summary["views"] == ds.expected_sum("views")
            sources.add(r.read_from)
            reports += 1
        finally:
            con.close()
        time.sleep(0.05)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert reports >= 1


def test_same_process_writer_and_reader(tmp_path):
    path = _setup(tmp_path)
    with db.writer(path) as w:
        r = db.connect(path, read_only=True, wait_s=1)
        assert db.source_of(r) == "read copy"
        assert r.execute("SELECT count(*) FROM posts").fetchall()[0][0] == len(ds.POSTS)
        r.close()
        w.execute("SELECT 1")


def test_a_waiting_writer_sends_new_readers_to_the_read_copy(tmp_path):
    path = _setup(tmp_path)
    marker = path.with_name(path.stem + ".writer-waiting")
    marker.touch()
    try:
        con = db.connect(path, read_only=True)
        assert db.source_of(con) == "read copy"
        con.close()
    finally:
        marker.unlink()
    con = db.connect(path, read_only=True)
    assert db.source_of(con) == "live"
    con.close()
