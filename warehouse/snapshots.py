"""Metric snapshots: append-only, time-stamped raw values with their canonical name and definition version.

Appending is columnar and bulk (a dict of NumPy arrays scanned by DuckDB, mapped to the vocabulary by a join in
SQL), idempotent (a snapshot of a post metric no newer than the one already kept is dropped, so the same pull
twice adds nothing), and merges the batch into `metric_current` so reports read one small table instead of the
whole history. The pull cadence (`posts_due_for_pull`) is here too: it is a query over the ledger and pull log.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import operator
import uuid
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import duckdb
import numpy as np

from campaign.metrics import CANONICAL_METRICS, MAPPINGS, UNMAPPED

# Fixed post ages at which figures are kept for fair comparison, and the tolerance around each (+-10 %).
AGES_S = {"24h": 86_400.0, "7d": 7 * 86_400.0, "30d": 30 * 86_400.0}
AGE_TOLERANCE = 0.10


@dataclass(frozen=True)
class Snapshot:
    campaign_id: str
    idempotency_key: str
    platform: str            # the metric vocabulary to map from ("sandbox" for sandbox posts)
    platform_post_id: str
    pulled_at: dt.datetime
    post_age_s: float | None
    raw_name: str
    raw_value: float | None
    sandbox: bool = False
    payload: dict[str, Any] | None = None


# -- the vocabulary as tables ------------------------------------------------------------------------------------

def _vocabulary_rows() -> tuple[list[list[Any]], list[list[Any]], str]:
    defs = [[m.name, m.title, m.unit, m.unique, m.derived, m.definition] for m in CANONICAL_METRICS.values()]
    maps = []
    for platform, table in MAPPINGS.items():
        for m in table.values():
            maps.append([platform, m.raw_name, m.canonical, m.definition_version, m.scale, m.part, m.rank, m.status,
                         m.replaced_by, m.valid_from, m.valid_until, m.definition, m.source, m.note])
    for platform, table in UNMAPPED.items():
        for raw, why in table.items():
            maps.append([platform, raw, None, None, 1.0, False, 0, "unmapped", None, None, None, None, None, why])
    fingerprint = hashlib.sha256(json.dumps([defs, maps], default=str).encode()).hexdigest()[:16]
    return defs, maps, fingerprint


def sync_vocabulary(con: duckdb.DuckDBPyConnection) -> bool:
    """Write campaign/metrics.py's vocabulary into metric_definitions/metric_mappings when it changed."""
    defs, maps, fingerprint = _vocabulary_rows()
    rows = con.execute("SELECT fingerprint FROM metric_vocabulary_state").fetchall()
    row = rows[0] if rows else None
    if row and row[0] == fingerprint:
        return False
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM metric_definitions")
        con.execute("DELETE FROM metric_mappings")
        con.executemany("INSERT INTO metric_definitions VALUES (?, ?, ?, ?, ?, ?)", defs)
        con.executemany("INSERT INTO metric_mappings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", maps)
        con.execute("DELETE FROM metric_vocabulary_state")
        con.execute("INSERT INTO metric_vocabulary_state VALUES (?, now())", [fingerprint])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return True


# -- appending ---------------------------------------------------------------------------------------------------

def _epoch_us(t: dt.datetime) -> int:
    if t.tzinfo is None:
        raise ValueError("snapshot times must be timezone-aware (UTC)")
    return int(t.timestamp()) * 1_000_000 + t.microsecond


