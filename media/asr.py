"""Speech recognition with faster-whisper: loading the configured model (verified), decoding a video's audio, words with timings and the spoken language."""
from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from campaign import languages
from campaign.errors import MediaError
from media.cues import Word
from media.models import bundled_model_dir, load_pin, sha256_file
from media.probe import probe

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
# Names faster-whisper resolves on the model hub (production); offline, only "bundled" or a folder works.
HUB_MODEL_NAMES = ("tiny", "tiny.en", "base", "base.en", "small", "small.en", "distil-small.en", "medium", "medium.en",
                   "distil-medium.en", "large-v1", "large-v2", "large-v3", "large", "distil-large-v2", "distil-large-v3",
                   "large-v3-turbo", "turbo")
# Below this RMS level (about -60 dBFS) the whole track is treated as silence.
_SILENCE_RMS = 1e-3


@dataclass(frozen=True)
class AsrSettings:
    """How speech is recognised. `model`: "bundled" (the pinned offline model), a faster-whisper name, or a folder."""

    model: str = "bundled"
    device: str = "auto"                 # auto | cpu | cuda
    compute_type: str | None = None      # default: int8 on CPU, float16 on a GPU
    cpu_threads: int = 0                 # 0: CTranslate2 decides (one per core)
    beam_size: int = 5
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    vad: bool = True
    word_timestamps: bool = True
    max_new_tokens: int | None = None
    cache_dir: Path | None = None        # where the bundled model is assembled; default: user cache
    check_language: bool = True          # when the language is given, also detect it and warn on a mismatch
    retry_compute_type: str | None = "float32"  # decode again at this precision when int8 decoding collapses

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> "AsrSettings":
        """From campaign.settings.Settings (asr_model, asr_device) plus explicit overrides."""
        base = {"model": getattr(settings, "asr_model", "bundled") or "bundled",
                "device": getattr(settings, "asr_device", "auto") or "auto",
                "compute_type": getattr(settings, "asr_compute_type", None) or os.environ.get("CHORUS_ASR_COMPUTE_TYPE") or None}
        return cls(**{**base, **overrides})


