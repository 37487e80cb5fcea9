"""Caption stage: timed cues in the asset's spoken language, written to the store as SRT, WebVTT and JSON."""
from __future__ import annotations

from dataclasses import dataclass

from campaign.errors import MediaError
from campaign.manifest import Asset, Manifest
from flows.runtime import Runtime, asset_prefix
from media.cues import read_subtitles, to_json, to_srt, to_vtt
from warehouse.records import upsert_asset, upsert_caption


@dataclass(frozen=True)
class CaptionResult:
    campaign_id: str
    asset_id: str
    language: str
    origin: str
    cue_count: int
    srt_key: str


def caption_asset(rt: Runtime, manifest: Manifest, asset: Asset) -> CaptionResult:
    """Captions for the spoken language: a person's file from the manifest when given."""
    lang = asset.language
    if lang in asset.captions:
        cues = read_subtitles(manifest.resolve(asset.captions[lang]))
        origin = "file"
    else:
        raise MediaError(f"asset {asset.id!r} has no caption file for its spoken language {lang}",
                         f"add `captions: {{{lang}: path/to/file.srt}}` to the asset")
    prefix = f"{asset_prefix(manifest.id, asset.id)}/captions/{lang}"
    rt.store.put_bytes(f"{prefix}.srt", to_srt(cues).encode())
    rt.store.put_bytes(f"{prefix}.vtt", to_vtt(cues).encode())
    rt.store.put_bytes(f"{prefix}.json", to_json(cues, language=lang, origin=origin).encode())
    with rt.warehouse() as con:
        upsert_caption(con, manifest.id, asset.id, lang, origin=origin, reviewed=origin == "file",
                       srt_key=f"{prefix}.srt", vtt_key=f"{prefix}.vtt", json_key=f"{prefix}.json",
                       cue_count=len(cues), provider="manifest")
        upsert_asset(con, manifest.id, asset.id, language=lang, status="captioned")
    return CaptionResult(manifest.id, asset.id, lang, origin, len(cues), f"{prefix}.srt")
