"""Metrics pull: the live posts that are due (cadence by post age), fetched through their connectors in batches the
platform accepts, appended to the warehouse as snapshots in one short write.

- Incremental: only posts whose last attempt is older than the cadence for their age are asked
  (`warehouse.snapshots.posts_due_for_pull`; CHORUS_METRICS_CADENCE, default 6h:15m,3d:1h,14d:6h,*:1d,stop:120d).
- Idempotent: every reading of one pull carries the pull's time; a snapshot no newer than the one kept for that
  post metric is dropped, so running the same pull twice adds nothing.
- Batched: each account's posts are split by the platform's limit (campaign.metrics.FETCH_BATCH).
- Tolerant: a platform that answers nothing yet (Instagram lags up to 48 h) is logged as `empty` and asked again
  on schedule, never stored as 0; one account's error (expired token, rate limit, outage, a bug) is recorded and
  the other accounts go on.
- Short writes: the warehouse is open only to read what is due and to write the result; the platform calls run
  with no connection held, and the write publishes the read copy that reports use while a pull is writing.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections import defaultdict
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Callable

import duckdb

from campaign.metrics import fetch_batch
from connectors.base import Connector, ConnectorError, ErrorKind
from flows.runtime import Runtime, manifest_from_warehouse
from warehouse.ledger import Ledger
from warehouse.snapshots import DEFAULT_CADENCE, Cadence, append_columns, log_attempts, posts_due_for_pull

OpenWriter = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]
# (campaign_id, account_id) -> the connector for that account.
ConnectorFactory = Callable[[str, str], Connector]


@dataclass(frozen=True)
class PullReport:
    posts: int                      # posts asked
    snapshots: int                  # snapshots added (new figures)
    errors: list[str]
    pull_id: str = ""
    posts_due: int = 0
    posts_answered: int = 0
    posts_empty: int = 0            # asked, platform had nothing yet (lag) — asked again on schedule
    batches: int = 0
    readings: int = 0
    per_platform: dict[str, dict[str, int]] = field(default_factory=dict)


def cadence_from_env(env: dict[str, str] | None = None) -> Cadence:
    text = (os.environ if env is None else env).get("CHORUS_METRICS_CADENCE", "").strip()
    return Cadence.parse(text) if text else DEFAULT_CADENCE


def _epoch_us(t: dt.datetime) -> int:
    return int(t.timestamp()) * 1_000_000 + t.microsecond


def pull(open_writer: OpenWriter, connector_for_account: ConnectorFactory, now: dt.datetime, *,
         campaign_id: str | None = None, cadence: Cadence | None = None, force: bool = False) -> PullReport:
    """One metrics pull (the plain function behind `chorus metrics pull` and the scheduled deployment)."""
    cadence = cadence or cadence_from_env()
    pull_id = f"{now.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    with open_writer() as con:
        due = Ledger(con).live(campaign_id) if force else posts_due_for_pull(con, now, cadence, campaign_id)
    by_account: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for p in due:
        by_account[(p["campaign_id"], p["account_id"])].append(p)

    cols: dict[str, list[Any]] = {k: [] for k in ("campaign_id", "idempotency_key", "platform", "platform_post_id",
                                                  "pulled_us", "post_age_s", "raw_name", "raw_value", "sandbox",
                                                  "payload_no")}
    payloads: list[str | None] = []
    log: list[tuple[Any, ...]] = []
    errors: list[str] = []
    batches = readings_total = 0
    per_platform: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    now_us = _epoch_us(now)
    for (cid, account_id), posts in by_account.items():
        platform = posts[0]["platform"]
        try:
            connector = connector_for_account(cid, account_id)
        except Exception as err:  # a misconfigured account must not stop the others
            errors.append(f"{account_id}: {err}")
            log += [(pull_id, p["idempotency_key"], platform, account_id, now, "error", 0, str(err)[:500]) for p in posts]
            continue
        size = fetch_batch(connector.platform)
        vocab = connector.metric_vocabulary
        for start in range(0, len(posts), size):
            chunk = posts[start:start + size]
            batches += 1
            try:
                readings = connector.fetch_metrics([(p["platform_post_id"], p["published_at"]) for p in chunk])
            except ConnectorError as err:
                errors.append(f"{account_id}: {err}")
                log += [(pull_id, p["idempotency_key"], platform, account_id, now, "error", 0, str(err)[:500])
                        for p in posts[start:]]
                per_platform[platform]["errors"] += 1
                if err.kind in (ErrorKind.RATE_LIMITED, ErrorKind.AUTH_EXPIRED, ErrorKind.NEEDS_RECONNECT):
                    break  # the rest of this account's posts would fail the same way; next pull retries
                continue
            except Exception as err:  # a connector bug is this account's problem only
                errors.append(f"{account_id}: unexpected {type(err).__name__}: {err}")
                log += [(pull_id, p["idempotency_key"], platform, account_id, now, "error", 0, str(err)[:500])
                        for p in chunk]
                per_platform[platform]["errors"] += 1
                continue
            by_id = {str(p["platform_post_id"]): p for p in chunk}
            got: dict[str, int] = defaultdict(int)
            payload_no: dict[int, int] = {}
            bad: list[str] = []
            for r in readings:
                post = by_id.get(str(r.platform_post_id))
                if post is None or r.value is None:
                    continue  # not asked for, or no value: absent, never 0
                try:
                    value = float(r.value)
                except (TypeError, ValueError):
                    bad.append(f"{r.raw_name}={str(r.value)[:40]!r}")
                    continue  # one odd figure must not lose the others
                got[post["idempotency_key"]] += 1
                n = -1
                if r.payload is not None:
                    n = payload_no.get(id(r.payload), -1)
                    if n < 0:
                        n = payload_no[id(r.payload)] = len(payloads)
                        payloads.append(json.dumps(r.payload, default=str, ensure_ascii=False))
                published = post["published_at"]
                cols["campaign_id"].append(cid)
                cols["idempotency_key"].append(post["idempotency_key"])
                cols["platform"].append(vocab)
                cols["platform_post_id"].append(str(r.platform_post_id))
                cols["pulled_us"].append(now_us)
                cols["post_age_s"].append((now - published).total_seconds() if published else None)
                cols["raw_name"].append(r.raw_name)
                cols["raw_value"].append(value)
                cols["sandbox"].append(bool(post["sandbox"]))
                cols["payload_no"].append(n)
            if bad:
                errors.append(f"{account_id}: {len(bad)} figure(s) that are not numbers were left out: "
                              + ", ".join(bad[:5]))
            readings_total += sum(got.values())
            for p in chunk:
                k = got.get(p["idempotency_key"], 0)
                log.append((pull_id, p["idempotency_key"], platform, account_id, now, "answered" if k else "empty", k,
                            None))
                per_platform[platform]["answered" if k else "empty"] += 1

    with open_writer() as con:
        added = append_columns(con, cols, payloads=payloads, pull_id=pull_id) if cols["raw_name"] else 0
        log_attempts(con, log)
        answered = sum(1 for x in log if x[5] == "answered")
        empty = sum(1 for x in log if x[5] == "empty")
        con.execute("INSERT INTO metric_pulls VALUES (?, ?, now(), ?, ?, ?, ?, ?, ?)",
                    [pull_id, now, len(due), answered, readings_total, added, len(errors),
                     json.dumps({"errors": errors[:50], "batches": batches,
                                 "per_platform": {k: dict(v) for k, v in per_platform.items()}})])
    return PullReport(len(due), added, errors, pull_id, len(due), answered, empty, batches, readings_total,
                      {k: dict(v) for k, v in per_platform.items()})


def pull_metrics(rt: Runtime, now: dt.datetime | None = None, campaign_id: str | None = None, *,
                 cadence: Cadence | None = None, force: bool = False) -> PullReport:
    """`chorus metrics pull`: pull what is due now for every campaign (or one), with the runtime's connectors."""
    from flows.runtime import default_connectors
    from warehouse import db

    now = now or dt.datetime.now(dt.timezone.utc)
    manifests: dict[str, Any] = {}
    connector_for_account = default_connectors(rt)

    def open_writer():
        return db.writer(rt.settings.warehouse_path)

    def factory(cid: str, account_id: str) -> Connector:
        if cid not in manifests:
            with db.writer(rt.settings.warehouse_path, publish=False) as con:
                manifests[cid] = manifest_from_warehouse(con, cid)
        return connector_for_account(manifests[cid].account(account_id))

    return pull(open_writer, factory, now, campaign_id=campaign_id, cadence=cadence, force=force)
