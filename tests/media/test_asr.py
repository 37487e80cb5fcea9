"""Speech recognition: the tiny random model exercises loading and transcription in seconds; the pinned offline model
transcribes committed espeak-ng speech; bad input gets one clear error each."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg
import jiwer
import pytest

from campaign.errors import MediaError
from media import asr
from media.asr import AsrSettings, transcribe, whisper_language
from media.models import bundled_model_dir, load_pin, verify_folder

DATA = Path(__file__).parent / "data"
TINY = DATA / "tiny-whisper"
SPEECH = DATA / "speech"
# The random model says nothing useful; these settings keep its output short so the test takes a second.
TINY_SETTINGS = AsrSettings(model=str(TINY), beam_size=1, temperatures=(0.0,), max_new_tokens=12, check_language=False,
                            retry_compute_type=None)


def ffmpeg(*args: str) -> None:
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def bad_videos(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("caption-bad-input")
    out = {"no_audio": d / "no-audio.mp4", "silent": d / "silent.mp4", "corrupt": d / "corrupt.mp4"}
    ffmpeg("-f", "lavfi", "-i", "color=black:s=64x64:r=5:d=2", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(out["no_audio"]))
    ffmpeg("-f", "lavfi", "-i", "color=black:s=64x64:r=5:d=2", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono",
           "-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(out["silent"]))
    out["corrupt"].write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    return out


# --- the tiny model: the code path, fast -----------------------------------------------------------------------

def test_tiny_model_transcribes_with_words_inside_the_video():
    t = transcribe(SPEECH / "speech-en.mp4", "en", TINY_SETTINGS)
    assert t.language == "en" and t.provider.startswith("faster-whisper") and "tiny-whisper int8/cpu" in t.provider
    words = t.words
    assert words, "the random model always emits some tokens"
    for a, b in zip(words, words[1:]):
        assert a.start <= b.start
    assert all(0 <= w.start <= w.end <= t.duration_s for w in words)
    assert all(w.text == w.text.strip() and w.text for w in words)


def test_tiny_model_detects_a_language_with_a_probability():
    t = transcribe(SPEECH / "speech-en.mp4", None, TINY_SETTINGS)
    assert t.detected_language == t.language and t.language in asr.supported_languages()
    assert 0.0 < t.language_probability <= 1.0


def test_a_collapsed_int8_decode_is_recognised_again_at_full_precision():
    # The random model's every token is a guess (log-probability far below -1), the signature of a failed decode.
    from dataclasses import replace

    t = transcribe(SPEECH / "speech-en.mp4", "en", replace(TINY_SETTINGS, retry_compute_type="float32"))
    assert t.provider.endswith("float32/cpu")
    assert any("recognised again at float32" in w for w in t.warnings)


def test_settings_come_from_the_campaign_settings(monkeypatch):
    from campaign.settings import Settings

    monkeypatch.setenv("CHORUS_ASR_COMPUTE_TYPE", "float32")
    s = AsrSettings.from_settings(Settings.from_env({"CHORUS_ASR_MODEL": "/models/small", "CHORUS_ASR_DEVICE": "cpu"}))
    assert (s.model, s.device, s.compute_type, s.word_timestamps, s.vad) == ("/models/small", "cpu", "float32", True, True)


def test_a_regional_tag_is_recognised_as_its_language():
    assert whisper_language("pt-BR") == "pt" and whisper_language("EN-gb") == "en"


def test_an_unsupported_language_gets_one_clear_error():
    with pytest.raises(MediaError, match="does not support the language 'tlh'.*supply a caption file"):
        transcribe(SPEECH / "speech-en.mp4", "tlh", TINY_SETTINGS)


def test_no_audio_track_gets_one_clear_error(bad_videos):
    with pytest.raises(MediaError, match="no audio track"):
        transcribe(bad_videos["no_audio"], "en", TINY_SETTINGS)


def test_a_silent_video_gets_one_clear_error(bad_videos):
    with pytest.raises(MediaError, match="no speech found in silent.mp4"):
        transcribe(bad_videos["silent"], "en", TINY_SETTINGS)


def test_a_corrupt_file_gets_one_clear_error(bad_videos):
    with pytest.raises(MediaError, match="corrupt.mp4"):
        transcribe(bad_videos["corrupt"], "en", TINY_SETTINGS)


def test_a_model_folder_is_checked_against_its_sha256sums(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(TINY, folder)
    sums = "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n" for p in sorted(folder.iterdir()))
    (folder / "SHA256SUMS").write_text(sums)
    settings = AsrSettings(model=str(folder))
    assert asr.resolve_model(settings) == (str(folder), "model")
    (folder / "config.json").write_text((folder / "config.json").read_text().replace('"lang_ids"', ' "lang_ids"'))
    with pytest.raises(MediaError, match="config.json does not match its sha256"):
        asr.resolve_model(settings)


def test_a_model_folder_without_tokenizer_json_is_refused_before_faster_whisper_goes_to_the_hub(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(TINY, folder)
    (folder / "tokenizer.json").unlink()
    with pytest.raises(MediaError, match="no tokenizer.json"):
        asr.resolve_model(AsrSettings(model=str(folder)))


def test_an_unknown_model_name_lists_what_is_allowed():
    with pytest.raises(MediaError, match="unknown speech model 'huge'.*large-v3"):
        asr.resolve_model(AsrSettings(model="huge"))


def test_a_split_model_is_assembled_once_and_verified_on_every_load(tmp_path, monkeypatch):
    # A pin over a throwaway package holding a file in two parts, like the bundled model's packages.
    pkg = tmp_path / "src" / "fake_model_parts"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    whole = bytes(range(256)) * 100
    (pkg / "data" / "model.bin.part1").write_bytes(whole[:10000])
    (pkg / "data" / "model.bin.part2").write_bytes(whole[10000:])
    sha = lambda b: hashlib.sha256(b).hexdigest()  # noqa: E731
    pin_doc = {"name": "fake", "description": "", "licence": "MIT", "extra": "asr-model", "packages": [],
               "files": {"model.bin": {"sha256": sha(whole), "parts": [
                   {"module": "fake_model_parts", "path": "data/model.bin.part1", "sha256": sha(whole[:10000])},
                   {"module": "fake_model_parts", "path": "data/model.bin.part2", "sha256": sha(whole[10000:])}]}}}
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    pin = load_pin(json.dumps(pin_doc))
    folder = bundled_model_dir(tmp_path / "cache", pin=pin)
    assert (folder / "model.bin").read_bytes() == whole
    assert folder.name == f"fake-{sha(whole)[:12]}"
    (folder / "model.bin").write_bytes(whole[:-1] + b"X")  # the cached copy is damaged later
    with pytest.raises(MediaError, match="model.bin has sha256 .* expected"):
        bundled_model_dir(tmp_path / "cache", pin=pin)
    shutil.rmtree(folder)
    (pkg / "data" / "model.bin.part2").write_bytes(whole[10000:-1] + b"X")  # a tampered package
    with pytest.raises(MediaError, match="does not match its pinned sha256"):
        bundled_model_dir(tmp_path / "cache", pin=pin)
    assert not folder.exists()
    sys.modules.pop("fake_model_parts", None)


# --- the pinned offline model on real (synthesised) speech --------------------------------------------------------

def _norm(text: str) -> list[str]:
    return jiwer.RemovePunctuation()(text.lower()).split()


@pytest.fixture(scope="module")
def bundled() -> AsrSettings:
    pin = load_pin()
    folder = bundled_model_dir()
    verify_folder(folder, pin)
    return AsrSettings(model="bundled")


def test_the_bundled_model_is_pinned_multilingual_and_verified(bundled):
    pin = load_pin()
    assert pin.packages and all(version for _, version, _ in pin.packages)
    model, provider = asr.load_model(bundled)
    assert model.model.is_multilingual
    assert "whisper-base" in provider


def test_english_speech_gives_the_words_each_inside_its_sentence(bundled):
    truth = json.loads((SPEECH / "speech-en.json").read_text())
    t = transcribe(SPEECH / "speech-en.mp4", "en", bundled)
    reference = " ".join(s["text"] for s in truth["sentences"])
    assert jiwer.wer(" ".join(_norm(reference)), " ".join(_norm(t.text))) <= 0.2
    # Align the recognised words with the script; every matched word must lie inside its sentence's audio.
    ref_words, ref_sentence = [], []
    for k, s in enumerate(truth["sentences"]):
        for w in _norm(s["text"]):
            ref_words.append(w)
            ref_sentence.append(k)
    hyp = list(t.words)
    hyp_norm = [" ".join(_norm(w.text)) for w in hyp]
    import difflib

    matcher = difflib.SequenceMatcher(a=ref_words, b=hyp_norm, autojunk=False)
    matched = 0
    for block in matcher.get_matching_blocks():
        for off in range(block.size):
            span = truth["sentences"][ref_sentence[block.a + off]]
            word = hyp[block.b + off]
            assert span["start"] - 0.15 <= word.start and word.end <= span["end"] + 0.15, (word, span)
            matched += 1
    assert matched >= 0.8 * len(ref_words)
    assert t.language_probability is not None and t.detected_language == "en"


def test_german_speech_is_detected_as_german(bundled):
    t = transcribe(SPEECH / "speech-de.mp4", None, bundled)
    assert t.detected_language == "de" and t.language == "de" and t.language_probability > 0.5
    assert "stimme" in _norm(t.text)


def test_a_wrong_language_in_the_manifest_is_flagged(bundled):
    t = transcribe(SPEECH / "speech-en.mp4", "de", bundled)
    assert t.detected_language == "en"
    assert any("sounds like 'en'" in w for w in t.warnings)