@dataclass(frozen=True)
class Sentence:
    """One recognised segment (usually a sentence) with its words."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...]


@dataclass(frozen=True)
class Transcript:
    language: str                         # base language code the speech was decoded as ("en")
    language_probability: float | None    # how sure detection was; None when the language was given and not checked
    detected_language: str | None         # what detection said (may differ from `language` when given)
    duration_s: float
    sentences: tuple[Sentence, ...]
    provider: str                         # e.g. "faster-whisper 1.2.1 whisper-base int8/cpu"
    warnings: tuple[str, ...] = field(default=())

    @property
    def words(self) -> tuple[Word, ...]:
        return tuple(w for s in self.sentences for w in s.words)

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences).strip()


def supported_languages() -> frozenset[str]:
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return frozenset(_LANGUAGE_CODES)


def whisper_language(tag: str) -> str:
    """The Whisper code for a BCP-47 tag ('pt-BR' -> 'pt'); one clear error when Whisper cannot recognise it."""
    try:
        base = languages.base_language(languages.normalise(tag))
    except ValueError as err:
        raise MediaError(str(err), "use a BCP-47 tag such as en, de, es") from None
    # Whisper knows Javanese by its old code.
    base = {"jv": "jw"}.get(base, base)
    if base not in supported_languages():
        raise MediaError(f"speech recognition does not support the language {tag!r}",
                         "supply a caption file for this asset and language in the manifest (assets[].captions)")
    return base


# --- model loading -------------------------------------------------------------------------------------------

_MODELS: dict[tuple, Any] = {}
_LOCK = threading.RLock()  # reentrant: a failed GPU load falls back to the CPU inside it


def _resolve_device(device: str) -> str:
    if device not in ("auto", "cpu", "cuda"):
        raise MediaError(f"unknown speech device {device!r}", "set CHORUS_ASR_DEVICE to auto, cpu or cuda")
    if device != "auto":
        return device
    try:
        import ctranslate2

        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    except Exception:  # a CPU-only build may raise instead of returning 0
        return "cpu"


def _verify_local_folder(folder: Path) -> None:
    """A folder may carry SHA256SUMS (sha256sum format); when it does, every listed file must match."""
    sums = folder / "SHA256SUMS"
    if not sums.is_file():
        return
    for line in sums.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        digest, name = line.split(maxsplit=1)
        name = name.lstrip("*")
        if sha256_file(folder / name) != digest.lower():
            raise MediaError(f"the speech model file {folder / name} does not match its sha256 in SHA256SUMS",
                             "copy the model folder again or fix SHA256SUMS")


def resolve_model(settings: AsrSettings) -> tuple[str, str]:
    """(what to hand faster-whisper, a short label for records) for the model setting."""
    spec = settings.model.strip()
    if spec in ("", "bundled"):
        pin = load_pin()
        return str(bundled_model_dir(settings.cache_dir, pin=pin)), pin.name
    path = Path(spec).expanduser()
    if path.exists() or os.sep in spec or spec.startswith("."):
        if not (path / "model.bin").is_file():
            raise MediaError(f"speech model folder {path} has no model.bin",
                             "point CHORUS_ASR_MODEL at a CTranslate2 Whisper folder (model.bin, config.json, tokenizer.json)")
        if not (path / "tokenizer.json").is_file():
            # faster-whisper would otherwise fetch the tokenizer from the hub, which may be unreachable.
            raise MediaError(f"speech model folder {path} has no tokenizer.json",
                             "copy tokenizer.json from the model's original repository into the folder")
        _verify_local_folder(path)
        return str(path), path.name
    if spec not in HUB_MODEL_NAMES and "/" not in spec:
        raise MediaError(f"unknown speech model {spec!r}",
                         f"use bundled, a folder, or one of: {', '.join(HUB_MODEL_NAMES)}")
    return spec, spec


def load_model(settings: AsrSettings) -> tuple[Any, str]:
    """The faster-whisper model for these settings (cached per process) and a provider label."""
    from faster_whisper import WhisperModel
    import faster_whisper

    target, label = resolve_model(settings)
    device = _resolve_device(settings.device)
    compute = settings.compute_type or ("int8" if device == "cpu" else "float16")
    key = (target, device, compute, settings.cpu_threads)
    with _LOCK:
        if key not in _MODELS:
            try:
                _MODELS[key] = WhisperModel(target, device=device, compute_type=compute, cpu_threads=settings.cpu_threads,
                                            local_files_only=Path(target).is_dir())
            except Exception as err:
                if settings.device == "auto" and device == "cuda":
                    # A GPU that CTranslate2 sees but cannot use (driver or cuDNN missing): the CPU still works.
                    log.warning("speech model could not use the GPU (%s); using the CPU", str(err)[:160])
                    return load_model(replace(settings, device="cpu"))
                where = "the model hub may be unreachable; " if not Path(target).is_dir() else ""
                raise MediaError(f"could not load the speech model {label!r} on {device} ({type(err).__name__}: {str(err)[:160]})",
                                 f"{where}set CHORUS_ASR_MODEL=bundled or to a local CTranslate2 model folder") from None
    return _MODELS[key], f"faster-whisper {faster_whisper.__version__} {label} {compute}/{device}"


# --- audio ---------------------------------------------------------------------------------------------------

def load_audio(video: Path) -> tuple[np.ndarray, float]:
    """The video's speech track as 16 kHz mono float32, and the video's duration; one clear error per bad input."""
    info = probe(video)
    if not info.has_audio:
        raise MediaError(f"{video.name} has no audio track, so there is no speech to caption",
                         "re-export the video with its sound, or supply a caption file for its language")
    from faster_whisper.audio import decode_audio

    try:
        audio = decode_audio(str(video), sampling_rate=SAMPLE_RATE)
    except Exception as err:
        raise MediaError(f"the audio of {video.name} cannot be decoded ({type(err).__name__})",
                         "re-export the video as MP4 with AAC audio") from None
    if audio.size == 0:
        raise MediaError(f"{video.name} has an empty audio track", "re-export the video with its sound")
    return audio, info.duration_s


def _is_silent(audio: np.ndarray) -> bool:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) < _SILENCE_RMS


def _no_speech(video: Path) -> MediaError:
    return MediaError(f"no speech found in {video.name}",
                      "check that the right video was supplied; for a video without speech supply a caption file, "
                      "or set its language's captions in the manifest")


# --- transcription -------------------------------------------------------------------------------------------

def _clean_words(raw_words: list[Any], duration: float) -> tuple[Word, ...]:
    """Whisper's words, stripped, clamped inside the audio and kept in time order (word timings are never invented)."""
    out: list[Word] = []
    prev_end = 0.0
    for w in raw_words:
        text = (w.word or "").strip()
        if not text:
            continue
        start = min(max(float(w.start), prev_end, 0.0), duration)
        end = min(max(float(w.end), start), duration)
        if start >= duration:
            break  # a hallucinated word after the end of the audio
        out.append(Word(round(start, 3), round(end, 3), text, round(float(w.probability), 4)))
        prev_end = end
    return tuple(out)


