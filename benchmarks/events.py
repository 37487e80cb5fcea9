"""Benchmark: time from a video landing in the inbox to its caption flow running, beside Prefect's own event -> run.

Starts `chorus serve --only caption` (a real Prefect server on 127.0.0.1, the caption deployment with its trigger,
the inbox watcher), then alternates, for `--drops` rounds:
  inbox   a new video (distinct content) lands in inbox/<campaign>/ (written as .part, renamed when complete);
          measured: landing -> the caption flow run is Running (its start_time in Prefect)
  event   the benchmark emits the same `chorus.asset.received` event the watcher would, itself;
          measured: emitted -> the caption flow run is Running  (the baseline: Prefect's own event -> run path)
waiting for each run to finish before the next, so rounds do not overlap. Both go through the same server,
trigger and runner in the same run; only the watcher's part differs. With `--compare-poll 10` it also measures
the inbox path with the runner polling at Prefect's default 10 s, in a second server run.

    .venv/bin/python benchmarks/events.py [--drops 10] [--poll 1] [--compare-poll 10]

Prints median and maximum of each, the ratio inbox/event, and the parts of the inbox path (watcher: landing ->
event; trigger: event -> run created; runner: created -> Running, which includes starting the run's process).
Not a test: nothing is asserted.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from media.inbox import sha256_file  # noqa: E402
from tests.conftest import make_clip  # noqa: E402

SRT = "1\n00:00:00,100 --> 00:00:00,900\nRegister to vote today.\n"
MANIFEST = """
campaign: {id: bench, name: Bench}
organisations: [{id: ngo, name: NGO}]
languages: [en]
countries: [{code: IE, timezone: Europe/Dublin, languages: [en]}]
accounts:
  - {id: ngo-x, platform: x, organisation: ngo, handle: "@ngo", countries: [IE], languages: [en], sandbox: true}
assets:
  - {id: clip, file: videos/clip.mp4, language: en, captions: {en: clip.en.srt}}
