"""The runtime a stage needs (settings, asset store, warehouse connection), built from settings and closed after use."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import duckdb

from campaign.manifest import Manifest, parse_manifest
from campaign.settings import Settings
from media.store import AssetStore, open_store
from warehouse import db

Progress = Callable[[str, int, int], None]


def no_progress(label: str, done: int, total: int) -> None:
    return None


@dataclass
class Runtime:
    settings: Settings
    store: AssetStore

    @contextmanager
    def warehouse(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived writing connection: DuckDB lets one process write at a time, so hold it briefly."""
        con = db.connect(self.settings.warehouse_path)
        try:
            yield con
        finally:
            con.close()


def make_runtime(settings: Settings | None = None) -> Runtime:
    settings = settings or Settings.from_env()
    settings.home.mkdir(parents=True, exist_ok=True)
    return Runtime(settings, open_store(settings.store_url))


def manifest_from_warehouse(con: duckdb.DuckDBPyConnection, campaign_id: str) -> Manifest:
    """The manifest as it was when the campaign was last run (what publish and metrics need without the YAML file)."""
    import json

    row = con.execute("SELECT manifest FROM campaigns WHERE campaign_id = ?", [campaign_id]).fetchone()
    if row is None:
        from campaign.errors import ChorusError

        raise ChorusError(f"campaign {campaign_id!r} is not in the warehouse", "run `chorus run CAMPAIGN.yaml` first")
    return parse_manifest(json.loads(row[0]), source=f"warehouse:{campaign_id}")


def default_connectors(rt: Runtime, **kwargs: Any) -> Callable[[Any], Any]:
    """account -> connector, with credentials from the environment or Prefect Secret blocks (flows/secrets.py)."""
    from connectors.registry import connector_for
    from flows.secrets import secret_sources

    lookup, token_store = secret_sources(rt.settings)
    return lambda account: connector_for(account, rt.settings, rt.store, secrets=lookup, token_store=token_store,
                                         **kwargs)


def asset_prefix(campaign_id: str, asset_id: str) -> str:
    return f"campaigns/{campaign_id}/assets/{asset_id}"
