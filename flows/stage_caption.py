"""Caption stage: timed cues in the asset's spoken language (a person's file, or speech recognition), written to the store as SRT, WebVTT and JSON and recorded."""
from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from campaign.errors import ChorusError
from campaign.manifest import Asset, Manifest
from campaign.platforms import FORMATS
from campaign.settings import Settings
from flows.runtime import Runtime, asset_prefix
from media.asr import AsrSettings, Transcript, transcribe, transcript_json
from media.captioning import CaptionRules, build_cues, check_cues, rules_for
from media.cues import Cue, Word, from_json, to_json, to_srt, to_vtt
from media.probe import probe
from media.review import validate_caption_file
from warehouse.records import upsert_asset, upsert_caption

# origin values in the warehouse `captions` table
AUTOMATIC = "automatic"   # speech recognition, not yet looked at by a person
FILE = "file"             # a caption file named in the manifest (made or checked by a person)
REVIEWED = "reviewed"     # a file imported with `chorus captions import` after review


@dataclass(frozen=True)
class CaptionResult:
    campaign_id: str
    asset_id: str
    language: str
    origin: str
    cue_count: int
    srt_key: str
    vtt_key: str | None = None
    json_key: str | None = None
    reviewed: bool = False
    detected_language: str | None = None
    language_probability: float | None = None
    provider: str | None = None
    warnings: tuple[str, ...] = field(default=())


def caption_keys(campaign_id: str, asset_id: str, language: str) -> dict[str, str]:
    prefix = f"{asset_prefix(campaign_id, asset_id)}/captions/{language}"
    return {"srt": f"{prefix}.srt", "vtt": f"{prefix}.vtt", "json": f"{prefix}.json",
            "transcript": f"{prefix}.transcript.json", "automatic": f"{prefix}.automatic.json", "reviewed": f"{prefix}.reviewed"}


def asr_settings_for(settings: Settings | AsrSettings | None) -> AsrSettings:
    if isinstance(settings, AsrSettings):
        return settings
    return AsrSettings.from_settings(settings or Settings.from_env())


def caption_rules(language: str | None = None) -> CaptionRules:
    """The master captions' rules: 42-character lines (fewer in CJK scripts); variants re-lay them per frame
    with media.captioning.reflow(cues, rules_for(language, format), ...)."""
    return rules_for(language)


@contextmanager
def _master(rt: Runtime, manifest: Manifest, asset: Asset) -> Iterator[Path]:
    """The asset's video: the master ingest stored (what a dropped-in file became), else the manifest's file."""
    key = None
    with rt.warehouse() as con:
        row = con.execute("SELECT source_key FROM assets WHERE campaign_id = ? AND asset_id = ?",
                          [manifest.id, asset.id]).fetchone()
        key = row[0] if row else None
    if key and rt.store.exists(key):
        with rt.store.local_copy(key) as path:
            yield Path(path)
    else:
        yield manifest.asset_path(asset)


def _write(rt: Runtime, keys: dict[str, str], cues: list[Cue], **meta: Any) -> None:
    rt.store.put_bytes(keys["srt"], to_srt(cues).encode("utf-8"))
    rt.store.put_bytes(keys["vtt"], to_vtt(cues).encode("utf-8"))
    rt.store.put_bytes(keys["json"], to_json(cues, **meta).encode("utf-8"))


def _existing_review(rt: Runtime, manifest: Manifest, asset: Asset, language: str) -> CaptionResult | None:
    """Captions a person imported for this asset and language: a later run keeps them instead of recognising again."""
    with rt.warehouse() as con:
        row = con.execute(
            "SELECT origin, reviewed, srt_key, vtt_key, json_key, cue_count, detected_language, language_probability, provider "
            "FROM captions WHERE campaign_id = ? AND asset_id = ? AND language = ?", [manifest.id, asset.id, language]).fetchone()
    if not row or row[0] != REVIEWED or not row[4] or not rt.store.exists(row[4]):
        return None
    return CaptionResult(manifest.id, asset.id, language, row[0], row[5] or 0, row[2], row[3], row[4], bool(row[1]),
                         row[6], row[7], row[8])