_FRAME_S = 0.01


def _frame_energy(audio: np.ndarray) -> tuple[np.ndarray, float]:
    """RMS per 10 ms frame and the level below which a frame counts as silence (from the track's own noise floor)."""
    hop = int(SAMPLE_RATE * _FRAME_S)
    n = len(audio) // hop
    if n == 0:
        return np.zeros(0), 0.0
    frames = audio[: n * hop].reshape(n, hop).astype(np.float64)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    floor = float(np.percentile(rms, 10))
    peak = float(np.percentile(rms, 99))
    return rms, max(floor * 4.0, peak * 0.02, 1e-4)


def _snap_to_speech(words: tuple[Word, ...], energy: np.ndarray, threshold: float) -> tuple[Word, ...]:
    """Move word edges that Whisper placed in silence onto the speech itself.

    Whisper (and VAD padding) often starts the first word of a phrase in the silence before it; on a track
    with real silence between phrases that shows a caption early. A word is only ever shortened, never moved
    past its own end, so on a noisy track with no silence nothing changes.
    """
    if energy.size == 0:
        return words
    out = []
    for w in words:
        a, b = int(w.start / _FRAME_S), max(int(w.start / _FRAME_S), int(np.ceil(w.end / _FRAME_S)) - 1)
        b = min(b, energy.size - 1)
        if a > b:
            out.append(w)
            continue
        loud = np.nonzero(energy[a:b + 1] > threshold)[0]
        if loud.size == 0:
            out.append(w)
            continue
        start = (a + int(loud[0])) * _FRAME_S
        end = (a + int(loud[-1]) + 1) * _FRAME_S
        start, end = max(w.start, start), min(w.end, end)
        if end - start < 0.05:
            out.append(w)
            continue
        out.append(Word(round(start, 3), round(end, 3), w.text, w.probability))
    return tuple(out)


def _decode(model: Any, audio: np.ndarray, language: str | None, settings: AsrSettings,
            temperatures: tuple[float, ...], vocabulary: str | None = None) -> tuple[list[Any], Any]:
    segments, info = model.transcribe(
        audio,
        language=language,
        initial_prompt=vocabulary or None,
        beam_size=settings.beam_size,
        temperature=list(temperatures),
        word_timestamps=settings.word_timestamps,
        vad_filter=settings.vad,
        max_new_tokens=settings.max_new_tokens,
    )
    return list(segments), info


def _struggled(segments: list[Any]) -> bool:
    """faster-whisper's own thresholds for a failed decode: low log-probability or a repetitive, compressible text."""
    return any(seg.avg_logprob < -1.0 or seg.compression_ratio > 2.4 for seg in segments)


