"""Exactly once under faults, across the six fake platforms: a bounded fault test (>= 200 posts, 20% transient faults,
5% lost answers), a crash test (the publishing process is SIGKILLed mid-run and started again), and a scan of logs,
store, warehouse and captured output for every token the fakes issued."""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path


from flows.stage_publish import publish_due
from tests.flows.publish_world import T0, build_world, manifest_doc
from tests.secret_scan import assert_no_secrets

ALL = ["tiktok", "youtube", "x", "instagram", "facebook", "linkedin"]
TOKEN_ROUTES = {"token", "refresh"}
REPO = Path(__file__).resolve().parents[2]


def inject_faults(world, transient: float, lost: float) -> None:
    for fake in world.fakes.values():
        # A lost answer to a token refresh with rotating refresh tokens loses the account (documented in the
        # README): token endpoints get transient faults only.
        fake.faults.randomly(transient=transient, lost=lost, exclude=TOKEN_ROUTES)
        fake.faults.randomly(transient=transient, routes=TOKEN_ROUTES)


def warehouse_text(world) -> str:
    out = []
    with world.rt.warehouse() as con:
        for (table,) in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
                                    "AND table_type = 'BASE TABLE'").fetchall():
            out.append(repr(con.execute(f'SELECT * FROM "{table}"').fetchall()))
    return "\n".join(out)


def files_text(root: Path, skip: set[Path] = frozenset()) -> str:
    out = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and path not in skip and path.suffix not in {".duckdb", ".wal"} and \
                not any(parent in skip for parent in path.parents):
            out.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(out)


def all_tokens(world) -> set[str]:
    tokens = {t for fake in world.fakes.values() for t in fake.tokens.issued}
    tokens |= {v for entry in world.secrets.data.values() for k, v in entry.items()
               if isinstance(v, str) and ("secret" in k or "token" in k)}
    return tokens


def test_two_hundred_posts_with_faults_each_published_exactly_once(tmp_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    doc = manifest_doc(ALL, accounts_per_platform=3, assets=6, languages=("de", "en"))
    # Three accounts share each fake platform; the fake Facebook has one Page, so its Reels cap is raised here
    # (each real account is its own Page with its own cap).
    world = build_world(tmp_path / "home", doc, fakes=ALL, seed=5, fake_kwargs={"facebook": {"reels_cap": 1000}})
    try:
        inject_faults(world, transient=0.20, lost=0.05)
        # Tokens expiring mid-upload, once per route, on the platforms whose tokens expire and refresh (a Facebook
        # Page token does not expire; an expired Instagram token cannot be refreshed and holds the account).
        for platform in ("tiktok", "youtube", "x", "linkedin"):
            fake = world.fakes[platform]
            for route in {r.name for r in fake.routes} - TOKEN_ROUTES:
                fake.faults.next(route, "expire_token")
        total = len(world.posts())
        assert total >= 200
        started = time.monotonic()
        now, runs = T0, 0
        while runs < 40:
            runs += 1
            world.clock.now = max(world.clock.now, now.timestamp())
            publish_due(world.rt, now, connectors=world.factory())
            if set(world.states()) <= {"published"}:
                break
            now += dt.timedelta(minutes=10)
        elapsed = time.monotonic() - started
        assert world.states() == {"published": total}
        counts = world.published_counts()
        assert len(counts) == total and set(counts.values()) == {1}  # every post, once
        injected = {k: sum(f.faults.injected[k] for f in world.fakes.values()) for k in ("5xx", "429", "drop_after",
                                                                                          "expire_token")}
        received = sum(sum(f.received.values()) for f in world.fakes.values())
        issued = sum(len(f.tokens.issued) for f in world.fakes.values())
        with world.rt.warehouse() as con:
            unknown = con.execute("SELECT count(*) FROM post_events WHERE to_state = 'unknown'").fetchone()[0]
        assert injected["drop_after"] >= 20 and injected["5xx"] + injected["429"] >= 100
        print(f"FAULT-TEST posts={total} runs={runs} requests={received} injected={injected} "
              f"tokens_issued={issued} unknown_outcomes_reconciled={unknown} seconds={elapsed:.1f}")
        # The secret scan: every token the fakes issued, and the client secrets, must appear nowhere.
        tokens = all_tokens(world)
        assert len(tokens) > len(world.secrets.data)
        out = capsys.readouterr()
        haystacks = {
            "logs": caplog.text,
            "output": out.out + out.err,
            "store": files_text(world.rt.settings.home, skip={world.rt.settings.home / "tokens"}),
            "warehouse": warehouse_text(world),
        }
        assert "connectors.http" in caplog.text and "SECRET" not in haystacks["warehouse"]
        for where, text in haystacks.items():
            assert_no_secrets(tokens, text, where)
        sys.stdout.write(out.out)
    finally:
        world.close()
    # The token store holds the rotated tokens (that is its job), readable by its owner only.
    store_files = list((tmp_path / "home" / "tokens").glob("*.json"))
    assert store_files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in store_files)
    assert any(t in p.read_text() for p in store_files for t in tokens)


def test_killed_mid_run_and_restarted_still_publishes_each_post_once(tmp_path):
    home = tmp_path / "home"
    doc = manifest_doc(ALL, accounts_per_platform=2, assets=4, languages=("de",))
    world = build_world(home, doc, fakes=ALL, seed=11, fake_kwargs={"facebook": {"reels_cap": 1000}},
                        fake_clock=time.time)
    try:
        # Lost answers only: transient faults are the other test's subject, and their waits here would be real time.
        inject_faults(world, transient=0.0, lost=0.05)
        total = len(world.posts())
        env = {k: v for k, v in os.environ.items() if not k.startswith("TEST_")}
        for name, entry in world.secrets.data.items():
            for field, value in entry.items():
                if field != "expires_at":
                    env[f"{name}_{field.upper()}"] = str(value)
        env["PYTHONPATH"] = str(REPO)
        config = tmp_path / "worker.json"
        config.write_text(json.dumps({"urls": {p: f.base_url for p, f in world.fakes.items()},
                                      "now": T0.isoformat()}))
        cmd = [sys.executable, "-m", "tests.flows.publish_worker", str(home), str(config)]
        outputs = []

        def start(n):
            out = open(tmp_path / f"worker{n}.out", "wb")
            outputs.append(tmp_path / f"worker{n}.out")
            return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)

        first = start(1)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and first.poll() is None:
            if sum(world.published_counts().values()) >= total // 3:
                break
            time.sleep(0.02)
        killed = first.poll() is None
        if killed:
            os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        assert killed, "the first worker finished before it could be killed; raise the post count"
        done_before = sum(world.published_counts().values())
        mid_way = {k: v for k, v in world.states().items() if k in ("uploading", "processing", "unknown")}
        second = start(2)
        assert second.wait(timeout=180) == 0, (tmp_path / "worker2.out").read_text()[-2000:]
        assert world.states() == {"published": total}
        counts = world.published_counts()
        assert len(counts) == total and set(counts.values()) == {1}
        print(f"CRASH-TEST posts={total} published_before_kill={done_before} found_mid_way={mid_way} "
              f"published_after_restart={total}")
        tokens = all_tokens(world)
        logs = files_text(home / "logs") + "".join(p.read_text() for p in outputs)
        assert "connectors.http" in logs
        for where, text in {"logs": logs, "warehouse": warehouse_text(world),
                            "store": files_text(home, skip={home / "tokens", home / "logs"})}.items():
            assert_no_secrets(tokens, text, where)
    finally:
        world.close()