def caption_asset(rt: Runtime, manifest: Manifest, asset: Asset, *, asr: AsrSettings | None = None) -> CaptionResult:
    """Captions in the asset's spoken language, from (in order) an imported reviewed file, the manifest's caption
    file, or speech recognition. A bad video is recorded as failed with its reason and the error re-raised, so
    the caller goes on with the other assets."""
    lang = asset.language
    keys = caption_keys(manifest.id, asset.id, lang)
    kept = _existing_review(rt, manifest, asset, lang)
    if kept is not None:
        with rt.warehouse() as con:
            upsert_asset(con, manifest.id, asset.id, language=lang, status="captioned")
        return kept
    try:
        with _master(rt, manifest, asset) as video:
            if lang in asset.captions:
                result = _from_manifest_file(rt, manifest, asset, video, keys)
            else:
                result = _from_speech(rt, manifest, asset, video, keys, asr or asr_settings_for(rt.settings))
    except ChorusError as err:
        with rt.warehouse() as con:
            upsert_asset(con, manifest.id, asset.id, language=lang, status="failed", error=f"captions: {err.line}")
        raise
    with rt.warehouse() as con:
        upsert_caption(con, manifest.id, asset.id, lang, origin=result.origin, reviewed=result.reviewed,
                       reviewed_by="manifest" if result.origin == FILE else None,
                       srt_key=result.srt_key, vtt_key=result.vtt_key, json_key=result.json_key, cue_count=result.cue_count,
                       detected_language=result.detected_language, language_probability=result.language_probability,
                       provider=result.provider)
        upsert_asset(con, manifest.id, asset.id, language=lang, status="captioned")
    return result


def _from_manifest_file(rt: Runtime, manifest: Manifest, asset: Asset, video: Path, keys: dict[str, str]) -> CaptionResult:
    lang = asset.language
    info = probe(video)
    checked = validate_caption_file(manifest.resolve(asset.captions[lang]), video_duration=info.duration_s,
                                    rules=caption_rules(lang), language=lang)
    cues = list(checked.cues)
    _write(rt, keys, cues, language=lang, origin=FILE, reviewed=True)
    return CaptionResult(manifest.id, asset.id, lang, FILE, len(cues), keys["srt"], keys["vtt"], keys["json"], True,
                         provider="manifest", warnings=tuple(str(w) for w in checked.warnings))


def campaign_vocabulary(manifest: Manifest, asset: Asset) -> str | None:
    """Words the asset's speech is likely to use, in its language: the asset title, the post text written for
    that language, organisation names and glossary terms. Whisper takes them as preceding context."""
    from campaign.platforms import Platform

    parts: list[str] = [asset.title]
    post = manifest.posts.get(asset.language, {})
    for text in [post.get("default")] + [post.get(p.value) for p in Platform]:
        if text is not None:
            parts.extend((text.title, text.description))
    names = [o.name for o in manifest.organisations]
    terms = sorted({term for per_lang in manifest.glossary.values() for term in (per_lang or {})})
    parts.append(", ".join(names + terms))
    seen: list[str] = []
    for part in parts:
        part = part.strip()
        if part and part.rstrip(".!?") not in {s.rstrip(".!?") for s in seen}:
            seen.append(part if part[-1] in ".!?" else part + ".")
    return " ".join(seen)[:600] or None


def _from_speech(rt: Runtime, manifest: Manifest, asset: Asset, video: Path, keys: dict[str, str],
                 asr: AsrSettings) -> CaptionResult:
    lang = asset.language
    transcript = transcribe(video, lang, asr, vocabulary=campaign_vocabulary(manifest, asset))
    rules = caption_rules(lang)
    cues = build_cues(transcript.words, rules, video_duration=transcript.duration_s, language=lang)
    # Speech faster than people read cannot always be given full reading time: say which cues, for the reviewer.
    readability = [str(i) for i in check_cues(cues, rules, video_duration=transcript.duration_s, language=lang)]
    rt.store.put_bytes(keys["transcript"], transcript_json(transcript).encode("utf-8"))
    _write(rt, keys, cues, language=lang, origin=AUTOMATIC, reviewed=False, provider=transcript.provider,
           detected_language=transcript.detected_language, language_probability=transcript.language_probability)
    return CaptionResult(manifest.id, asset.id, lang, AUTOMATIC, len(cues), keys["srt"], keys["vtt"], keys["json"], False,
                         transcript.detected_language, transcript.language_probability, transcript.provider,
                         transcript.warnings + tuple(readability))


def _transcript_words(rt: Runtime, keys: dict[str, str]) -> list[Word]:
    if not rt.store.exists(keys["transcript"]):
        return []
    doc = json.loads(rt.store.get_bytes(keys["transcript"]).decode("utf-8"))
    return [Word(**w) for s in doc.get("sentences", []) for w in s.get("words", [])]


