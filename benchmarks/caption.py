"""Benchmark: word error rate and CPU real-time factor of Chorus's captioning against a plain faster-whisper call.

Speech is synthesised offline with espeak-ng (a Debian package) in several languages; both sides run on the
same audio, with the same pinned offline model, in the same process, one after the other, so the ratios hold
even when the machine is shared. The baseline is faster-whisper with its defaults:
`WhisperModel(path).transcribe(audio)` (no word timestamps, no VAD, language detected). Chorus runs
what the caption stage runs: int8 on CPU, word timestamps, VAD, the language from the manifest, then cues.

    .venv/bin/python benchmarks/caption.py [--langs en,de,es,fr] [--repeat 2] [--model bundled]

Prints per-language WER and real-time factor (processing seconds per second of audio) for both, and the
ratios Chorus/plain. Not a test: nothing is asserted; the numbers go in the README.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import imageio_ffmpeg  # noqa: E402
import jiwer  # noqa: E402

from media.asr import AsrSettings, load_model, resolve_model, transcribe  # noqa: E402
from media.captioning import build_cues, rules_for  # noqa: E402

SCRIPTS = {
    "en": ["Your vote is your voice.", "Next spring, millions of young Europeans vote for the first time.",
           "Register today, and make sure your voice is heard.", "It only takes five minutes online.",
           "Bring a friend who has never voted before.", "Every single vote counts in a close election."],
    "de": ["Deine Stimme zählt.", "Im nächsten Frühling wählen Millionen junge Europäer zum ersten Mal.",
           "Lass dich heute registrieren und sorge dafür, dass man dich hört.", "Es dauert nur fünf Minuten im Internet.",
           "Nimm eine Freundin mit, die noch nie gewählt hat.", "Bei einer knappen Wahl zählt jede einzelne Stimme."],
    "es": ["Tu voto es tu voz.", "La próxima primavera, millones de jóvenes europeos votan por primera vez.",
           "Inscríbete hoy y asegúrate de que se escuche tu voz.", "Solo se tarda cinco minutos en internet.",
           "Trae a un amigo que nunca haya votado.", "En unas elecciones reñidas cada voto cuenta."],
    "fr": ["Ton vote est ta voix.", "Au printemps prochain, des millions de jeunes Européens votent pour la première fois.",
           "Inscris-toi aujourd'hui et fais entendre ta voix.", "Cela ne prend que cinq minutes en ligne.",
           "Emmène un ami qui n'a jamais voté.", "Dans une élection serrée, chaque voix compte."],
}


def synthesise(lang: str, work: Path) -> tuple[Path, str, float]:
    """An MP4 (black frame, AAC) of the language's script spoken by espeak-ng, its reference text and duration."""
    if not shutil.which("espeak-ng"):
        sys.exit("espeak-ng is not installed: apt-get install espeak-ng")
    text = " ".join(SCRIPTS[lang])
    wav = work / f"{lang}.wav"
    subprocess.run(["espeak-ng", "-v", lang, "-s", "155", "-g", "6", "-w", str(wav), text], check=True)
    mp4 = work / f"{lang}.mp4"
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(wav), "-f", "lavfi", "-i", "color=black:s=64x64:r=5",
                    "-shortest", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k", str(mp4)], check=True)
    from faster_whisper.audio import decode_audio

    duration = len(decode_audio(str(wav))) / 16000
    return mp4, text, duration


def normalise(text: str) -> str:
    return " ".join(jiwer.RemovePunctuation()(text.lower()).replace("-", " ").split())


def run_plain(model_path: str, media: Path) -> tuple[str, float]:
    model = _plain_model(model_path)
    t0 = time.perf_counter()
    segments, _info = model.transcribe(str(media))
    text = " ".join(s.text for s in segments)
    return text, time.perf_counter() - t0


_PLAIN: dict[str, object] = {}


def _plain_model(model_path: str):
    from faster_whisper import WhisperModel

    if model_path not in _PLAIN:
        _PLAIN[model_path] = WhisperModel(model_path)  # faster-whisper's defaults: device auto, compute type of the model
    return _PLAIN[model_path]


def run_chorus(settings: AsrSettings, media: Path, lang: str) -> tuple[str, float, int]:
    t0 = time.perf_counter()
    transcript = transcribe(media, lang, settings)
    cues = build_cues(transcript.words, rules_for(lang), video_duration=transcript.duration_s, language=lang)
    elapsed = time.perf_counter() - t0
    return transcript.text, elapsed, len(cues)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--langs", default="en,de,es,fr")
    ap.add_argument("--repeat", type=int, default=2, help="runs per side and language; the fastest counts")
    ap.add_argument("--model", default="bundled")
    ap.add_argument("--compute-type", default=None, help="Chorus's CPU compute type (default int8)")
    args = ap.parse_args()
    settings = AsrSettings(model=args.model, device="cpu", compute_type=args.compute_type, check_language=False)
    model_path, label = resolve_model(settings)
    t0 = time.perf_counter()
    load_model(settings)
    chorus_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    _plain_model(model_path)
    plain_load = time.perf_counter() - t0
    print(f"model: {label} ({model_path}); CPU: {os.cpu_count()} cores, {platform.processor() or platform.machine()}; "
          f"load s: chorus {chorus_load:.2f}, plain {plain_load:.2f}")
    try:
        load = os.getloadavg()[0]
        print(f"load average at start: {load:.2f} (others share this machine: absolute times are noisy, ratios less so)")
    except OSError:
        pass
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for lang in [x.strip() for x in args.langs.split(",") if x.strip()]:
            media, reference, duration = synthesise(lang, Path(d))
            ref = normalise(reference)
            plain_times, chorus_times = [], []
            for _ in range(max(1, args.repeat)):
                # Alternate the two sides so load from others hits both alike.
                plain_text, s = run_plain(model_path, media)
                plain_times.append(s)
                chorus_text, s, ncues = run_chorus(settings, media, lang)
                chorus_times.append(s)
            rows.append((lang, duration, jiwer.wer(ref, normalise(plain_text)), min(plain_times) / duration,
                         jiwer.wer(ref, normalise(chorus_text)), min(chorus_times) / duration, ncues))
    print()
    print(f"{'lang':<5}{'audio s':>8}{'WER plain':>11}{'WER chorus':>12}{'RTF plain':>11}{'RTF chorus':>12}"
          f"{'RTF ratio':>11}{'cues':>6}")
    for lang, dur, wp, rp, wc, rc, n in rows:
        print(f"{lang:<5}{dur:>8.1f}{wp:>11.3f}{wc:>12.3f}{rp:>11.3f}{rc:>12.3f}{rc / rp:>11.2f}{n:>6}")
    total = sum(r[1] for r in rows)
    wp = sum(r[2] * r[1] for r in rows) / total
    wc = sum(r[4] * r[1] for r in rows) / total
    rp = sum(r[3] * r[1] for r in rows) / total
    rc = sum(r[5] * r[1] for r in rows) / total
    print(f"{'all':<5}{total:>8.1f}{wp:>11.3f}{wc:>12.3f}{rp:>11.3f}{rc:>12.3f}{rc / rp:>11.2f}")
    print()
    print(f"Chorus/plain real-time factor: {rc / rp:.2f}  (Chorus RTF {rc:.3f}; target <= 0.3 with word timestamps)")
    print(f"Chorus/plain WER: {wc / wp if wp else float('nan'):.2f}  (Chorus {wc:.3f} vs plain {wp:.3f}; target: no worse)")


if __name__ == "__main__":
    main()