def append_snapshots(con: duckdb.DuckDBPyConnection, snapshots: Iterable[Snapshot], *, pull_id: str | None = None) -> int:
    """Append snapshots (bulk); returns how many were new. Unknown raw names are kept with no canonical name."""
    snaps = list(snapshots)
    if not snaps:
        return 0
    payloads: list[str | None] = []
    payload_index: dict[int, int] = {}
    payload_no: list[int] = []
    for s in snaps:
        if s.payload is None:
            payload_no.append(-1)
            continue
        # Connectors usually attach one payload object to every reading of a post: store it once.
        n = payload_index.get(id(s.payload))
        if n is None:
            n = payload_index[id(s.payload)] = len(payloads)
            payloads.append(json.dumps(s.payload, default=str, ensure_ascii=False))
        payload_no.append(n)
    us_cache: dict[dt.datetime, int] = {}
    columns = {
        "campaign_id": [s.campaign_id for s in snaps],
        "idempotency_key": [s.idempotency_key for s in snaps],
        "platform": [s.platform for s in snaps],
        "platform_post_id": [s.platform_post_id for s in snaps],
        "pulled_us": [us_cache.get(s.pulled_at) or us_cache.setdefault(s.pulled_at, _epoch_us(s.pulled_at)) for s in snaps],
        "post_age_s": [s.post_age_s for s in snaps],
        "raw_name": [s.raw_name for s in snaps],
        "raw_value": [s.raw_value for s in snaps],
        "sandbox": [s.sandbox for s in snaps],
        "payload_no": payload_no,
    }
    return append_columns(con, columns, payloads=payloads, pull_id=pull_id)


def append_records(con: duckdb.DuckDBPyConnection, records: Sequence[dict[str, Any]], *,
                   pull_id: str | None = None) -> int:
    """Append snapshots given as dicts with Snapshot's field names (payload left out); returns how many were new."""
    if not records:
        return 0
    n = len(records)
    # Straight from the dicts into NumPy arrays, one pass per column (measured faster than building lists first
    # or transposing with zip); floats through a list so that None becomes NaN, read by DuckDB as NULL.
    columns: dict[str, Sequence[Any]] = {
        name: np.fromiter(map(operator.itemgetter(name), records), dtype=object, count=n)
        for name in ("campaign_id", "idempotency_key", "platform", "platform_post_id", "raw_name")
    }
    for name in ("post_age_s", "raw_value"):
        columns[name] = np.array([r[name] for r in records], dtype=np.float64)
    columns["sandbox"] = np.fromiter(map(operator.itemgetter("sandbox"), records), dtype=bool, count=n)
    times = [r["pulled_at"] for r in records]
    # A pull has one time (a load a few): convert each distinct time once, then look it up.
    us = {t: _epoch_us(t) for t in set(times)}
    columns["pulled_us"] = [us[t] for t in times]
    return append_columns(con, columns, pull_id=pull_id)


_STR_COLUMNS = ("campaign_id", "idempotency_key", "platform", "platform_post_id", "raw_name")


def _arrays(columns: dict[str, Sequence[Any]]) -> dict[str, np.ndarray]:
    n = len(columns["raw_name"])
    out: dict[str, np.ndarray] = {}
    for name in _STR_COLUMNS:
        out[name] = np.asarray(columns[name], dtype=object)
    out["pulled_us"] = np.asarray(columns["pulled_us"], dtype=np.int64)
    # None -> NaN, which DuckDB reads from a NumPy float column as NULL (never as 0).
    out["post_age_s"] = np.asarray(columns["post_age_s"], dtype=np.float64)
    out["raw_value"] = np.asarray(columns["raw_value"], dtype=np.float64)
    out["sandbox"] = np.asarray(columns["sandbox"], dtype=bool) if "sandbox" in columns else np.zeros(n, dtype=bool)
    out["payload_no"] = (np.asarray(columns["payload_no"], dtype=np.int32) if "payload_no" in columns
                         else np.full(n, -1, dtype=np.int32))
    for name, arr in out.items():
        if len(arr) != n:
            raise ValueError(f"column {name} has {len(arr)} values, expected {n}")
    return out


def _age_aggregates() -> str:
    parts = []
    for label, age in AGES_S.items():
        lo, hi = age * (1 - AGE_TOLERANCE), age * (1 + AGE_TOLERANCE)
        cond = f"FILTER (WHERE post_age_s BETWEEN {lo} AND {hi} AND canonical_value IS NOT NULL)"
        parts.append(f"arg_min(canonical_value, abs(post_age_s - {age})) {cond} AS at_{label}")
        parts.append(f"arg_min(post_age_s, abs(post_age_s - {age})) {cond} AS at_{label}_age_s")
    return ",\n               ".join(parts)


