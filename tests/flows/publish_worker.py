"""A publishing process for the crash test: runs `publish_due` in a loop until nothing is left to do.

Run as `python -m tests.flows.publish_worker HOME CONFIG.json`. CONFIG names the fake platforms' URLs and the
first `now`; credentials come from the environment (NAME_ACCESS_TOKEN, ...) exactly as in production, rotated
tokens go to HOME/tokens, and every log line (DEBUG, urllib3 included) goes to HOME/logs/worker-<pid>.log so the
test can scan it for tokens.
"""
from __future__ import annotations

import datetime as dt
import importlib
import json
import logging
import os
import sys
from pathlib import Path

from campaign.settings import Settings
from connectors.sandbox import SandboxConnector
from connectors.tokens import FileTokenStore
from flows.runtime import Runtime
from flows.stage_publish import publish_due
from media.store import LocalStore
from tests.flows.publish_world import BASE_NAMES
from warehouse import db

DONE = {"published", "failed", "cancelled", "held"}


def main(home: Path, config_path: Path) -> int:
    config = json.loads(config_path.read_text())
    (home / "logs").mkdir(parents=True, exist_ok=True)
    logging.basicConfig(filename=home / "logs" / f"worker-{os.getpid()}.log", level=logging.DEBUG,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = Settings(home=home, store_url=str(home / "store"), warehouse_path=home / "chorus.duckdb",
                        http_backoff_s=0.001, poll_interval_s=0.01, rate_window_scale=0.001)
    rt = Runtime(settings, LocalStore(settings.store_url))
    token_store = FileTokenStore(home / "tokens")
    urls: dict[str, str] = config["urls"]

    def factory(account):
        platform = account.platform.value
        if platform not in urls:
            return SandboxConnector(account, rt.store)
        per_platform = Settings(home=home, store_url=settings.store_url, warehouse_path=settings.warehouse_path,
                                base_urls={n: urls[platform] for n in BASE_NAMES[platform]}, http_backoff_s=0.001,
                                poll_interval_s=0.01, rate_window_scale=0.001)
        module = importlib.import_module(f"connectors.{platform}")
        return module.make_connector(account, per_platform, store=rt.store, token_store=token_store)

    now = dt.datetime.fromisoformat(config["now"])
    for run in range(60):
        report = publish_due(rt, now, connectors=factory)
        print(f"run {run}: published {report.published} failed {report.failed} unknown {report.unknown} "
              f"waiting {report.waiting}", flush=True)
        con = db.connect(settings.warehouse_path)
        try:
            left = con.execute("SELECT count(*) FROM posts WHERE state NOT IN ('published', 'failed', 'cancelled', "
                               "'held')").fetchone()[0]
        finally:
            con.close()
        if not left:
            return 0
        now += dt.timedelta(minutes=10)
    con = db.connect(settings.warehouse_path)
    try:
        for row in con.execute("SELECT platform, state, next_attempt_at, last_error FROM posts WHERE state NOT IN "
                               "('published', 'failed', 'cancelled', 'held')").fetchall():
            print("left:", row, flush=True)
    finally:
        con.close()
    return 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
