"""Variants stage: per asset, cues translated per language, every language x format rendered from one decode, stored and recorded.

Translations come from the translators' files in the manifest first; a language without one is machine-translated
when a provider is set (CHORUS_TRANSLATOR=deepl|libretranslate), and recorded as such: with the campaign's
`review.translations` on, its variants are held (publishable = false) until a person approves the translation
(`approve_translation`). A language or variant that fails is recorded with its reason and the others go on.
"""
from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from campaign.errors import ChorusError
from campaign.manifest import Asset, Manifest
from campaign.plan import VariantSpec, account_format, variants_for
from campaign.platforms import Platform
from campaign.settings import Settings
from flows.runtime import Progress, Runtime, asset_prefix, no_progress
from media.cues import Cue, from_json, read_subtitles, to_json, to_srt, to_vtt
from media.render import RenderOptions, VariantJob, render_variants
from media.translate import MACHINE, Glossary, Translation, TranslationError, Translator, translate_cues
from media.translate.files import read_translation
from warehouse.records import upsert_asset, upsert_caption, upsert_variant

SOURCE = "source"


@dataclass(frozen=True)
class VariantResult:
    variant_id: str
    language: str
    format: str
    status: str          # rendered | failed
    key: str | None
    error: str | None = None
    caption_origin: str | None = None
    publishable: bool = True


def translator_from_env(settings: Settings, env: dict[str, str] | None = None) -> Translator | None:
    """The machine translation provider the environment names, or None (translator files only, the default)."""
    env = dict(os.environ if env is None else env)
    name = env.get("CHORUS_TRANSLATOR", "").strip().lower()
    if name in ("", "none", "files"):
        return None
    if name == "deepl":
        from media.translate.deepl import DeepLTranslator

        key = env.get("CHORUS_DEEPL_AUTH_KEY") or env.get("DEEPL_AUTH_KEY", "")
        # DeepL's free keys end in ":fx" and only work on the free API host.
        url = settings.base_url("deepl") if "deepl" in settings.base_urls or not key.endswith(":fx") \
            else "https://api-free.deepl.com"
        return DeepLTranslator(key, url, timeout_s=settings.http_timeout_s)
    if name == "libretranslate":
        from media.translate.libretranslate import LibreTranslateTranslator

        return LibreTranslateTranslator(settings.base_url("libretranslate"), env.get("CHORUS_LIBRETRANSLATE_API_KEY") or None,
                                        timeout_s=settings.http_timeout_s)
    raise ChorusError(f"CHORUS_TRANSLATOR={name!r} is not a translation provider",
                      "use deepl, libretranslate, or leave it unset to use the translators' files only")


def source_cues(rt: Runtime, manifest: Manifest, asset: Asset) -> list[Cue]:
    key = f"{asset_prefix(manifest.id, asset.id)}/captions/{asset.language}.json"
    return from_json(rt.store.get_bytes(key).decode())


def _caption_row(rt: Runtime, manifest: Manifest, asset: Asset, language: str) -> dict | None:
    with rt.warehouse() as con:
        cur = con.execute("SELECT origin, reviewed, reviewed_by, json_key FROM captions "
                          "WHERE campaign_id = ? AND asset_id = ? AND language = ?", [manifest.id, asset.id, language])
        row = cur.fetchone()
    return dict(zip(("origin", "reviewed", "reviewed_by", "json_key"), row)) if row else None


