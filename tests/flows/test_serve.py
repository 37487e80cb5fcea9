"""`chorus serve` against a real Prefect server on 127.0.0.1, started by the command and stopped with Ctrl-C:
a video dropped into the inbox goes through caption, variants and scheduled posts by triggers alone, with the right
parameters; the same file dropped again starts nothing; an asset behind the approval gate waits for `chorus approve`.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from flows.serve import free_port
from tests.conftest import make_clip

REPO = Path(__file__).resolve().parents[2]
SRT = "1\n00:00:00,100 --> 00:00:01,200\nRegister to vote today.\n"


def write_campaign(root: Path, campaign_id: str, *, approval: bool = False) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "clip.en.srt").write_text(SRT, encoding="utf-8")
    manifest = {
        "campaign": {"id": campaign_id, "name": campaign_id},
        "organisations": [{"id": "ngo", "name": "NGO"}],
        "languages": ["en"],
        "countries": [{"code": "IE", "timezone": "Europe/Dublin", "languages": ["en"]}],
        # One sandbox account on X: one small (1280x720) variant to render.
        "accounts": [{"id": "ngo-x", "platform": "x", "organisation": "ngo", "handle": "@ngo", "countries": ["IE"],
                      "languages": ["en"], "sandbox": True}],
        "assets": [{"id": "clip", "file": "videos/clip.mp4", "language": "en", "captions": {"en": "clip.en.srt"}}],
        "schedule": {"start": "2026-01-01", "end": "2030-12-31", "slots": ["19:00"]},
        "review": {"approval": approval},
    }
    path = root / "campaign.yaml"
    path.write_text(yaml.safe_dump(manifest), encoding="utf-8")
    return path


class Api:
    """The bits of Prefect's REST API the test reads (plain HTTP: the test process's own Prefect settings stay untouched)."""

    def __init__(self, api_url: str):
        self.api_url = api_url

    def post(self, path: str, body: dict[str, Any]) -> Any:
        req = urllib.request.Request(f"{self.api_url}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)

    def runs(self, flow_name: str) -> list[dict[str, Any]]:
        """Flow runs of a flow that were started by something (scheduled-ahead runs of the schedules left out)."""
        runs = self.post("/flow_runs/filter", {"flows": {"name": {"any_": [flow_name]}}, "limit": 200})
        return [r for r in runs if r["state_type"] != "SCHEDULED" or r.get("start_time")]

    def triggered_runs(self, flow_name: str) -> list[dict[str, Any]]:
        return [r for r in self.runs(flow_name) if r["parameters"].get("asset_id") or r["parameters"].get("campaign_id")]

    def events(self, name: str) -> list[dict[str, Any]]:
        got = self.post("/events/filter", {"filter": {"event": {"name": [name]}}, "limit": 50})
        return got["events"]


def wait_for(what: str, check: Callable[[], Any], timeout_s: float, proc: subprocess.Popen, log: list[str]) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            got = check()
        except (OSError, ValueError):
            got = None
        if got:
            return got
        if proc.poll() is not None:
            raise AssertionError(f"chorus serve exited ({proc.returncode}) while waiting for {what}:\n" + "".join(log[-40:]))
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}; chorus serve said:\n"
                                 + "".join(log[-40:]))
        time.sleep(0.5)


def warehouse_rows(home: Path, sql: str, params: list[Any]) -> list[tuple]:
    from warehouse import db

    con = db.connect(home / "chorus.duckdb", read_only=True, wait_s=30)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`chorus serve` for two campaigns (one behind the approval gate), its output collected in a thread."""
    tmp = tmp_path_factory.mktemp("serve")
    home = tmp / "home"
    plain = write_campaign(tmp / "plain", "plain")
    gated = write_campaign(tmp / "gated", "gated", approval=True)
    env = {**os.environ, "CHORUS_HOME": str(home), "PREFECT_HOME": str(home / "prefect"),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PYTHONUNBUFFERED": "1"}
    for k in ("PREFECT_API_URL", "CHORUS_STORE", "CHORUS_WAREHOUSE", "CHORUS_INBOX"):
        env.pop(k, None)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "serve", str(plain), str(gated), "--port", str(port)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    log: list[str] = []
    reader = threading.Thread(target=lambda: [log.append(line) for line in proc.stdout], daemon=True)
    reader.start()
    try:
        wait_for("readiness", lambda: any(line.startswith("ready:") for line in log), 150, proc, log)
        yield {"proc": proc, "log": log, "home": home, "env": env, "api": Api(f"http://127.0.0.1:{port}/api"),
               "inbox": home / "inbox", "tmp": tmp, "plain": plain, "gated": gated}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        pid_file = home / "prefect" / "server" / "server.pid"
        if pid_file.exists():  # the server outlived a killed `chorus serve`
            try:
                os.killpg(int(pid_file.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_serve_says_where_the_ui_is_and_makes_the_campaign_inboxes(served):
    log = "".join(served["log"])
    assert "Prefect UI: http://127.0.0.1:" in log
    assert (served["inbox"] / "plain").is_dir() and (served["inbox"] / "gated").is_dir()


def test_a_dropped_video_is_captioned_rendered_and_scheduled_by_triggers_alone(served):
    api, proc, log, home = served["api"], served["proc"], served["log"], served["home"]
    clip = make_clip(served["tmp"] / "plain-clip.mp4", seconds=1.2, size="180x320")
    gated_clip = make_clip(served["tmp"] / "gated-clip.mp4", seconds=1.3, size="180x320")
    drop = served["inbox"] / "plain" / "clip.mp4"
    # Dropped the way a slow copy does it: a partial name first, renamed when complete.
    shutil.copy(clip, drop.with_name("clip.mp4.part"))
    drop.with_name("clip.mp4.part").rename(drop)
    shutil.copy(gated_clip, served["inbox"] / "gated" / "clip.mp4")  # for the approval test, in parallel

    def completed(flow: str, campaign_dir: str) -> list[dict]:
        return [r for r in api.triggered_runs(flow) if r["state_type"] == "COMPLETED"
                and campaign_dir in r["parameters"].get("manifest_path", "")]

    caption = wait_for("the caption run", lambda: completed("caption", "/plain/"), 120, proc, log)
    assert caption[0]["parameters"] == {"manifest_path": str(served["plain"]), "asset_id": "clip",
                                        "source": str(drop.resolve())}
    variants = wait_for("the variants run", lambda: completed("variants", "/plain/"), 150, proc, log)
    assert variants[0]["parameters"] == {"manifest_path": str(served["plain"]), "asset_id": "clip"}
    schedule = wait_for("the schedule run", lambda: completed("schedule", "/plain/"), 120, proc, log)
    assert schedule[0]["parameters"] == {"manifest_path": str(served["plain"]), "asset_id": "clip", "post_now": False}
    # Nothing but the triggers started these runs: they came from automations, not from this test or a person.
    for run in caption + variants + schedule:
        assert run["created_by"] and run["created_by"]["type"] == "AUTOMATION", run["created_by"]

    posts = warehouse_rows(home, "SELECT account_id, state, language FROM posts WHERE campaign_id = 'plain'", [])
    assert posts == [("ngo-x", "planned", "en")]
    rendered = warehouse_rows(home, "SELECT count(*) FROM variants WHERE campaign_id = 'plain' AND status = 'rendered'", [])
    assert rendered == [(1,)]

    # The same file dropped again, under another name and under its own after removal: no second pipeline.
    shutil.copy(clip, drop.with_name("clip-again.mp4"))
    drop.unlink()
    time.sleep(1.0)
    shutil.copy(clip, drop)
    dups = wait_for("two duplicate events",
                    lambda: [e for e in api.events("chorus.asset.duplicate")
                             if e["resource"].get("chorus.campaign") == "plain"][:2]
                    if len([e for e in api.events("chorus.asset.duplicate")
                            if e["resource"].get("chorus.campaign") == "plain"]) >= 2 else None, 60, proc, log)
    assert all("nothing was started" in e["payload"]["reason"] for e in dups)
    time.sleep(3.0)  # as long as a trigger takes to start a run here, had the duplicates fired one
    assert len([r for r in api.triggered_runs("caption") if "/plain/" in r["parameters"]["manifest_path"]]) == 1


def test_the_approval_gate_holds_the_posts_until_chorus_approve(served):
    api, proc, log, home = served["api"], served["proc"], served["log"], served["home"]

    def suspended() -> list[dict]:
        return [r for r in api.triggered_runs("schedule")
                if "/gated/" in r["parameters"]["manifest_path"] and r["state_name"] == "Suspended"]

    wait_for("the gated schedule run to suspend", suspended, 240, proc, log)
    assert warehouse_rows(home, "SELECT count(*) FROM posts WHERE campaign_id = 'gated'", []) == [(0,)]
    requested = [e for e in api.events("chorus.approval.requested") if e["resource"]["chorus.campaign"] == "gated"]
    assert requested and requested[0]["payload"]["variants"]

    env = {**served["env"], "PREFECT_API_URL": served["api"].api_url}
    r = subprocess.run([sys.executable, "-m", "flows.cli", "approve", "gated", "clip", "--by", "Ada Lovelace",
                        "--note", "captions checked"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "approved by Ada Lovelace" in r.stdout and "resumed" in r.stdout

    wait_for("the resumed schedule run to complete",
             lambda: [x for x in api.triggered_runs("schedule")
                      if "/gated/" in x["parameters"]["manifest_path"] and x["state_type"] == "COMPLETED"], 120, proc, log)
    approvals = warehouse_rows(home, "SELECT decision, decided_by, channel, note, len(variants) FROM approvals "
                                     "WHERE campaign_id = 'gated' AND asset_id = 'clip'", [])
    assert approvals == [("approved", "Ada Lovelace", "prefect", "captions checked", 1)]
    assert warehouse_rows(home, "SELECT count(*) FROM posts WHERE campaign_id = 'gated'", []) == [(1,)]


def test_ctrl_c_stops_everything(served):
    proc, log = served["proc"], served["log"]
    pid_file = served["home"] / "prefect" / "server" / "server.pid"
    server_pid = int(pid_file.read_text())
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(60) == 0, "".join(log[-30:])
    assert any(line.startswith("stopped") for line in log)
    with pytest.raises(ProcessLookupError):
        os.kill(server_pid, 0)