def _age_merge() -> str:
    cols = []
    for label, age in AGES_S.items():
        closer = (f"(c.at_{label}_age_s IS NULL OR (a.at_{label}_age_s IS NOT NULL AND "
                  f"abs(a.at_{label}_age_s - {age}) < abs(c.at_{label}_age_s - {age})))")
        cols.append(f"CASE WHEN {closer} AND a.at_{label}_age_s IS NOT NULL THEN a.at_{label} ELSE c.at_{label} END")
        cols.append(f"CASE WHEN {closer} AND a.at_{label}_age_s IS NOT NULL "
                    f"THEN a.at_{label}_age_s ELSE c.at_{label}_age_s END")
    return ",\n               ".join(cols)


# The batch's own summary per post metric: latest value, and the value closest to each fixed age.
_AGGREGATE = f"""
    CREATE OR REPLACE TEMP TABLE _chorus_agg AS
        SELECT idempotency_key, raw_name, any_value(campaign_id) AS campaign_id, any_value(platform) AS platform,
               any_value(canonical_name) AS canonical_name, any_value(definition_version) AS definition_version,
               bool_or(sandbox) AS sandbox, min(pulled_at) AS first_pulled_at, max(pulled_at) AS last_pulled_at,
               arg_max(raw_value, pulled_at) AS last_raw_value, arg_max(canonical_value, pulled_at) AS last_value,
               count(*) AS snapshots,
               {_age_aggregates()}
        FROM {{source}}
        GROUP BY idempotency_key, raw_name
"""

# Merged with what metric_current holds (a hash join, no index): the newer latest value wins, and the figure
# measured closer to each fixed age wins.
_MERGE = f"""
    CREATE OR REPLACE TEMP TABLE _chorus_merged AS
        SELECT a.idempotency_key, a.raw_name, a.campaign_id, a.platform, a.canonical_name, a.definition_version,
               a.sandbox OR coalesce(c.sandbox, false),
               least(a.first_pulled_at, c.first_pulled_at),
               greatest(a.last_pulled_at, c.last_pulled_at),
               CASE WHEN c.last_pulled_at IS NULL OR a.last_pulled_at >= c.last_pulled_at
                    THEN a.last_raw_value ELSE c.last_raw_value END,
               CASE WHEN c.last_pulled_at IS NULL OR a.last_pulled_at >= c.last_pulled_at
                    THEN a.last_value ELSE c.last_value END,
               a.snapshots + coalesce(c.snapshots, 0),
               {_age_merge()}
        FROM _chorus_agg a
        LEFT JOIN metric_current c USING (idempotency_key, raw_name);
    DELETE FROM metric_current c USING _chorus_agg a
        WHERE c.idempotency_key = a.idempotency_key AND c.raw_name = a.raw_name;
    INSERT INTO metric_current SELECT * FROM _chorus_merged;
    DROP TABLE _chorus_merged;
"""

