"""The variants stage: translator files, machine translation held for review, glossary findings, a missing translation."""
from __future__ import annotations

import pytest
import yaml

from campaign.manifest import load_manifest
from campaign.settings import Settings
from flows.runtime import make_runtime
from flows.stage_caption import caption_asset
from flows.stage_ingest import ingest_asset, register_campaign
from flows.stage_variants import approve_translation, render_asset_variants, translator_from_env
from media.limits import inspect
from media.translate.deepl import DeepLTranslator
from media.translate.http import session
from tests.conftest import make_clip
from tests.media.fakes.translation_servers import FakeDeepL

SRT_EN = ("1\n00:00:00,100 --> 00:00:00,600\nYour vote is your voice.\n\n"
          "2\n00:00:00,700 --> 00:00:01,100\nRegister today with First Vote.\n")
SRT_DE = ("1\n00:00:00,100 --> 00:00:00,600\nDeine Stimme zählt.\n\n"
          "2\n00:00:00,700 --> 00:00:01,100\nMelde dich heute bei Erste Wahl an.\n")


@pytest.fixture
def campaign(tmp_path):
    root = tmp_path / "c"
    make_clip(root / "m.mp4", seconds=1.2, size="180x320")
    (root / "m.en.srt").write_text(SRT_EN, encoding="utf-8")
    (root / "m.de.srt").write_text(SRT_DE, encoding="utf-8")
    manifest = {
        "campaign": {"id": "stage", "name": "Stage test"},
        "organisations": [{"id": "ngo", "name": "NGO"}],
        "languages": ["en", "de", "es", "fr"],
        "countries": [{"code": "DE", "timezone": "Europe/Berlin", "languages": ["de", "en", "es", "fr"]}],
        "accounts": [{"id": "ngo-tiktok", "platform": "tiktok", "organisation": "ngo", "handle": "@ngo",
                      "countries": ["DE"], "languages": ["en", "de", "es", "fr"], "sandbox": True, "format": "1:1"}],
        "assets": [{"id": "m", "file": "m.mp4", "language": "en", "captions": {"en": "m.en.srt"},
                    "translations": {"de": "m.de.srt"}}],
        "schedule": {"start": "2026-01-01", "end": "2030-12-31", "slots": ["18:00"]},
        "review": {"translations": True},
        "glossary": {"*": {"First Vote": "First Vote"}},
    }
    (root / "campaign.yaml").write_text(yaml.safe_dump(manifest, allow_unicode=True), encoding="utf-8")
    return root / "campaign.yaml"


def test_variants_stage_translates_holds_machine_translations_and_goes_on_past_a_missing_one(chorus_home, campaign, monkeypatch):
    monkeypatch.setenv("CHORUS_RENDER_PRESET", "ultrafast")
    rt = make_runtime(Settings.from_env())
    manifest = load_manifest(campaign)
    asset = manifest.asset("m")
    register_campaign(rt, manifest)
    ingested = ingest_asset(rt, manifest, asset)
    caption_asset(rt, manifest, asset)

    seen: list[tuple[str, int, int]] = []
    with FakeDeepL() as fake:
        deepl = DeepLTranslator("test-key", fake.url, timeout_s=5, session=session(retries=2, backoff_s=0.01))
        fake.state.faults = [(429, {"Retry-After": "0"})]
        results = render_asset_variants(rt, manifest, asset, ingested.master_key,
                                        lambda label, done, total: seen.append((label, done, total)), translator=deepl)
        # Only es and fr went to the provider (en is the source, de has a translator file).
        targets = sorted({r["body"]["target_lang"] for r in fake.state.requests if r["body"]})
    assert targets == ["ES", "FR"]
    by_lang = {r.language: r for r in results}
    assert {lang: r.status for lang, r in by_lang.items()} == {"en": "rendered", "de": "rendered", "es": "rendered",
                                                                "fr": "rendered"}
    assert by_lang["es"].caption_origin == "machine-translation" and not by_lang["es"].publishable
    assert by_lang["de"].caption_origin == "translator-file" and by_lang["de"].publishable
    with rt.store.local_copy(by_lang["es"].key) as path:
        facts = inspect(path)
    assert (facts.width, facts.height) == (1080, 1080) and facts.moov_first
    # A progress bar per render: each variant reports its own label up to 100 %.
    finished = {label.split(" ")[0] for label, done, total in seen if total == 100 and done == 100}
    assert {"m:en:1x1", "m:de:1x1", "m:es:1x1", "m:fr:1x1"} <= finished

    with rt.warehouse() as con:
        captions = {row[0]: row[1:] for row in con.execute(
            "SELECT language, origin, reviewed, glossary_issues FROM captions WHERE asset_id = 'm'").fetchall()}
        variants = {row[0]: row[1:] for row in con.execute(
            "SELECT language, status, publishable, hold_reason, caption_origin FROM variants").fetchall()}
    assert captions["es"][:2] == ("machine-translation", False)
    assert captions["de"][0] == "translator-file" and "First Vote" in captions["de"][2]   # the translator missed it
    assert captions["es"][2] is None                                                      # kept through DeepL
    assert variants["es"][1] is False and "review" in variants["es"][2]

    approve_translation(rt, "stage", "m", "es", "maria")
    with rt.warehouse() as con:
        assert con.execute("SELECT publishable FROM variants WHERE language = 'es'").fetchone()[0] is True
        assert con.execute("SELECT reviewed, reviewed_by FROM captions WHERE language = 'es'").fetchone() == (True, "maria")


def test_a_language_without_translation_fails_alone_with_its_fix(chorus_home, campaign, monkeypatch):
    monkeypatch.setenv("CHORUS_RENDER_PRESET", "ultrafast")
    monkeypatch.delenv("CHORUS_TRANSLATOR", raising=False)
    rt = make_runtime(Settings.from_env())
    manifest = load_manifest(campaign)
    asset = manifest.asset("m")
    register_campaign(rt, manifest)
    ingested = ingest_asset(rt, manifest, asset)
    caption_asset(rt, manifest, asset)
    results = {r.language: r for r in render_asset_variants(rt, manifest, asset, ingested.master_key)}
    assert results["en"].status == "rendered" and results["de"].status == "rendered"
    for lang in ("es", "fr"):
        assert results[lang].status == "failed"
        assert f"no translation into {lang}" in results[lang].error and "CHORUS_TRANSLATOR" in results[lang].error


def test_translator_setting_names_a_provider_or_fails_clearly():
    settings = Settings.from_env({"CHORUS_HOME": "/tmp/x"})
    assert translator_from_env(settings, {}) is None
    assert translator_from_env(settings, {"CHORUS_TRANSLATOR": "libretranslate"}).name == "libretranslate"
    assert translator_from_env(settings, {"CHORUS_TRANSLATOR": "deepl", "CHORUS_DEEPL_AUTH_KEY": "k"}).base_url == \
        "https://api.deepl.com"
    assert translator_from_env(settings, {"CHORUS_TRANSLATOR": "deepl", "CHORUS_DEEPL_AUTH_KEY": "k:fx"}).base_url == \
        "https://api-free.deepl.com"
    with pytest.raises(Exception, match="not a translation provider"):
        translator_from_env(settings, {"CHORUS_TRANSLATOR": "babelfish"})
