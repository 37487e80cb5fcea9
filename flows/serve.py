"""`chorus serve`: event-driven mode on one machine — a Prefect server, the stage deployments, the inbox watcher.

What it starts, in order, and why this way:
1. A Prefect server on 127.0.0.1 (`prefect server start`, a child process with the UI) unless PREFECT_API_URL
   names one already.
2. The deployments of prefect.yaml — the same file `prefect deploy` reads — served from this process with
   `Runner` (what `prefect.serve()` uses): triggers become automations on the server, schedules become schedules.
   Serving (rather than a process work pool + worker) keeps the path from an event to a running flow short:
   the runner already has each flow loaded and starts a run in a child process without a pull step or a
   re-import from source, and it polls for triggered runs every `poll_s` (1 s here instead of Prefect's 10 s
   default, a cheap indexed query).
3. The inbox watcher (flows/watchers.py) on a local folder and optionally an S3 prefix.
It reports ready only when the server is healthy, every deployment exists with its automations enabled and has
been polled by the runner (Prefect marks it READY), and the watcher has made its first scan: from then on a
dropped video is acted on. Ctrl-C or SIGTERM stops the watcher, the runner (cancelling runs in flight) and the
server it started, in that order.
"""
from __future__ import annotations

import asyncio
import importlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from campaign.errors import ChorusError

PROJECT_DIR = Path(__file__).resolve().parent.parent
PREFECT_YAML = PROJECT_DIR / "prefect.yaml"


# --- prefect.yaml ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment of prefect.yaml, as `chorus serve` needs it."""

    name: str
    entrypoint: str
    description: str = ""
    tags: tuple[str, ...] = ()
    parameters: dict[str, Any] = field(default_factory=dict)
    triggers: tuple[dict[str, Any], ...] = ()
    schedules: tuple[dict[str, Any], ...] = ()

    @property
    def flow_attr(self) -> tuple[str, str]:
        """(module, attribute) of the entrypoint `flows/prefect_flows.py:caption_flow`."""
        path, _, attr = self.entrypoint.partition(":")
        return path.removesuffix(".py").replace("/", "."), attr


def load_specs(path: Path = PREFECT_YAML) -> list[DeploymentSpec]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ChorusError(f"no prefect.yaml at {path}", "run `chorus serve` from a checkout of Chorus (pip install -e .)") from None
    specs = []
    for d in doc.get("deployments") or []:
        specs.append(DeploymentSpec(
            name=d["name"], entrypoint=d["entrypoint"], description=d.get("description", ""),
            tags=tuple(d.get("tags") or ()), parameters=dict(d.get("parameters") or {}),
            triggers=tuple(d.get("triggers") or ()), schedules=tuple(d.get("schedules") or ()),
        ))
    return specs


def load_flow(spec: DeploymentSpec) -> Any:
    module, attr = spec.flow_attr
    return getattr(importlib.import_module(module), attr)


def deployment_kwargs(spec: DeploymentSpec) -> dict[str, Any]:
    """The arguments of `Runner.add_flow` / `Flow.to_deployment` for one spec: its triggers and schedules,
    validated by Prefect's own schemas (the ones `prefect deploy` uses for the same YAML)."""
    from pydantic import TypeAdapter
    from prefect.events.schemas.deployment_triggers import DeploymentTriggerTypes
    from prefect.schedules import Cron, Interval

    schedules = []
    for s in spec.schedules:
        if "interval" in s:
            schedules.append(Interval(float(s["interval"])))
        elif "cron" in s:
            schedules.append(Cron(s["cron"], timezone=s.get("timezone")))
        else:
            raise ChorusError(f"prefect.yaml: deployment {spec.entrypoint}: schedule {s} is not supported by "
                              "`chorus serve`", "use `interval: SECONDS` or `cron: EXPRESSION`")
    return {
        "name": spec.name, "description": spec.description or None, "tags": list(spec.tags),
        "parameters": spec.parameters or None,
        "triggers": TypeAdapter(list[DeploymentTriggerTypes]).validate_python(list(spec.triggers)),
        "schedules": schedules or None,
    }


# --- the Prefect server -----------------------------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def wait_healthy(api_url: str, timeout_s: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        if process is not None and process.poll() is not None:
            raise ChorusError(f"the Prefect server exited with code {process.returncode} before it was ready",
                              "see the server log under PREFECT_HOME (server.log)")
        if time.monotonic() > deadline:
            raise ChorusError(f"the Prefect server at {api_url} did not answer within {timeout_s:.0f} s",
                              "check PREFECT_API_URL, or the server log under PREFECT_HOME (server.log)")
        time.sleep(0.25)


