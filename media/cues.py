"""Caption cues: timed text with optional word timings, read from and written to SRT, WebVTT and JSON."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pysubs2

from campaign.errors import MediaError


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str
    probability: float | None = None


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str                      # lines joined with "\n"
    words: tuple[Word, ...] = field(default=())

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n")


def _to_ssa(cues: list[Cue]) -> pysubs2.SSAFile:
    subs = pysubs2.SSAFile()
    for c in cues:
        subs.append(pysubs2.SSAEvent(start=round(c.start * 1000), end=round(c.end * 1000), text=c.text.replace("\n", r"\N")))
    return subs


def to_srt(cues: list[Cue]) -> str:
    return _to_ssa(cues).to_string("srt")


def to_vtt(cues: list[Cue]) -> str:
    return _to_ssa(cues).to_string("vtt")


def to_json(cues: list[Cue], **meta) -> str:
    return json.dumps({**meta, "cues": [asdict(c) for c in cues]}, ensure_ascii=False, indent=1)


def from_json(text: str) -> list[Cue]:
    doc = json.loads(text)
    return [Cue(c["start"], c["end"], c["text"], tuple(Word(**w) for w in c.get("words", ()))) for c in doc["cues"]]


def parse_subtitles(text: str, fmt: str | None = None, *, source: str = "caption file") -> list[Cue]:
    """Read SRT or WebVTT text into cues; a file that is neither gets one clear error."""
    try:
        subs = pysubs2.SSAFile.from_string(text, format_=fmt) if fmt else pysubs2.SSAFile.from_string(text)
    except Exception as err:
        raise MediaError(f"{source} is not a valid SRT or WebVTT file ({type(err).__name__}: {str(err)[:120]})",
                         "export it again as SRT or WebVTT (UTF-8)") from None
    cues = []
    for ev in subs:
        if ev.is_comment:
            continue
        text_ = ev.plaintext.strip()
        if text_:
            cues.append(Cue(ev.start / 1000.0, ev.end / 1000.0, text_))
    if not cues and text.strip():
        raise MediaError(f"{source} has no cues", "check that it is an SRT or WebVTT file with timed text")
    return cues


def read_subtitles(path: str | Path) -> list[Cue]:
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise MediaError(f"caption file not found: {path}", "check the path in the manifest") from None
    except UnicodeDecodeError as err:
        raise MediaError(f"{path.name} is not UTF-8 (byte {err.start})", "save the caption file as UTF-8") from None
    fmt = {".srt": "srt", ".vtt": "vtt"}.get(path.suffix.lower())
    return parse_subtitles(text, fmt, source=path.name)