def import_reviewed_captions(rt: Runtime, manifest: Manifest, asset_id: str, language: str, path: str | Path, *,
                             reviewed_by: str | None = None) -> CaptionResult:
    """Validate a person's caption file for an asset and language and make it THE captions: it replaces the automatic
    ones (kept beside it as .automatic.json), is marked reviewed in the warehouse, and later runs keep it.
    Raises CaptionReviewError (a MediaError) naming each cue and rule when the file breaks one."""
    from campaign import languages

    try:
        asset = manifest.asset(asset_id)
    except KeyError:
        raise ChorusError(f"campaign {manifest.id!r} has no asset {asset_id!r}",
                          f"use one of: {', '.join(a.id for a in manifest.assets)}") from None
    try:
        lang = languages.normalise(language)
    except ValueError as err:
        raise ChorusError(str(err), "give the caption language as a BCP-47 tag, e.g. en, de, es") from None
    if lang not in manifest.languages:
        raise ChorusError(f"{lang!r} is not one of the campaign's languages {manifest.languages}",
                          "add it to `languages` in the manifest or pick one of those")
    path = Path(path)
    keys = caption_keys(manifest.id, asset.id, lang)
    with _master(rt, manifest, asset) as video:
        duration = probe(video).duration_s
    words = _transcript_words(rt, keys) if lang == asset.language else []
    checked = validate_caption_file(path, video_duration=duration, rules=caption_rules(lang), language=lang,
                                    words=words)
    cues = list(checked.cues)
    if rt.store.exists(keys["json"]) and not rt.store.exists(keys["automatic"]):
        previous = json.loads(rt.store.get_bytes(keys["json"]).decode("utf-8"))
        if previous.get("origin") == AUTOMATIC:
            rt.store.put_bytes(keys["automatic"], rt.store.get_bytes(keys["json"]))
    rt.store.put_file(f"{keys['reviewed']}.{checked.format}", path)
    _write(rt, keys, cues, language=lang, origin=REVIEWED, reviewed=True, reviewed_by=reviewed_by, source=path.name)
    with rt.warehouse() as con:
        upsert_caption(con, manifest.id, asset.id, lang, origin=REVIEWED, reviewed=True, reviewed_by=reviewed_by or "person",
                       srt_key=keys["srt"], vtt_key=keys["vtt"], json_key=keys["json"], cue_count=len(cues),
                       provider=f"reviewed file {path.name}")
    return CaptionResult(manifest.id, asset.id, lang, REVIEWED, len(cues), keys["srt"], keys["vtt"], keys["json"], True,
                         provider=f"reviewed file {path.name}", warnings=tuple(str(w) for w in checked.warnings))


def captions_reviewed(con: Any, campaign_id: str, asset_id: str, language: str | None = None) -> bool:
    """Whether a person has reviewed the asset's captions (in `language`, else in every language captioned so far).
    The publish stage holds an asset's posts while this is False and the manifest sets `review.captions: true`."""
    sql = "SELECT count(*), count(*) FILTER (WHERE reviewed) FROM captions WHERE campaign_id = ? AND asset_id = ?"
    params: list[Any] = [campaign_id, asset_id]
    if language is not None:
        sql += " AND language = ?"
        params.append(language)
    total, reviewed = con.execute(sql, params).fetchone()
    return total > 0 and total == reviewed


def caption_file(video: Path, language: str | None, out_dir: Path, settings: Settings | AsrSettings | None = None, *,
                 format: str | None = None) -> dict[str, Any]:
    """`chorus caption VIDEO --lang xx [--out DIR] [--format 9:16]`: recognise the speech and write
    VIDEO.xx.srt, .vtt and .json into out_dir; language None detects it. Returns what was written and found."""
    video = Path(video)
    if format is not None and format not in FORMATS:
        raise ChorusError(f"{format!r} is not a format", f"use one of: {', '.join(FORMATS)}")
    asr = asr_settings_for(settings)
    transcript: Transcript = transcribe(video, language, asr)
    lang = language or transcript.language
    rules = rules_for(lang, FORMATS[format] if format else None)
    cues = build_cues(transcript.words, rules, video_duration=transcript.duration_s, language=lang)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    base = out_dir / f"{video.stem}.{lang}"
    paths = {"srt": base.with_name(base.name + ".srt"), "vtt": base.with_name(base.name + ".vtt"),
             "json": base.with_name(base.name + ".json")}
    paths["srt"].write_text(to_srt(cues), encoding="utf-8")
    paths["vtt"].write_text(to_vtt(cues), encoding="utf-8")
    paths["json"].write_text(to_json(cues, language=lang, origin=AUTOMATIC, provider=transcript.provider,
                                     detected_language=transcript.detected_language,
                                     language_probability=transcript.language_probability), encoding="utf-8")
    return {"language": lang, "detected_language": transcript.detected_language,
            "language_probability": transcript.language_probability, "cue_count": len(cues),
            "duration_s": transcript.duration_s, "provider": transcript.provider,
            "warnings": list(transcript.warnings) + [str(i) for i in check_cues(cues, rules, video_duration=transcript.duration_s,
                                                                                   language=lang)],
            **{k: str(v) for k, v in paths.items()}}


def load_cues(rt: Runtime, manifest: Manifest, asset: Asset, language: str) -> list[Cue] | None:
    """The stored captions (reviewed or automatic) for an asset and language, or None when there are none."""
    key = caption_keys(manifest.id, asset.id, language)["json"]
    if not rt.store.exists(key):
        return None
    return from_json(rt.store.get_bytes(key).decode("utf-8"))