class PrefectServer:
    """`prefect server start` on 127.0.0.1 as a child process (with the UI), stopped with its process group."""

    def __init__(self, home: Path, port: int | None = None, host: str = "127.0.0.1"):
        self.home = home
        self.host = host
        # Prefect's usual port when it is free, so the UI is where Prefect users expect it.
        self.port = port or (4200 if port_free(4200, host) else free_port(host))
        self.process: subprocess.Popen | None = None
        self.log_path = home / "server.log"
        self.pid_path = home / "server.pid"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    def start(self, timeout_s: float = 90.0) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PREFECT_HOME": str(self.home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
               "PREFECT_UI_API_URL": self.api_url}
        env.pop("PREFECT_API_URL", None)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", self.host, "--port", str(self.port)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True,
        )
        log.close()
        # Written so that an operator (or a test's teardown) can stop the server even if `chorus serve` was killed.
        self.pid_path.write_text(str(self.process.pid))
        try:
            wait_healthy(self.api_url, timeout_s, self.process)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout_s: float = 10.0) -> None:
        proc, self.process = self.process, None
        self.pid_path.unlink(missing_ok=True)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


# --- serving ----------------------------------------------------------------------------------------------------


@dataclass
class ServeOptions:
    manifests: list[str]
    inbox: Path
    s3_inbox: str | None = None
    s3_queue: str | None = None
    poll_s: float = 1.0
    watch_interval_s: float = 0.25
    s3_list_interval_s: float = 5.0
    settle_s: float = 0.5
    port: int | None = None
    ready_timeout_s: float = 120.0
    only: tuple[str, ...] = ()  # flow names to serve (all when empty), to split the stages across machines
    watch_only: bool = False    # serve no deployment: they run on a work pool; this process only watches the inbox


def _say(msg: str) -> None:
    print(msg, flush=True)


async def _wait_ready(client: Any, deployment_ids: list[Any], loop_alive: Callable[[], bool], timeout_s: float) -> None:
    """Every deployment polled by the runner (READY) with its automations enabled."""
    from prefect.client.schemas.objects import DeploymentStatus

    deadline = time.monotonic() + timeout_s
    while True:
        pending = []
        for dep_id in deployment_ids:
            dep = await client.read_deployment(dep_id)
            if dep.status != DeploymentStatus.READY:
                pending.append(dep.name)
        if not pending:
            return
        if not loop_alive():
            raise ChorusError("the deployment runner stopped before it was ready", "run with -v to see Prefect's logs")
        if time.monotonic() > deadline:
            raise ChorusError(f"deployments not ready after {timeout_s:.0f} s: {', '.join(pending)}",
                              "run with -v to see Prefect's logs")
        await asyncio.sleep(0.2)


async def _automations_enabled(client: Any, deployment_ids: list[Any], specs: list[DeploymentSpec]) -> int:
    total = 0
    for dep_id, spec in zip(deployment_ids, specs):
        autos = await client.read_resource_related_automations(f"prefect.deployment.{dep_id}")
        enabled = [a for a in autos if a.enabled]
        if len(enabled) < len(spec.triggers):
            raise ChorusError(f"deployment {spec.entrypoint} has {len(enabled)} of its {len(spec.triggers)} trigger(s)",
                              "check the triggers in prefect.yaml")
        total += len(enabled)
    return total