# metric_latest refreshed for the posts this batch touched: the same logic as the view post_metrics_latest_live
# (migration 045), restricted to those posts so a pull costs what it touches, not the whole warehouse.
_REFRESH_LATEST = """
    CREATE OR REPLACE TEMP TABLE _chorus_keys AS SELECT DISTINCT idempotency_key, campaign_id FROM _chorus_agg;
    DELETE FROM metric_latest WHERE idempotency_key IN (SELECT idempotency_key FROM _chorus_keys);
    INSERT INTO metric_latest
""" + """
WITH c AS (
    SELECT c.*, coalesce(m.part, false) AS part, coalesce(m.rank, 0) AS rank, coalesce(m.status, 'current') AS status
    FROM (SELECT * FROM metric_current
          WHERE idempotency_key IN (SELECT idempotency_key FROM _chorus_keys)) c
    LEFT JOIN metric_mappings m ON m.platform = c.platform AND m.raw_name = c.raw_name
    WHERE c.canonical_name IS NOT NULL AND c.last_value IS NOT NULL
), g AS (
    SELECT idempotency_key, canonical_name, max(last_pulled_at) AS newest_pull,
           min(definition_version) AS v_min, max(definition_version) AS v_max,
           bool_or(status <> 'current') AS any_old
    FROM c GROUP BY ALL
)
SELECT c.idempotency_key, any_value(c.campaign_id) AS campaign_id, any_value(c.platform) AS platform,
       c.canonical_name,
       CASE WHEN bool_or(c.part) THEN sum(c.last_value) FILTER (WHERE c.part)
            ELSE arg_min(c.last_value, c.rank) END AS canonical_value,
       max(c.last_pulled_at) AS pulled_at,
       CASE WHEN count(*) = 1 THEN any_value(c.raw_name) ELSE string_agg(c.raw_name, '+') END AS raw_names,
       arg_min(c.definition_version, c.rank) AS definition_version,
       CASE WHEN any_value(g.v_min) = any_value(g.v_max) THEN any_value(g.v_min)
            ELSE any_value(g.v_min) || ' -> ' || any_value(g.v_max) END AS definition_versions,
       any_value(g.v_min) <> any_value(g.v_max) AND any_value(g.any_old) AS definition_changed,
       bool_or(c.sandbox) AS sandbox
FROM c JOIN g ON g.idempotency_key = c.idempotency_key AND g.canonical_name = c.canonical_name
              AND c.last_pulled_at = g.newest_pull
GROUP BY c.idempotency_key, c.canonical_name
""" + """;
    INSERT INTO metric_totals
    SELECT l.campaign_id, (SELECT max(pulled_at) FROM _chorus_batch), ?,
           sum(canonical_value) FILTER (WHERE canonical_name = 'reach'),
           sum(canonical_value) FILTER (WHERE canonical_name = 'views'),
           sum(canonical_value) FILTER (WHERE canonical_name IN ('likes', 'comments', 'shares', 'saves')),
           count(DISTINCT idempotency_key), bool_or(sandbox)
    FROM metric_latest l
    WHERE l.campaign_id IN (SELECT DISTINCT campaign_id FROM _chorus_keys)
    GROUP BY l.campaign_id;
    DROP TABLE _chorus_keys;
    DROP TABLE _chorus_agg;
"""


def _merge_current(con: duckdb.DuckDBPyConnection, source: str) -> None:
    con.execute(_AGGREGATE.format(source=source))
    con.execute(_MERGE)
    con.execute("DROP TABLE _chorus_agg")


_SNAPSHOT_COLUMNS = ("campaign_id, idempotency_key, platform, platform_post_id, pulled_at, post_age_s, raw_name, "
                     "raw_value, canonical_name, canonical_value, definition_version, sandbox, pull_id, payload_no")


def _register(con: duckdb.DuckDBPyConnection, name: str, arrays: dict[str, np.ndarray]) -> None:
    # DuckDB 2 refuses to register while an earlier result on the connection is not fully fetched (a caller's
    # fetchone()); running any statement closes that result first.
    con.execute("SELECT 1").fetchall()
    con.register(name, arrays)


