"""Ingest: probe a campaign asset, copy the master into the store and record it (the start of the pipeline)."""
from __future__ import annotations

from dataclasses import dataclass

from campaign.errors import ChorusError
from campaign.manifest import Asset, Manifest
from flows.runtime import Runtime, asset_prefix
from media.probe import VideoInfo, probe
from warehouse.records import upsert_asset, upsert_campaign


@dataclass(frozen=True)
class IngestedAsset:
    campaign_id: str
    asset_id: str
    master_key: str
    info: VideoInfo


def register_campaign(rt: Runtime, manifest: Manifest) -> None:
    with rt.warehouse() as con:
        upsert_campaign(con, manifest)


def ingest_asset(rt: Runtime, manifest: Manifest, asset: Asset) -> IngestedAsset:
    """Probe and store the master; a bad video is recorded as failed with its reason and re-raised for the caller."""
    path = manifest.asset_path(asset)
    try:
        info = probe(path)
    except ChorusError as err:
        with rt.warehouse() as con:
            upsert_asset(con, manifest.id, asset.id, language=asset.language, status="failed", error=err.line)
        raise
    key = f"{asset_prefix(manifest.id, asset.id)}/master{path.suffix.lower() or '.mp4'}"
    if not rt.store.exists(key):
        rt.store.put_file(key, path)
    with rt.warehouse() as con:
        upsert_asset(con, manifest.id, asset.id, language=asset.language, status="received", source_key=key,
                     duration_s=info.duration_s, width=info.display_size[0], height=info.display_size[1])
    return IngestedAsset(manifest.id, asset.id, key, info)