def _compute_of(provider: str) -> str:
    return provider.rsplit(" ", 1)[-1].split("/")[0]


def transcribe_audio(audio: np.ndarray, duration_s: float, language: str | None, settings: AsrSettings,
                     *, source: str = "audio", vocabulary: str | None = None) -> Transcript:
    """Recognise speech in 16 kHz mono audio; `language` is a BCP-47 tag or None to detect it.

    `vocabulary`: text in the spoken language that the speech is likely to use (the campaign's post text,
    names, glossary terms); it is given to Whisper as the preceding context, which steers it to those words.
    """
    if audio.size == 0 or _is_silent(audio):
        raise _no_speech(Path(source))
    wanted = whisper_language(language) if language else None
    model, provider = load_model(settings)
    if wanted and wanted != "en" and not model.model.is_multilingual:
        raise MediaError(f"the speech model {settings.model!r} only knows English, not {language!r}",
                         "use a multilingual model (CHORUS_ASR_MODEL=bundled or small/large-v3)")
    warnings: list[str] = []
    detected: str | None = None
    probability: float | None = None
    if wanted and settings.check_language and model.model.is_multilingual:
        detected, probability, _ = model.detect_language(audio, vad_filter=settings.vad)
        if detected != wanted and probability >= 0.5:
            warnings.append(f"the manifest says {wanted!r} but the speech sounds like {detected!r} "
                            f"(probability {probability:.2f}); check the asset's language")
    retry = settings.retry_compute_type
    if retry == _compute_of(provider):
        retry = None
    # With a retry at full precision available, the fast pass tries only the first temperature: the sampling
    # fallbacks cost most exactly when int8 decoding collapses on unusual speech (log-probabilities near -3),
    # which the same model at full precision usually does not. Only such audio pays for a second pass.
    temperatures = settings.temperatures[:1] if retry else settings.temperatures
    raw, info = _decode(model, audio, wanted, settings, temperatures, vocabulary)
    if retry and _struggled(raw):
        precise, precise_provider = load_model(replace(settings, compute_type=retry))
        raw, info = _decode(precise, audio, wanted, settings, settings.temperatures, vocabulary)
        warnings.append(f"the {_compute_of(provider)} model was unsure of this speech; it was recognised again at {retry}")
        provider = precise_provider
    energy, threshold = _frame_energy(audio)
    sentences = []
    for seg in raw:
        if seg.start >= duration_s:
            break
        words = _snap_to_speech(_clean_words(list(seg.words or []), duration_s), energy, threshold)
        if not words and settings.word_timestamps:
            continue
        text = seg.text.strip()
        if not text:
            continue
        start = words[0].start if words else min(float(seg.start), duration_s)
        end = words[-1].end if words else min(float(seg.end), duration_s)
        sentences.append(Sentence(start, end, text, words))
    if not sentences:
        raise _no_speech(Path(source))
    if wanted is None:
        detected, probability = info.language, float(info.language_probability)
    elif not settings.check_language:
        detected, probability = None, None
    return Transcript(
        language=wanted or info.language,
        language_probability=None if probability is None else round(float(probability), 4),
        detected_language=detected,
        duration_s=duration_s,
        sentences=tuple(sentences),
        provider=provider,
        warnings=tuple(warnings),
    )


def transcribe(video: str | Path, language: str | None, settings: AsrSettings | None = None, *,
               vocabulary: str | None = None) -> Transcript:
    """Recognise the speech of a video file (see transcribe_audio)."""
    video = Path(video)
    audio, duration = load_audio(video)
    return transcribe_audio(audio, duration, language, settings or AsrSettings(), source=video.name, vocabulary=vocabulary)


def transcript_json(t: Transcript) -> str:
    """A transcript as JSON (kept beside the captions so cues can be rebuilt without recognising again)."""
    from dataclasses import asdict

    return json.dumps(asdict(t), ensure_ascii=False, indent=1)