schedule: {start: 2026-01-01, end: 2030-12-31, slots: ["19:00"]}
"""


def _ts(value: str | None) -> float | None:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None


class Served:
    def __init__(self, root: Path, poll_s: float):
        self.root = root
        self.home = root / f"home-{poll_s:g}"
        self.inbox = self.home / "inbox"
        self.log: list[str] = []
        port = _free_port()
        self.api = f"http://127.0.0.1:{port}/api"
        env = {**os.environ, "CHORUS_HOME": str(self.home), "PREFECT_HOME": str(self.home / "prefect"),
               "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PYTHONUNBUFFERED": "1"}
        env.pop("PREFECT_API_URL", None)
        self.env = env
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "serve", str(root / "campaign.yaml"), "--only", "caption",
             "--port", str(port), "--poll", str(poll_s)],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        threading.Thread(target=lambda: [self.log.append(x) for x in self.proc.stdout], daemon=True).start()
        t0 = time.monotonic()
        while not any(x.startswith("ready:") for x in self.log):
            if self.proc.poll() is not None or time.monotonic() - t0 > 180:
                self.stop()
                raise SystemExit("chorus serve did not become ready:\n" + "".join(self.log))
            time.sleep(0.2)
        self.ready_s = time.monotonic() - t0
        self.seen_runs: set[str] = set()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        req = urllib.request.Request(self.api + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)

    def caption_runs(self) -> list[dict[str, Any]]:
        return self.post("/flow_runs/filter", {"flows": {"name": {"any_": ["caption"]}}, "limit": 200})

    def wait_run(self, source: str, timeout_s: float = 120) -> dict[str, Any]:
        """The new caption run for `source`, once it has finished (so rounds never overlap)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for r in self.caption_runs():
                if (r["id"] not in self.seen_runs and r["parameters"].get("source") == source
                        and r["state_type"] in {"COMPLETED", "FAILED", "CRASHED"}):
                    self.seen_runs.add(r["id"])
                    return r
            time.sleep(0.2)
        raise SystemExit(f"no finished caption run for {source} within {timeout_s:.0f} s")

    def received_event(self, sha256: str) -> dict[str, Any] | None:
        got = self.post("/events/filter", {"filter": {"event": {"name": ["chorus.asset.received"]}}, "limit": 50})
        return next((e for e in got["events"] if e["payload"].get("sha256") == sha256), None)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _emit_received(api: str, source: str, manifest: Path) -> float:
    """Emit the watcher's event from this process (through Prefect's client, as the watcher does)."""
    code = (
        "import sys, time\n"
        "from flows import events\n"
        "from prefect.events.worker import EventsWorker\n"
        "t = time.time()\n"
        "events.emit(events.ASSET_RECEIVED, events.asset_resource('bench', 'clip', mode=events.SERVER),"
        " {'manifest_path': sys.argv[2], 'source': sys.argv[1]})\n"
        "EventsWorker.drain_all()\n"
        "print(t)\n"
    )
    env = {**os.environ, "PREFECT_API_URL": api, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    out = subprocess.run([sys.executable, "-c", code, source, str(manifest)], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=120, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def run_rounds(served: Served, root: Path, drops: int, with_events: bool) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"inbox": [], "event": [], "watcher": [], "delivery": [], "trigger": [], "runner": []}
    clips = root / "clips"
    for i in range(drops):
        # Inbox path: a distinct video (new content hash) lands.
        clip = make_clip(clips / f"{uuid.uuid4().hex}.mp4", seconds=0.6 + 0.01 * i, size="64x112", audio=False,
                         extra=["-metadata", f"comment={uuid.uuid4().hex}"])
        dest = served.inbox / "bench" / "clip.mp4"
        dest.unlink(missing_ok=True)
        part = dest.with_name("clip.mp4.part")
        part.write_bytes(clip.read_bytes())
        part.rename(dest)
        landed = time.time()
        run = served.wait_run(str(dest.resolve()))
        start = _ts(run["start_time"])
        out["inbox"].append(start - landed)
        ev = served.received_event(sha256_file(clip))
        if ev:
            emitted = _ts(ev["occurred"])
            received = _ts(ev["received"])
            out["watcher"].append(emitted - landed)
            out["delivery"].append(received - emitted)
            out["trigger"].append(_ts(run["created"]) - received)
        out["runner"].append(start - _ts(run["created"]))
        if with_events:
            # Baseline: Prefect's own path from an emitted event to the run.
            other = make_clip(clips / f"{uuid.uuid4().hex}.mp4", seconds=0.6 + 0.01 * i, size="64x112", audio=False,
                         extra=["-metadata", f"comment={uuid.uuid4().hex}"])
            emitted = _emit_received(served.api, str(other), root / "campaign.yaml")
            run = served.wait_run(str(other))
            out["event"].append(_ts(run["start_time"]) - emitted)
        parts = " / ".join(f"{out[k][-1]:.2f}" for k in ("watcher", "delivery", "trigger", "runner") if len(out[k]) == i + 1)
        print(f"  round {i + 1}/{drops}: landing -> running {out['inbox'][-1]:.2f} s ({parts})"
              + (f", event -> running {out['event'][-1]:.2f} s" if with_events else ""), flush=True)
    return out


def _fmt(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"median {statistics.median(values):5.2f} s   max {max(values):5.2f} s   (n={len(values)})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--drops", type=int, default=10)
    ap.add_argument("--poll", type=float, default=1.0, help="runner poll interval of `chorus serve` (its default: 1)")
    ap.add_argument("--compare-poll", type=float, default=None, help="also measure the inbox path with this poll")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="chorus-bench-events-") as tmp:
        root = Path(tmp)
        (root / "clip.en.srt").write_text(SRT, encoding="utf-8")
        (root / "campaign.yaml").write_text(MANIFEST, encoding="utf-8")
        print(f"machine: {platform.machine()}, {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}; "
              f"{args.drops} drops, runner poll {args.poll:g} s", flush=True)
        served = Served(root, args.poll)
        try:
            print(f"chorus serve ready in {served.ready_s:.1f} s (server, deployment, trigger, watcher)", flush=True)
            res = run_rounds(served, root, args.drops, with_events=True)
        finally:
            served.stop()
        compare = None
        if args.compare_poll:
            served = Served(root, args.compare_poll)
            try:
                compare = run_rounds(served, root, args.drops, with_events=False)
            finally:
                served.stop()
        print()
        print(f"landing -> caption running (inbox):       {_fmt(res['inbox'])}")
        print(f"emitted event -> caption running (Prefect): {_fmt(res['event'])}")
        if res["event"]:
            print(f"ratio inbox / event (medians):             {statistics.median(res['inbox']) / statistics.median(res['event']):.2f}")
        print("parts of the inbox path:")
        print(f"  watcher  landing -> event emitted:        {_fmt(res['watcher'])}")
        print(f"  delivery event emitted -> server has it:  {_fmt(res['delivery'])}")
        print(f"  trigger  server has it -> run created:    {_fmt(res['trigger'])}")
        print(f"  runner   created -> running (process):    {_fmt(res['runner'])}")
        if compare:
            print(f"landing -> caption running, poll {args.compare_poll:g} s:    {_fmt(compare['inbox'])}")
            print(f"ratio poll {args.compare_poll:g} s / poll {args.poll:g} s (medians):      "
                  f"{statistics.median(compare['inbox']) / statistics.median(res['inbox']):.2f}")
        print(f"load average at the end: {os.getloadavg()[0]:.1f} (other work on the machine inflates every figure)")


if __name__ == "__main__":
    main()