def _stage_batch(con: duckdb.DuckDBPyConnection, pull_id: str, *, distinct: bool) -> None:
    """The batch mapped to the vocabulary, minus rows not newer than what metric_current keeps (idempotency)."""
    dedupe = "DISTINCT ON (idempotency_key, raw_name, pulled_us)" if distinct else ""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _chorus_batch AS
        SELECT b.campaign_id, b.idempotency_key, b.platform, b.platform_post_id, b.pulled_at, b.post_age_s,
               b.raw_name, b.raw_value, m.canonical_name, b.raw_value * m.scale AS canonical_value,
               m.definition_version, b.sandbox, ?::VARCHAR AS pull_id,
               CASE WHEN b.payload_no >= 0 THEN b.payload_no END AS payload_no
        FROM (SELECT {dedupe} *, timezone('UTC', make_timestamp(pulled_us)) AS pulled_at
              FROM _chorus_batch_in) b
        LEFT JOIN metric_mappings m ON m.platform = b.platform AND m.raw_name = b.raw_name
        LEFT JOIN metric_current c ON c.idempotency_key = b.idempotency_key AND c.raw_name = b.raw_name
        WHERE c.last_pulled_at IS NULL OR b.pulled_at > c.last_pulled_at
    """, [pull_id])


def append_columns(con: duckdb.DuckDBPyConnection, columns: dict[str, Sequence[Any]], *,
                   payloads: Sequence[str | None] = (), pull_id: str | None = None) -> int:
    """Bulk-append snapshots given as columns (campaign_id, idempotency_key, platform, platform_post_id, pulled_us
    (epoch microseconds, UTC), post_age_s, raw_name, raw_value, sandbox, payload_no); returns how many were new.

    One transaction: the batch is mapped to the vocabulary, rows not newer than what is kept are dropped
    (idempotent), the rest is appended and merged into metric_current.
    """
    arrays = _arrays(columns)
    if len(arrays["raw_name"]) == 0:
        return 0
    sync_vocabulary(con)
    pull_id = pull_id or uuid.uuid4().hex
    # Duplicates inside a batch (a connector answering one figure twice) are rare, so they are looked for
    # cheaply and removed with DISTINCT ON only when found: a pull stamps every reading with one time, so a
    # duplicate shows up as a post metric with two rows in the batch summary; a batch that mixes times (a
    # backfill, a load of many pulls) compares its row count with the number of distinct row hashes (a hash
    # collision only sends it down the exact path).
    pulled = arrays["pulled_us"]
    one_time = bool(pulled.min() == pulled.max())
    _register(con, "_chorus_batch_in", arrays)
    con.execute("BEGIN TRANSACTION")
    try:
        _stage_batch(con, pull_id, distinct=False)
        added = con.execute("SELECT count(*) FROM _chorus_batch").fetchall()[0][0]
        if added:
            if not one_time:
                distinct = con.execute("SELECT count(DISTINCT hash(idempotency_key, raw_name, pulled_at)) "
                                       "FROM _chorus_batch").fetchall()[0][0]
                if distinct < added:
                    _stage_batch(con, pull_id, distinct=True)
                    added = con.execute("SELECT count(*) FROM _chorus_batch").fetchall()[0][0]
            con.execute(_AGGREGATE.format(source="_chorus_batch"))
            if one_time and con.execute("SELECT max(snapshots) FROM _chorus_agg").fetchall()[0][0] > 1:
                _stage_batch(con, pull_id, distinct=True)
                added = con.execute("SELECT count(*) FROM _chorus_batch").fetchall()[0][0]
                con.execute(_AGGREGATE.format(source="_chorus_batch"))
            con.execute(f"INSERT INTO metric_snapshots ({_SNAPSHOT_COLUMNS}) SELECT {_SNAPSHOT_COLUMNS} FROM _chorus_batch")
            con.execute(_MERGE)
            for statement in filter(str.strip, _REFRESH_LATEST.split(";\n")):
                con.execute(statement, [pull_id] if "?" in statement else None)
            nos = arrays["payload_no"]
            used = np.unique(nos[nos >= 0]).tolist() if payloads else []
            if used:
                con.executemany("INSERT INTO metric_payloads VALUES (?, ?, ?)",
                                [[pull_id, n, payloads[n]] for n in used])
        con.execute("DROP TABLE _chorus_batch")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_chorus_batch_in")
    return int(added)


def rebuild_current(con: duckdb.DuckDBPyConnection) -> int:
    """Recompute metric_current from the whole snapshot history (after a restore or a manual load)."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM metric_current")
        _merge_current(con, "metric_snapshots")
        con.execute("DELETE FROM metric_latest")
        con.execute("INSERT INTO metric_latest SELECT * FROM post_metrics_latest_live")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return con.execute("SELECT count(*) FROM metric_current").fetchall()[0][0]


# -- cadence ---------------------------------------------------------------------------------------------------

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _duration(text: str) -> float:
    text = text.strip().lower()
    if not text or text[-1] not in _UNITS:
        raise ValueError(f"{text!r} is not a duration; write a number and one of s, m, h, d, w (e.g. 30m, 6h, 7d)")
    return float(text[:-1]) * _UNITS[text[-1]]