async def serve_async(opts: ServeOptions, stop: asyncio.Event, on_ready: Callable[[dict[str, Any]], None]) -> None:
    """Serve until `stop` is set. Expects PREFECT_API_URL to point at a healthy server already."""
    from prefect import get_client
    from prefect.runner import Runner

    from flows import events
    from flows.watchers import Campaigns, InboxLoop, S3Source
    from media.inbox import FolderWatcher, S3PrefixWatcher, SeenStore

    specs = [] if opts.watch_only else load_specs()
    if opts.only and not opts.watch_only:
        specs = [s for s in specs if load_flow(s).name in opts.only]
        if not specs:
            raise ChorusError(f"--only {','.join(opts.only)} names no deployment of prefect.yaml",
                              "use flow names: caption, variants, schedule, publish-due, metrics-pull")
    campaigns = Campaigns.from_manifests(opts.manifests, opts.inbox)
    opts.inbox.mkdir(parents=True, exist_ok=True)
    for cid in campaigns.registered:
        (opts.inbox / cid).mkdir(exist_ok=True)

    runner = Runner(name="chorus", query_seconds=opts.poll_s, pause_on_shutdown=True)
    deployment_ids = []
    for spec in specs:
        # add_flow (what `prefect.serve` does for a flow object) keeps the loaded flow, so a run starts in a
        # child process directly instead of through `python -m prefect.engine` loading it from its entrypoint.
        deployment_ids.append(await runner.aadd_flow(load_flow(spec), **deployment_kwargs(spec)))
    runner_task = asyncio.create_task(runner.start() if specs else asyncio.Event().wait(), name="chorus-runner")

    seen = SeenStore(opts.inbox / ".chorus-inbox.sqlite")
    sources: list[Any] = [FolderWatcher(opts.inbox, settle_s=opts.settle_s)]
    if opts.s3_inbox:
        import boto3

        endpoint = os.environ.get("CHORUS_S3_ENDPOINT") or None
        s3 = boto3.client("s3", endpoint_url=endpoint)
        sqs = boto3.client("sqs", endpoint_url=endpoint) if opts.s3_queue else None
        watcher = S3PrefixWatcher(s3, opts.s3_inbox, seen, sqs=sqs, queue_url=opts.s3_queue, wait_s=5)
        sources.append(S3Source(watcher, interval_s=0.01 if opts.s3_queue else opts.s3_list_interval_s))
    inbox = InboxLoop(sources, campaigns, seen, interval_s=opts.watch_interval_s)
    try:
        async with get_client() as client:
            await _wait_ready(client, deployment_ids, lambda: not runner_task.done(), opts.ready_timeout_s)
            automations = await _automations_enabled(client, deployment_ids, specs)
        inbox.start()
        await asyncio.to_thread(inbox.first_scan_done.wait, 30)
        # Says in the event feed that Chorus serves from here, and opens the watcher's connection for events
        # now rather than with the first drop.
        events.emit(events.SERVE_READY, {"prefect.resource.id": f"chorus.serve.{socket.gethostname()}"},
                    {"inbox": str(opts.inbox), "campaigns": sorted(campaigns.registered), "s3_inbox": opts.s3_inbox})
        on_ready({"deployments": len(deployment_ids), "automations": automations,
                  "campaigns": dict(campaigns.registered), "inbox": str(opts.inbox)})
        stop_task = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({stop_task, runner_task}, return_when=asyncio.FIRST_COMPLETED)
        if runner_task in done and not stop.is_set():
            stop_task.cancel()
            runner_task.result()  # re-raise why the runner stopped
            raise ChorusError("the deployment runner stopped unexpectedly", "run with -v to see Prefect's logs")
    finally:
        inbox.stop()
        if runner.started:
            await runner.astop()
        if not runner_task.done():
            runner_task.cancel()
        await asyncio.gather(runner_task, return_exceptions=True)
        seen.close()


def serve(opts: ServeOptions, say: Callable[[str], None] = _say) -> int:
    """The `chorus serve` command: blocks until Ctrl-C or SIGTERM."""
    server: PrefectServer | None = None
    prefect_home = Path(os.environ.get("PREFECT_HOME", Path.home() / ".prefect")).expanduser()
    os.environ.setdefault("CHORUS_PROJECT_DIR", str(PROJECT_DIR))
    if not os.environ.get("PREFECT_API_URL"):
        server = PrefectServer(prefect_home / "server", port=opts.port)
        say(f"starting a Prefect server on {server.url} (log: {server.log_path}) ...")
        server.start()
        # Set before Prefect is imported in this process, so its settings pick it up.
        os.environ["PREFECT_API_URL"] = server.api_url
        ui = server.url
    else:
        wait_healthy(os.environ["PREFECT_API_URL"].rstrip("/"), 30)
        ui = os.environ.get("PREFECT_UI_URL") or os.environ["PREFECT_API_URL"].rstrip("/").removesuffix("/api")

    def ready(info: dict[str, Any]) -> None:
        say(f"Prefect UI: {ui}")
        for cid, path in info["campaigns"].items():
            say(f"campaign {cid}: {path} — drop its videos into {Path(info['inbox']) / cid}/")
        if opts.s3_inbox:
            say(f"watching {opts.s3_inbox}" + (f" (notifications from {opts.s3_queue})" if opts.s3_queue else " (listing)"))
        served = (f"{info['deployments']} deployments with {info['automations']} triggers" if not opts.watch_only
                  else "watching only (the deployments run on a work pool)")
        say(f"ready: {served}, inbox {info['inbox']} — press Ctrl-C to stop")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_ready(info: dict[str, Any]) -> None:
            # The runner installs its own SIGTERM handler when it starts; ours replaces it so that every
            # part (watcher, runner, server) is stopped in order.
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            ready(info)

        await serve_async(opts, stop, on_ready)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    finally:
        say("stopping ...")
        if server is not None:
            server.stop()
        say("stopped")
    return 0
