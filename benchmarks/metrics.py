"""Benchmark: metric snapshots loaded into DuckDB by Chorus and by dlt, and the impact report over 10 M snapshots.

  load    the same generated metric payloads (N snapshots as dicts: campaign, post, platform, time, post age,
          raw platform metric name, value) loaded into a fresh DuckDB file
            chorus  warehouse.snapshots.append_records (columnar NumPy scan, vocabulary join, idempotency check
                    and the metric_current merge, all in SQL), in batches of one pull each
            dlt     dlt.pipeline(destination=duckdb).run(records, table_name=..., write_disposition="append",
                    loader_file_format="parquet") — dlt's fast path into DuckDB (needs pyarrow, in the extra)
          rows/s and peak memory (ru_maxrss of the child process that loads, and its increase over the same
          process just after generating the data) for each; the ratio chorus/dlt.
  concurrency  another process pulls (short writing sessions) while this one runs reports in a loop: failures,
          report latency, how many read the live file or the read copy, and how long a pull waited to open the file.
  report  R snapshots (default 10 M) for 10,000 posts on six platforms, loaded with Chorus; then the whole report
          (warehouse.report.build_report: every SQL file in warehouse/sql) timed on a read-only connection, best
          and median of 5, plus each query on its own.

Each part runs in its own child process so memory figures do not mix. Run:
  .venv/bin/python benchmarks/metrics.py [--snapshots 1000000] [--report-snapshots 10000000] [--skip-dlt]
dlt comes from the `bench` extra (pip install -e '.[bench]').
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import multiprocessing as mp
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PLATFORM_METRICS = {
    "tiktok": ["view_count", "like_count", "comment_count", "share_count"],
    "instagram": ["views", "reach", "likes", "comments", "shares", "saved", "total_interactions",
                  "ig_reels_avg_watch_time"],
    "youtube": ["viewCount", "likeCount", "commentCount", "estimatedMinutesWatched", "averageViewDuration",
                "subscribersGained"],
    "linkedin": ["impressionCount", "uniqueImpressionsCount", "clickCount", "likeCount", "commentCount",
                 "shareCount"],
    "x": ["impression_count", "view_count", "like_count", "reply_count", "retweet_count", "quote_count",
          "bookmark_count"],
    "sandbox": ["views", "reach", "likes", "comments", "shares", "saves", "watch_time"],
}
PLATFORMS = list(PLATFORM_METRICS)
T0 = dt.datetime(2026, 9, 1, tzinfo=dt.timezone.utc)
CID = "bench"


def _kib_to_mib(kib: int) -> float:
    return kib / 1024.0


def generate(n: int, posts: int = 10_000, pull_every_h: float = 6.0) -> list[list[dict]]:
    """Pulls (each a list of snapshot dicts) totalling about n snapshots: every post, every metric, every pull."""
    per_pull = sum(len(PLATFORM_METRICS[PLATFORMS[i % len(PLATFORMS)]]) for i in range(posts))
    pulls = max(1, math.ceil(n / per_pull))
    out: list[list[dict]] = []
    made = 0
    for k in range(pulls):
        at = T0 + dt.timedelta(hours=pull_every_h * (k + 1))
        batch = []
        for i in range(posts):
            platform = PLATFORMS[i % len(PLATFORMS)]
            published = T0 + dt.timedelta(minutes=(i * 7) % 720)
            age = (at - published).total_seconds()
            grow = 1 - math.exp(-age / 129600.0)
            for j, name in enumerate(PLATFORM_METRICS[platform]):
                batch.append({
                    "campaign_id": CID, "idempotency_key": f"post-{i:06d}", "platform": platform,
                    "platform_post_id": f"pp{i}", "pulled_at": at, "post_age_s": age, "raw_name": name,
                    "raw_value": float(int((1000 + (i * 37) % 20000) * grow / (j + 1))), "sandbox": platform == "sandbox",
                })
                made += 1
                if made >= n:
                    out.append(batch)
                    return out
        out.append(batch)
    return out


def _rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and its finished children: less skewed by a busy machine."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _load_chorus(n: int, per_pull: bool, q: mp.Queue) -> None:
    from warehouse import db
    from warehouse.snapshots import append_records

    pulls = generate(n)
    records = [r for batch in pulls for r in batch]
    base = _rss_kib()
    with tempfile.TemporaryDirectory() as tmp:
        con = db.connect(Path(tmp) / "chorus.duckdb")
        t, c = time.perf_counter(), _cpu_s()
        if per_pull:  # one append (one transaction) per pull, as `chorus metrics pull` does
            rows = sum(append_records(con, batch) for batch in pulls)
        else:  # the whole payload in one append, as dlt gets it in one run
            rows = append_records(con, records)
        con.execute("CHECKPOINT")
        secs, cpu = time.perf_counter() - t, _cpu_s() - c
        stored = con.execute("SELECT count(*) FROM metric_snapshots").fetchall()[0][0]
        con.close()
    q.put({"rows": rows, "stored": stored, "seconds": secs, "cpu_seconds": cpu, "peak_rss_mib": _kib_to_mib(_rss_kib()),
           "rss_increase_mib": _kib_to_mib(_rss_kib() - base)})


def _load_dlt(n: int, q: mp.Queue) -> None:
    import dlt

    pulls = generate(n)
    records = [r for batch in pulls for r in batch]
    del pulls
    base = _rss_kib()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DLT_DATA_DIR"] = tmp
        os.environ["RUNTIME__LOG_LEVEL"] = "WARNING"
        os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
        pipeline = dlt.pipeline(pipeline_name="bench_metrics", pipelines_dir=str(Path(tmp) / "pipelines"),
                                destination=dlt.destinations.duckdb(str(Path(tmp) / "dlt.duckdb")),
                                dataset_name="metrics")
        t, c = time.perf_counter(), _cpu_s()
        # Parquet is dlt's fast path into DuckDB (its default, INSERT VALUES, measured ~1,700 rows/s here).
        pipeline.run(records, table_name="metric_snapshots", write_disposition="append",
                     loader_file_format="parquet")
        secs, cpu = time.perf_counter() - t, _cpu_s() - c
        import duckdb

        con = duckdb.connect(str(Path(tmp) / "dlt.duckdb"), read_only=True)
        stored = con.execute("SELECT count(*) FROM metrics.metric_snapshots").fetchall()[0][0]
        con.close()
    q.put({"rows": len(records), "stored": stored, "seconds": secs, "cpu_seconds": cpu, "peak_rss_mib": _kib_to_mib(_rss_kib()),
           "rss_increase_mib": _kib_to_mib(_rss_kib() - base)})


def _report(n: int, path: str, q: mp.Queue) -> None:
    import numpy as np

    from warehouse import db
    from warehouse.report import build_report, query
    from warehouse.snapshots import append_columns

    posts = 10_000
    con = db.connect(path)
    con.execute("INSERT INTO campaigns (campaign_id, name, manifest) VALUES (?, 'Benchmark', '{}')", [CID])
    for org in ("org-a", "org-b", "org-c"):
        con.execute("INSERT INTO organisations VALUES (?, ?, ?)", [CID, org, org.upper()])
    for i, metric in enumerate(("reach", "views", "shares", "engagement_rate")):
        con.execute("INSERT INTO kpis VALUES (?, ?, 0, ?, ?, [], [], [], DATE '2027-01-31', NULL)",
                    [CID, f"o{i}", metric, 0.05 if metric == "engagement_rate" else 1e7])
    countries, languages, formats = ["DE", "ES", "IE", "FR", "IT"], ["de", "es", "en", "fr", "it", "ar"], ["9:16", "1:1"]
    con.execute("""
        INSERT INTO posts (idempotency_key, campaign_id, asset_id, variant_id, language, format, account_id, platform,
                           organisation_id, country, sandbox, scheduled_at, state, platform_post_id, published_at)
        SELECT printf('post-%06d', i), ?, 'asset-' || (i % 20), 'v' || i, ?[1 + i % 6], ?[1 + i % 2],
               'acct-' || (i % 60), ?[1 + i % 6], 'org-' || chr((97 + i % 3)::INTEGER), ?[1 + i % 5],
               (i % 6 = 5), ?::TIMESTAMPTZ + to_minutes((i * 7) % 720), 'published', 'pp' || i,
               ?::TIMESTAMPTZ + to_minutes((i * 7) % 720)
        FROM range(?) t(i)""", [CID, languages, formats, PLATFORMS, countries, T0, T0, posts])
    # Generated column-wise (vectorised) so 10 M rows are made in seconds; loaded through Chorus's bulk path.
    post_platform = [PLATFORMS[i % len(PLATFORMS)] for i in range(posts)]
    keys, plats, names, idx = [], [], [], []
    for i in range(posts):
        for j, name in enumerate(PLATFORM_METRICS[post_platform[i]]):
            keys.append(f"post-{i:06d}")
            plats.append(post_platform[i])
            names.append(name)
            idx.append((i, j))
    keys_a, plats_a, names_a = (np.asarray(x, dtype=object) for x in (keys, plats, names))
    ppid_a = np.asarray([f"pp{i}" for i, _ in idx], dtype=object)
    i_arr = np.asarray([i for i, _ in idx], dtype=np.int64)
    j_arr = np.asarray([j for _, j in idx], dtype=np.int64)
    published_us = int(T0.timestamp() * 1e6) + ((i_arr * 7) % 720) * 60_000_000
    per_pull = len(keys)
    pulls = math.ceil(n / per_pull)
    t = time.perf_counter()
    loaded = 0
    for k in range(pulls):
        take = min(per_pull, n - loaded)
        at_us = int((T0 + dt.timedelta(hours=6 * (k + 1))).timestamp() * 1e6)
        age = (at_us - published_us[:take]) / 1e6
        value = np.floor((1000 + (i_arr[:take] * 37) % 20000) * (1 - np.exp(-age / 129600.0)) / (j_arr[:take] + 1))
        loaded += append_columns(con, {
            "campaign_id": np.full(take, CID, dtype=object), "idempotency_key": keys_a[:take],
            "platform": plats_a[:take], "platform_post_id": ppid_a[:take], "pulled_us": np.full(take, at_us),
            "post_age_s": age, "raw_name": names_a[:take], "raw_value": value,
            "sandbox": plats_a[:take] == "sandbox"})
    load_s = time.perf_counter() - t
    con.execute("CHECKPOINT")
    con.close()
    size_mb = os.path.getsize(path) / 1e6

    ro = db.connect(path, read_only=True)
    today = (T0 + dt.timedelta(days=60)).date()
    build_report(ro, CID, today=today)  # warm-up (file cache)
    times = []
    for _ in range(5):
        t = time.perf_counter()
        build_report(ro, CID, today=today)
        times.append(time.perf_counter() - t)
    per_query = {}
    for name in ("campaign_summary", "impact_breakdown", "reach_by_country_language_platform", "kpi_progress",
                 "metrics_at_age", "variant_comparison", "reach_over_time", "posts", "metric_gaps"):
        t = time.perf_counter()
        query(ro, name, campaign_id=CID, as_of=today, bucket="day")
        per_query[name] = time.perf_counter() - t
    ro.close()
    q.put({"snapshots": loaded, "posts": posts, "pulls": pulls, "load_seconds": load_s, "db_mb": size_mb,
           "report_best_s": min(times), "report_median_s": statistics.median(times), "per_query_s": per_query})


def _concurrent_writer(path: str, pulls: int, q: mp.Queue) -> None:
    """Pulls one after another, each a short writing session (open, append one pull of every post, publish)."""
    from warehouse import db
    from warehouse.snapshots import append_records

    batches = generate(pulls * 63_400)
    waits, totals = [], []
    for k, batch in enumerate(batches[:pulls]):
        later = [{**r, "pulled_at": r["pulled_at"] + dt.timedelta(days=400)} for r in batch]
        t = time.perf_counter()
        con = db.connect(path, wait_s=60)
        waits.append(time.perf_counter() - t)
        append_records(con, later)
        db.publish_read_copy(con, path)
        con.close()
        totals.append(time.perf_counter() - t)
    q.put({"pulls": len(totals), "open_wait_max_s": max(waits), "open_wait_median_s": statistics.median(waits),
           "pull_median_s": statistics.median(totals), "pull_max_s": max(totals)})


def _concurrency(pulls: int) -> dict:
    """Reports in this process while another process pulls: failures, latency, live file or read copy."""
    from warehouse import db
    from warehouse.report import build_report
    from warehouse.snapshots import append_records

    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "c.duckdb")
        with db.writer(path) as con:
            con.execute("INSERT INTO campaigns (campaign_id, name, manifest) VALUES (?, 'Benchmark', '{}')", [CID])
            append_records(con, generate(63_400)[0])
        ctx = mp.get_context("spawn")
        q = ctx.Queue()
        writer = ctx.Process(target=_concurrent_writer, args=(path, pulls, q))
        writer.start()
        latencies, sources, failures = [], {"live": 0, "read copy": 0}, 0
        while writer.is_alive() or q.empty():
            t = time.perf_counter()
            try:
                con = db.connect(path, read_only=True, wait_s=60)
                try:
                    r = build_report(con, CID)
                finally:
                    con.close()
                sources[r.read_from] += 1
                latencies.append(time.perf_counter() - t)
            except Exception:
                failures += 1
            if not q.empty():
                break
        out = q.get()
        writer.join()
    latencies.sort()
    return {**out, "reports": len(latencies), "report_failures": failures, "reports_by_source": sources,
            "report_latency_median_s": statistics.median(latencies) if latencies else None,
            "report_latency_max_s": latencies[-1] if latencies else None}


def _child(target, *args) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q))
    p.start()
    result = q.get()
    p.join()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--snapshots", type=int, default=1_000_000)
    ap.add_argument("--report-snapshots", type=int, default=10_000_000)
    ap.add_argument("--skip-dlt", action="store_true")
    ap.add_argument("--skip-report", action="store_true")
    ap.add_argument("--concurrency-pulls", type=int, default=8, help="pulls in the concurrency part (0: skip)")
    args = ap.parse_args()
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f} (other work on the machine skews times)")
    results: dict = {}
    def line(name: str, r: dict) -> str:
        return (f"{name:24s} {r['rows']:,} snapshots in {r['seconds']:.2f} s = {r['rows'] / r['seconds']:,.0f} rows/s "
                f"(CPU {r['cpu_seconds']:.2f} s = {r['rows'] / r['cpu_seconds']:,.0f} rows/CPU-s); "
                f"peak RSS {r['peak_rss_mib']:.0f} MiB (+{r['rss_increase_mib']:.0f} MiB over the generated data)")

    chorus = _child(_load_chorus, args.snapshots, False)
    results["chorus"] = chorus
    print(line("chorus (one append):", chorus))
    per_pull = _child(_load_chorus, args.snapshots, True)
    results["chorus_per_pull"] = per_pull
    print(line("chorus (append per pull):", per_pull))
    if not args.skip_dlt:
        dlt_r = _child(_load_dlt, args.snapshots)
        results["dlt"] = dlt_r
        print(line("dlt (parquet):", dlt_r))
        for name, r in (("one append", chorus), ("append per pull", per_pull)):
            wall = (r["rows"] / r["seconds"]) / (dlt_r["rows"] / dlt_r["seconds"])
            cpu = dlt_r["cpu_seconds"] / r["cpu_seconds"]
            results[f"ratio_{name.replace(' ', '_')}"] = {"wall": wall, "cpu": cpu}
            print(f"load rate chorus ({name}) / dlt: {wall:.1f}x wall clock, {cpu:.1f}x CPU time (target >= 10x)")
    if args.concurrency_pulls:
        c = _concurrency(args.concurrency_pulls)
        results["concurrency"] = c
        print(f"concurrency: {c['pulls']} pulls of 63,400 snapshots in another process while this one ran "
              f"{c['reports']} reports: {c['report_failures']} failed; {c['reports_by_source']['live']} read the live "
              f"file, {c['reports_by_source']['read copy']} the read copy; report latency median "
              f"{c['report_latency_median_s'] * 1000:.0f} ms, max {c['report_latency_max_s'] * 1000:.0f} ms; "
              f"a pull waited to open at most {c['open_wait_max_s'] * 1000:.0f} ms (median "
              f"{c['open_wait_median_s'] * 1000:.0f} ms), took {c['pull_median_s']:.2f} s median")
    if not args.skip_report:
        with tempfile.TemporaryDirectory() as tmp:
            rep = _child(_report, args.report_snapshots, str(Path(tmp) / "report.duckdb"))
        results["report"] = rep
        print(f"report data: {rep['snapshots']:,} snapshots, {rep['posts']:,} posts, {rep['pulls']} pulls, "
              f"loaded by chorus in {rep['load_seconds']:.1f} s ({rep['snapshots'] / rep['load_seconds']:,.0f} rows/s), "
              f"{rep['db_mb']:.0f} MB on disk")
        print(f"whole report: best {rep['report_best_s'] * 1000:.0f} ms, median {rep['report_median_s'] * 1000:.0f} ms "
              f"(target <= 1000 ms)")
        for name, secs in rep["per_query_s"].items():
            print(f"  {name:38s} {secs * 1000:7.1f} ms")
    print(json.dumps(results, default=str))


if __name__ == "__main__":
    main()
