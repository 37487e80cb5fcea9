"""Caption cues: timed text with optional word timings, read from and written to SRT, WebVTT and JSON."""
from __future__ import annotations

import json
import re
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


JSON_VERSION = 1


def to_json(cues: list[Cue], **meta) -> str:
    """Cues with their words (for highlighting the spoken word) and any metadata (language, origin, provider)."""
    return json.dumps({"version": JSON_VERSION, **meta, "cues": [asdict(c) for c in cues]}, ensure_ascii=False, indent=1)


def from_json(text: str) -> list[Cue]:
    try:
        doc = json.loads(text)
        return [Cue(float(c["start"]), float(c["end"]), str(c["text"]), tuple(Word(**w) for w in c.get("words", ())))
                for c in doc["cues"]]
    except (ValueError, KeyError, TypeError) as err:
        raise MediaError(f"caption JSON is not readable ({type(err).__name__}: {str(err)[:120]})",
                         "caption the asset again so Chorus rewrites it") from None


def json_meta(text: str) -> dict:
    """The metadata stored beside the cues in caption JSON (language, origin, reviewed, provider...)."""
    doc = json.loads(text)
    return {k: v for k, v in doc.items() if k != "cues"}


# WebVTT blocks that are not cues; pysubs2 would otherwise read them as text of the cue before.
_VTT_NON_CUE = re.compile(r"(?:^|\n\n)(?:NOTE|STYLE|REGION)\b[^\n]*(?:\n(?!\n)[^\n]*)*", re.MULTILINE)


@dataclass(frozen=True)
class RawCue:
    """A cue exactly as the file has it (number in file order, text with any blank lines), for review."""

    number: int
    start: float
    end: float
    text: str


def parse_raw(text: str, fmt: str | None = None, *, source: str = "caption file") -> tuple[str, list[RawCue]]:
    """(format, cues in file order) for SRT or WebVTT text; anything else gets one clear error."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if fmt is None and text.lstrip("\ufeff").startswith("WEBVTT"):
        fmt = "vtt"
    if fmt == "vtt":
        text = _VTT_NON_CUE.sub("\n", text)
    try:
        subs = pysubs2.SSAFile.from_string(text, format_=fmt) if fmt else pysubs2.SSAFile.from_string(text)
    except Exception as err:
        raise MediaError(f"{source} is not a valid SRT or WebVTT file ({type(err).__name__}: {str(err)[:120]})",
                         "export it again as SRT or WebVTT (UTF-8)") from None
    found = fmt or subs.format or "srt"
    if found not in ("srt", "vtt"):
        raise MediaError(f"{source} is an {found.upper()} subtitle file, not SRT or WebVTT", "export it as SRT or WebVTT (UTF-8)")
    raw = []
    for ev in subs:
        if ev.is_comment:
            continue
        raw.append(RawCue(len(raw) + 1, ev.start / 1000.0, ev.end / 1000.0,
                          "\n".join(line.strip() for line in ev.plaintext.strip().split("\n"))))
    return found, raw


def parse_subtitles(text: str, fmt: str | None = None, *, source: str = "caption file") -> list[Cue]:
    """Read SRT or WebVTT text into cues; a file that is neither gets one clear error."""
    _, raw = parse_raw(text, fmt, source=source)
    cues = [Cue(r.start, r.end, "\n".join(line for line in r.text.split("\n") if line)) for r in raw if r.text.strip()]
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