def translate_language(rt: Runtime, manifest: Manifest, asset: Asset, language: str, source: list[Cue],
                       translator: Translator | None, glossary: Glossary) -> tuple[Translation, bool]:
    """The cues for one language and whether a person has reviewed them; stored and recorded in `captions`."""
    if language == asset.language:
        return Translation(language, tuple(source), SOURCE, "captions"), True
    prefix = f"{asset_prefix(manifest.id, asset.id)}/captions/{language}"
    if language in asset.translations:
        tr = read_translation(manifest.resolve(asset.translations[language]), language, source, glossary)
        reviewed, reviewed_by = True, "translator"
    else:
        row = _caption_row(rt, manifest, asset, language)
        if row and row["origin"] == MACHINE and row["json_key"] and rt.store.exists(row["json_key"]):
            # Translated before (and perhaps corrected by a reviewer): reuse it, so the review is never lost and
            # the provider is not paid twice for the same text.
            cues = from_json(rt.store.get_bytes(row["json_key"]).decode())
            issues = tuple(i.line for i in glossary.check(source, cues, language))
            tr = Translation(language, tuple(cues), MACHINE, "stored", issues)
            reviewed, reviewed_by = bool(row["reviewed"]), row["reviewed_by"]
        elif translator is not None:
            tr = translate_cues(source, translator, asset.language, language, glossary)
            reviewed, reviewed_by = False, None
        else:
            raise TranslationError(
                f"asset {asset.id!r} has no translation into {language}",
                f"add `translations: {{{language}: path/to/file.srt}}` to the asset, or set CHORUS_TRANSLATOR "
                "(deepl or libretranslate) to machine-translate it")
    cues = list(tr.cues)
    rt.store.put_bytes(f"{prefix}.srt", to_srt(cues).encode())
    rt.store.put_bytes(f"{prefix}.vtt", to_vtt(cues).encode())
    rt.store.put_bytes(f"{prefix}.json", to_json(cues, language=language, origin=tr.origin, provider=tr.provider).encode())
    with rt.warehouse() as con:
        upsert_caption(con, manifest.id, asset.id, language, origin=tr.origin, reviewed=reviewed, reviewed_by=reviewed_by,
                       srt_key=f"{prefix}.srt", vtt_key=f"{prefix}.vtt", json_key=f"{prefix}.json", cue_count=len(cues),
                       provider=tr.provider)
        con.execute("UPDATE captions SET glossary_issues = ? WHERE campaign_id = ? AND asset_id = ? AND language = ?",
                    ["\n".join(tr.glossary_issues) or None, manifest.id, asset.id, language])
    return tr, reviewed


def approve_translation(rt: Runtime, campaign_id: str, asset_id: str, language: str, reviewed_by: str,
                        corrected: Path | None = None) -> None:
    """A person approves a machine translation (optionally with a corrected SRT/VTT that replaces it).

    Without a correction the already rendered variants become publishable at once; with one, the next run renders
    them again from the corrected cues.
    """
    prefix = f"{asset_prefix(campaign_id, asset_id)}/captions/{language}"
    if corrected is not None:
        cues = read_subtitles(corrected)
        rt.store.put_bytes(f"{prefix}.srt", to_srt(cues).encode())
        rt.store.put_bytes(f"{prefix}.vtt", to_vtt(cues).encode())
        rt.store.put_bytes(f"{prefix}.json", to_json(cues, language=language, origin=MACHINE, provider="reviewed").encode())
    with rt.warehouse() as con:
        con.execute("UPDATE captions SET reviewed = true, reviewed_by = ? WHERE campaign_id = ? AND asset_id = ? "
                    "AND language = ?", [reviewed_by, campaign_id, asset_id, language])
        if corrected is None:
            con.execute("UPDATE variants SET publishable = true, hold_reason = NULL WHERE campaign_id = ? AND asset_id = ? "
                        "AND language = ? AND caption_origin = ?", [campaign_id, asset_id, language, MACHINE])
        else:
            con.execute("UPDATE variants SET publishable = false, hold_reason = ? WHERE campaign_id = ? AND asset_id = ? "
                        "AND language = ?", ["translation corrected in review: render again", campaign_id, asset_id, language])


def variant_key(manifest: Manifest, asset: Asset, spec: VariantSpec) -> str:
    fmt = spec.format
    return f"{asset_prefix(manifest.id, asset.id)}/variants/{spec.language}-{fmt.slug}-{fmt.width}x{fmt.height}.mp4"


def platforms_by_variant(manifest: Manifest) -> dict[tuple[str, str, int, int], tuple[Platform, ...]]:
    """Which platforms show each (language, format) variant: their safe zones and limits apply to it."""
    out: dict[tuple[str, str, int, int], set[Platform]] = {}
    for account in manifest.accounts:
        fmt = account_format(manifest, account)
        for lang in account.languages:
            out.setdefault((lang, fmt.name, fmt.width, fmt.height), set()).add(account.platform)
    return {k: tuple(sorted(v, key=lambda p: p.value)) for k, v in out.items()}


