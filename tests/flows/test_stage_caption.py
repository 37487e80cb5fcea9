"""The caption stage: speech-driven captions, a person's file replacing them, reviewed state in the warehouse, bad input."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from campaign.errors import MediaError
from campaign.manifest import load_manifest
from campaign.settings import Settings
from flows.runtime import make_runtime
from flows.stage_caption import (AUTOMATIC, REVIEWED, campaign_vocabulary, caption_asset, caption_file, captions_reviewed,
                                 import_reviewed_captions, load_cues)
from flows.stage_ingest import ingest_asset, register_campaign
from media.asr import AsrSettings
from media.cues import parse_subtitles
from media.review import CaptionReviewError
from tests.conftest import make_clip

MEDIA_DATA = Path(__file__).resolve().parents[1] / "media" / "data"
SPEECH = MEDIA_DATA / "speech"
TINY = AsrSettings(model=str(MEDIA_DATA / "tiny-whisper"), beam_size=1, temperatures=(0.0,), max_new_tokens=12, retry_compute_type=None,
                   check_language=False)
BUNDLED = AsrSettings(model="bundled")


def campaign(root: Path, *, captions: dict | None = None, extra_assets: list | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(SPEECH / "speech-en.mp4", root / "speech.mp4")
    asset = {"id": "speech", "file": "speech.mp4", "language": "en"}
    if captions:
        asset["captions"] = captions
    manifest = {
        "campaign": {"id": "cap", "name": "Caption test"},
        "organisations": [{"id": "ngo", "name": "NGO"}],
        "languages": ["en", "de"],
        "countries": [{"code": "IE", "timezone": "Europe/Dublin", "languages": ["en"]}],
        "accounts": [{"id": "ngo-yt", "platform": "youtube", "organisation": "ngo", "handle": "@ngo",
                      "countries": ["IE"], "languages": ["en"], "sandbox": True}],
        "assets": [asset, *(extra_assets or [])],
        "schedule": {"start": "2026-01-01", "end": "2030-12-31", "slots": ["18:00"]},
        "review": {"captions": True},
        "posts": {"en": {"default": {"title": "Your vote is your voice", "description": "Register today."}},
                  "de": {"default": {"title": "Deine Stimme zählt"}}},
        "glossary": {"de": {"First Vote": "First Vote"}},
    }
    path = root / "campaign.yaml"
    path.write_text(yaml.safe_dump(manifest, allow_unicode=True), encoding="utf-8")
    return path


def setup(chorus_home, tmp_path, **kw):
    rt = make_runtime(Settings.from_env())
    manifest = load_manifest(campaign(tmp_path / "campaign", **kw))
    register_campaign(rt, manifest)
    for asset in manifest.assets:
        try:
            ingest_asset(rt, manifest, asset)
        except MediaError:
            pass
    return rt, manifest


def caption_row(rt, asset_id="speech", language="en"):
    with rt.warehouse() as con:
        cur = con.execute("SELECT * FROM captions WHERE campaign_id = 'cap' AND asset_id = ? AND language = ?", [asset_id, language])
        cols = [d[0] for d in cur.description]
        row = cur.fetchone()
    return dict(zip(cols, row)) if row else None


def test_speech_is_captioned_when_no_file_is_supplied(chorus_home, tmp_path):
    rt, manifest = setup(chorus_home, tmp_path)
    result = caption_asset(rt, manifest, manifest.asset("speech"), asr=BUNDLED)
    assert result.origin == AUTOMATIC and not result.reviewed
    srt = rt.store.get_bytes(result.srt_key).decode()
    assert "vote" in srt.lower() and "voice" in srt.lower()
    assert parse_subtitles(rt.store.get_bytes(result.vtt_key).decode()) == parse_subtitles(srt)
    cues = load_cues(rt, manifest, manifest.asset("speech"), "en")
    assert cues and all(c.words for c in cues)  # word timings kept for highlighting
    row = caption_row(rt)
    assert row["origin"] == "automatic" and row["reviewed"] is False and row["cue_count"] == len(cues)
    assert row["detected_language"] == "en" and 0.5 < row["language_probability"] <= 1.0
    assert "whisper-base" in row["provider"]
    with rt.warehouse() as con:
        assert captions_reviewed(con, "cap", "speech") is False
        assert con.execute("SELECT status FROM assets WHERE asset_id = 'speech'").fetchone()[0] == "captioned"


def test_a_reviewed_file_replaces_the_automatic_captions_and_is_kept_on_later_runs(chorus_home, tmp_path):
    rt, manifest = setup(chorus_home, tmp_path)
    asset = manifest.asset("speech")
    automatic = caption_asset(rt, manifest, asset, asr=TINY)
    reviewed = tmp_path / "speech.en.srt"
    reviewed.write_text("1\n00:00:00,500 --> 00:00:02,200\nYour vote is your voice.\n\n"
                        "2\n00:00:03,200 --> 00:00:06,800\nRegister today,\nand make sure your voice is heard.\n", encoding="utf-8")
    result = import_reviewed_captions(rt, manifest, "speech", "en", reviewed, reviewed_by="comms officer")
    assert result.origin == REVIEWED and result.reviewed and result.cue_count == 2
    assert [c.text for c in load_cues(rt, manifest, asset, "en")][0] == "Your vote is your voice."
    assert rt.store.exists(automatic.json_key.replace(".json", ".automatic.json"))  # the automatic version is kept
    row = caption_row(rt)
    assert row["origin"] == "reviewed" and row["reviewed"] is True and row["reviewed_by"] == "comms officer"
    with rt.warehouse() as con:
        assert captions_reviewed(con, "cap", "speech") is True
    # A later run keeps the person's captions: recognising again would fail with this model setting.
    again = caption_asset(rt, manifest, asset, asr=AsrSettings(model=str(tmp_path / "no-such-model")))
    assert again.origin == REVIEWED and again.cue_count == 2


def test_a_bad_reviewed_file_is_refused_and_the_captions_stay_as_they_were(chorus_home, tmp_path):
    rt, manifest = setup(chorus_home, tmp_path)
    caption_asset(rt, manifest, manifest.asset("speech"), asr=TINY)
    bad = tmp_path / "speech.en.srt"
    bad.write_text("1\n00:00:00,500 --> 00:00:03,000\nYour vote\n\n2\n00:00:02,000 --> 00:00:30,000\nis your voice\n", encoding="utf-8")
    with pytest.raises(CaptionReviewError) as err:
        import_reviewed_captions(rt, manifest, "speech", "en", bad)
    text = err.value.line
    assert "cue 2: no overlap" in text and "cue 2: inside video" in text
    assert caption_row(rt)["origin"] == "automatic"


def test_a_caption_file_in_the_manifest_is_used_instead_of_speech(chorus_home, tmp_path):
    root = tmp_path / "campaign"
    root.mkdir()
    (root / "speech.en.vtt").write_text("WEBVTT\n\n00:00.500 --> 00:02.000\nYour vote is your voice.\n", encoding="utf-8")
    rt, manifest = setup(chorus_home, tmp_path, captions={"en": "speech.en.vtt"})
    result = caption_asset(rt, manifest, manifest.asset("speech"), asr=AsrSettings(model=str(tmp_path / "unused")))
    assert result.origin == "file" and result.reviewed and result.cue_count == 1
    assert caption_row(rt)["reviewed"] is True


def test_a_video_without_sound_fails_alone_with_one_clear_reason(chorus_home, tmp_path):
    root = tmp_path / "campaign"
    make_clip(root / "mute.mp4", seconds=1.0, size="64x64", audio=False)
    rt, manifest = setup(chorus_home, tmp_path, extra_assets=[{"id": "mute", "file": "mute.mp4", "language": "en"}])
    with pytest.raises(MediaError, match="no audio track"):
        caption_asset(rt, manifest, manifest.asset("mute"), asr=TINY)
    with rt.warehouse() as con:
        status, error = con.execute("SELECT status, error FROM assets WHERE asset_id = 'mute'").fetchone()
    assert status == "failed" and "no audio track" in error
    # the other asset goes on
    assert caption_asset(rt, manifest, manifest.asset("speech"), asr=TINY).cue_count >= 1


def test_caption_file_writes_srt_vtt_and_json(tmp_path):
    out = caption_file(SPEECH / "speech-de.mp4", None, tmp_path / "out", BUNDLED, format="9:16")
    assert out["language"] == "de" and out["detected_language"] == "de" and out["cue_count"] >= 1
    for kind in ("srt", "vtt", "json"):
        assert Path(out[kind]).is_file() and Path(out[kind]).name == f"speech-de.de.{kind}"
    doc = json.loads(Path(out["json"]).read_text(encoding="utf-8"))
    assert doc["language"] == "de" and doc["cues"][0]["words"]
    assert all(len(line) <= 32 for c in parse_subtitles(Path(out["srt"]).read_text(encoding="utf-8")) for line in c.text.split("\n"))


def test_the_campaign_vocabulary_is_in_the_spoken_language(tmp_path):
    manifest = load_manifest(campaign(tmp_path / "campaign"))
    vocabulary = campaign_vocabulary(manifest, manifest.asset("speech"))
    assert vocabulary == "Your vote is your voice. Register today. NGO, First Vote."
    assert "Stimme" not in vocabulary  # the German post text would steer English speech the wrong way
