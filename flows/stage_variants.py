"""Variants stage: per language x format, translated cues burned into the reframed master, stored and recorded."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from campaign.errors import ChorusError, MediaError
from campaign.manifest import Asset, Manifest
from campaign.plan import VariantSpec, variants_for
from flows.runtime import Progress, Runtime, asset_prefix, no_progress
from media.cues import Cue, from_json, read_subtitles
from media.render import render_variant
from warehouse.records import upsert_asset, upsert_variant


@dataclass(frozen=True)
class VariantResult:
    variant_id: str
    language: str
    format: str
    status: str          # rendered | failed
    key: str | None
    error: str | None = None


def cues_for(rt: Runtime, manifest: Manifest, asset: Asset, language: str) -> list[Cue]:
    if language == asset.language:
        key = f"{asset_prefix(manifest.id, asset.id)}/captions/{language}.json"
        return from_json(rt.store.get_bytes(key).decode())
    if language in asset.translations:
        return read_subtitles(manifest.resolve(asset.translations[language]))
    raise MediaError(f"asset {asset.id!r} has no translation into {language}",
                     f"add `translations: {{{language}: path/to/file.srt}}` to the asset")


def variant_key(manifest: Manifest, asset: Asset, spec: VariantSpec) -> str:
    fmt = spec.format
    return f"{asset_prefix(manifest.id, asset.id)}/variants/{spec.language}-{fmt.slug}-{fmt.width}x{fmt.height}.mp4"


def render_asset_variants(rt: Runtime, manifest: Manifest, asset: Asset, master_key: str,
                          progress: Progress = no_progress) -> list[VariantResult]:
    """Render every variant the accounts need; a failed variant is recorded with its reason and the others go on."""
    specs = variants_for(manifest, asset)
    results: list[VariantResult] = []
    with rt.store.local_copy(master_key) as master, tempfile.TemporaryDirectory(prefix="chorus-render-") as tmp:
        for i, spec in enumerate(specs):
            progress(f"{asset.id} {spec.language} {spec.format.name}", i, len(specs))
            key = variant_key(manifest, asset, spec)
            try:
                cues = cues_for(rt, manifest, asset, spec.language)
                out = render_variant(Path(master), cues, spec.format, spec.language, Path(tmp) / "variant.mp4")
                rt.store.put_file(key, out.path)
                result = VariantResult(spec.id, spec.language, spec.format.name, "rendered", key)
                size, duration = out.size_bytes, out.duration_s
            except ChorusError as err:
                result = VariantResult(spec.id, spec.language, spec.format.name, "failed", None, err.line)
                size = duration = None
            with rt.warehouse() as con:
                upsert_variant(con, spec.id, campaign_id=manifest.id, asset_id=asset.id, language=spec.language,
                               format=spec.format.name, width=spec.format.width, height=spec.format.height,
                               status=result.status, key=result.key, error=result.error,
                               duration_s=duration, size_bytes=size)
            results.append(result)
        progress(f"{asset.id} variants", len(specs), len(specs))
    if any(r.status == "rendered" for r in results):
        with rt.warehouse() as con:
            upsert_asset(con, manifest.id, asset.id, language=asset.language, status="rendered")
    return results