def render_asset_variants(rt: Runtime, manifest: Manifest, asset: Asset, master_key: str,
                          progress: Progress = no_progress, *, translator: Translator | None = None,
                          options: RenderOptions | None = None) -> list[VariantResult]:
    """Render every variant the accounts need; a failed variant is recorded with its reason and the others go on."""
    specs = variants_for(manifest, asset)
    options = options or RenderOptions.from_env()
    workers = rt.settings.render_workers
    if workers > 1 and len(specs) > 1:
        # More than one ffmpeg process: each decodes the master once and encodes its share of the variants.
        options = replace(options, workers=workers, outputs_per_process=math.ceil(len(specs) / workers))
    if translator is None:
        translator = translator_from_env(rt.settings)
    glossary = Glossary(manifest.glossary)
    platforms = platforms_by_variant(manifest)
    source = source_cues(rt, manifest, asset)
    failures: dict[str, str] = {}
    translations: dict[str, tuple[Translation, bool]] = {}
    for lang in sorted({s.language for s in specs}):
        progress(f"{asset.id}:translate {lang}", 0, 1)
        try:
            translations[lang] = translate_language(rt, manifest, asset, lang, source, translator, glossary)
        except ChorusError as err:
            failures[lang] = err.line
        progress(f"{asset.id}:translate {lang}", 1, 1)

    results: list[VariantResult] = []
    with rt.store.local_copy(master_key) as master, tempfile.TemporaryDirectory(prefix="chorus-render-") as tmp:
        jobs = []
        for spec in specs:
            if spec.language in failures:
                continue
            fmt = spec.format
            jobs.append(VariantJob(spec.id, spec.language, fmt, translations[spec.language][0].cues,
                                   Path(tmp) / f"{spec.language}-{fmt.slug}-{fmt.width}x{fmt.height}.mp4",
                                   platforms.get((spec.language, fmt.name, fmt.width, fmt.height), ())))
        labels = {j.key: f"{asset.id}:{j.language}:{j.fmt.slug} render {j.language} {j.fmt.name}" for j in jobs}

        def on_progress(key: str, fraction: float) -> None:
            progress(labels[key], int(fraction * 100), 100)
        outcomes = {o.job.key: o for o in render_variants(Path(master), jobs, options, on_progress)}

        for spec in specs:
            key = variant_key(manifest, asset, spec)
            tr, reviewed = translations.get(spec.language, (None, False))
            origin = tr.origin if tr else None
            held = bool(tr and tr.is_machine and manifest.review.translations and not reviewed)
            outcome = outcomes.get(spec.id)
            size = duration = None
            warnings = None
            if spec.language in failures:
                result = VariantResult(spec.id, spec.language, spec.format.name, "failed", None, failures[spec.language])
            elif outcome is None or outcome.result is None:
                result = VariantResult(spec.id, spec.language, spec.format.name, "failed", None,
                                       outcome.error if outcome else "not rendered", origin)
            else:
                try:
                    rt.store.put_file(key, outcome.result.path)
                    result = VariantResult(spec.id, spec.language, spec.format.name, "rendered", key, None, origin, not held)
                    size, duration = outcome.result.size_bytes, outcome.result.duration_s
                    warnings = "\n".join(outcome.result.warnings) or None
                except ChorusError as err:
                    result = VariantResult(spec.id, spec.language, spec.format.name, "failed", None, err.line, origin)
            with rt.warehouse() as con:
                upsert_variant(con, spec.id, campaign_id=manifest.id, asset_id=asset.id, language=spec.language,
                               format=spec.format.name, width=spec.format.width, height=spec.format.height,
                               status=result.status, key=result.key, error=result.error,
                               duration_s=duration, size_bytes=size)
                con.execute("UPDATE variants SET caption_origin = ?, publishable = ?, hold_reason = ?, warnings = ? "
                            "WHERE variant_id = ?",
                            [origin, result.status == "rendered" and not held,
                             "machine translation awaiting review (review.translations is on)" if held else None,
                             warnings, spec.id])
            results.append(result)
    progress(f"{asset.id} variants", len(specs), len(specs))
    if any(r.status == "rendered" for r in results):
        with rt.warehouse() as con:
            upsert_asset(con, manifest.id, asset.id, language=asset.language, status="rendered")
    return results