@dataclass(frozen=True)
class Cadence:
    """How often a post's metrics are pulled, by post age: `steps` of (younger than age_s -> every interval_s)."""

    steps: tuple[tuple[float, float], ...]
    then_every_s: float
    stop_after_s: float | None = None

    @classmethod
    def parse(cls, text: str) -> "Cadence":
        """'6h:15m,3d:1h,14d:6h,*:1d,stop:90d' = under 6 h every 15 min, under 3 days hourly, ..., none after 90 days."""
        steps: list[tuple[float, float]] = []
        then = 86400.0
        stop = None
        for part in (p for p in text.split(",") if p.strip()):
            if ":" not in part:
                raise ValueError(f"cadence step {part!r}: write AGE:INTERVAL, e.g. 3d:1h (or *:1d, stop:90d)")
            age, every = (x.strip() for x in part.split(":", 1))
            if age == "*":
                then = _duration(every)
            elif age == "stop":
                stop = _duration(every)
            else:
                steps.append((_duration(age), _duration(every)))
        return cls(tuple(sorted(steps)), then, stop)

    def interval_s(self, age_s: float) -> float | None:
        if self.stop_after_s is not None and age_s > self.stop_after_s:
            return None
        for max_age, every in self.steps:
            if age_s < max_age:
                return every
        return self.then_every_s


DEFAULT_CADENCE = Cadence.parse("6h:15m,3d:1h,14d:6h,*:1d,stop:120d")


def posts_due_for_pull(con: duckdb.DuckDBPyConnection, now: dt.datetime, cadence: Cadence = DEFAULT_CADENCE,
                       campaign_id: str | None = None) -> list[dict[str, Any]]:
    """Live posts whose metrics are due: never asked, or last asked longer ago than the cadence for their age."""
    sql = """
        SELECT p.*, l.last_attempt
        FROM posts p
        LEFT JOIN (SELECT idempotency_key, max(attempted_at) AS last_attempt FROM metric_pull_log GROUP BY ALL) l
            USING (idempotency_key)
        WHERE p.state IN ('published', 'scheduled') AND p.platform_post_id IS NOT NULL"""
    params: list[Any] = []
    if campaign_id:
        sql += " AND p.campaign_id = ?"
        params.append(campaign_id)
    cur = con.execute(sql + " ORDER BY p.published_at NULLS LAST, p.idempotency_key", params)
    cols = [d[0] for d in cur.description]
    due = []
    # A small tolerance so a schedule that fires every 15 min does not miss a post asked 14:59 ago.
    slack = 0.02
    for row in cur.fetchall():
        post = dict(zip(cols, row))
        published = post.get("published_at")
        if published is not None and published > now:
            continue  # natively scheduled, not out yet
        age_s = (now - published).total_seconds() if published else 0.0
        every = cadence.interval_s(age_s)
        if every is None:
            continue
        last = post.pop("last_attempt")
        if last is None or (now - last).total_seconds() >= every * (1 - slack):
            post["age_s"] = age_s
            due.append(post)
    return due


def log_attempts(con: duckdb.DuckDBPyConnection, rows: Iterable[Sequence[Any]]) -> None:
    """rows: (pull_id, idempotency_key, platform, account_id, attempted_at, outcome, readings, error)."""
    rows = [list(r) for r in rows]
    if not rows:
        return
    cols = list(zip(*rows))
    _register(con, "_chorus_log_in", {
        "pull_id": np.asarray(cols[0], dtype=object), "idempotency_key": np.asarray(cols[1], dtype=object),
        "platform": np.asarray(cols[2], dtype=object), "account_id": np.asarray(cols[3], dtype=object),
        "attempted_us": np.asarray([_epoch_us(t) for t in cols[4]], dtype=np.int64),
        "outcome": np.asarray(cols[5], dtype=object), "readings": np.asarray(cols[6], dtype=np.int64),
        "error": np.asarray(cols[7], dtype=object),
    })
    try:
        con.execute("""INSERT INTO metric_pull_log
                       SELECT pull_id, idempotency_key, platform, account_id,
                              timezone('UTC', make_timestamp(attempted_us)), outcome, readings, error
                       FROM _chorus_log_in""")
    finally:
        con.unregister("_chorus_log_in")
