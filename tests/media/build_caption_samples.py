"""Builds the committed speech samples for the real-speech caption tests (run by hand; tests never call espeak-ng).

Each sample is a small MP4 (a black 64x64 frame, mono AAC) of espeak-ng speech, one sentence after another with
a second of silence between, and a JSON file with each sentence's text and where its audio was placed; the
sentence spans come from how the file was built, not from recognising it.

    apt-get install espeak-ng      # a Debian package
    .venv/bin/python tests/media/build_caption_samples.py
"""
from __future__ import annotations

import json
import subprocess
import tempfile
import wave
from pathlib import Path

import imageio_ffmpeg

OUT = Path(__file__).parent / "data" / "speech"
RATE = 16000
GAP_S = 1.0
SENTENCES = {
    "en": ["Your vote is your voice.", "Register today, and make sure your voice is heard."],
    "de": ["Deine Stimme zählt.", "Lass dich heute registrieren und geh wählen."],
    "es": ["Tu voto es tu voz.", "Inscríbete hoy y vota en primavera."],
}


def speak(text: str, lang: str, path: Path) -> None:
    subprocess.run(["espeak-ng", "-v", lang, "-s", "150", "-w", str(path), text], check=True)
    # espeak-ng writes 22.05 kHz; resample to 16 kHz mono 16-bit so clip lengths are exact in samples.
    tmp = path.with_suffix(".16k.wav")
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(path), "-ar", str(RATE), "-ac", "1",
                    "-sample_fmt", "s16", str(tmp)], check=True)
    tmp.replace(path)


def build(lang: str, sentences: list[str], work: Path) -> None:
    frames = bytearray()
    spans = []
    pad = b"\x00\x00" * int(RATE * 0.5)
    frames += pad
    for k, text in enumerate(sentences):
        clip = work / f"{lang}-{k}.wav"
        speak(text, lang, clip)
        with wave.open(str(clip)) as w:
            data = w.readframes(w.getnframes())
        start = len(frames) / 2 / RATE
        frames += data
        spans.append({"text": text, "start": round(start, 3), "end": round(len(frames) / 2 / RATE, 3)})
        frames += b"\x00\x00" * int(RATE * GAP_S)
    wav = work / f"{lang}.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(bytes(frames))
    duration = len(frames) / 2 / RATE
    OUT.mkdir(parents=True, exist_ok=True)
    mp4 = OUT / f"speech-{lang}.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"color=black:s=64x64:r=5:d={duration}",
                    "-i", str(wav), "-c:v", "libx264", "-preset", "veryslow", "-crf", "40", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-b:a", "48k", "-shortest", "-movflags", "+faststart", str(mp4)], check=True)
    (OUT / f"speech-{lang}.json").write_text(json.dumps({"language": lang, "duration_s": round(duration, 3),
                                                          "sentences": spans}, ensure_ascii=False, indent=1) + "\n")
    print(mp4, mp4.stat().st_size, "bytes")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        for lang, sentences in SENTENCES.items():
            build(lang, sentences, Path(d))
