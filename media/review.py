"""Importing a caption file a person reviewed or wrote: UTF-8, SRT or WebVTT, timings inside the video, no overlaps, line rules; errors name the cue and the rule."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from campaign.errors import MediaError
from media.captioning import CaptionRules, RuleIssue, check_cues, joiner
from media.cues import Cue, Word, parse_raw

_SHOWN = 6


class CaptionReviewError(MediaError):
    """A caption file that breaks rules; `issues` lists every broken rule with its cue number."""

    def __init__(self, source: str, issues: list[RuleIssue]):
        self.source = source
        self.issues = issues
        shown = "; ".join(str(i) for i in issues[:_SHOWN])
        more = f"; and {len(issues) - _SHOWN} more" if len(issues) > _SHOWN else ""
        count = len(issues)
        super().__init__(f"{source}: {count} problem{'s' if count != 1 else ''} — {shown}{more}",
                         "fix these cues and import the file again")


@dataclass(frozen=True)
class ReviewedCaptions:
    cues: tuple[Cue, ...]
    format: str                          # "srt" or "vtt"
    warnings: tuple[RuleIssue, ...]      # reading speed and cue length: allowed, but worth a look


def validate_caption_bytes(data: bytes, *, source: str, video_duration: float, rules: CaptionRules | None = None,
                           language: str | None = None, words: tuple[Word, ...] | list[Word] = ()) -> ReviewedCaptions:
    """Check a caption file's bytes; raise CaptionReviewError naming each cue and rule, or return its cues.

    `words`: the automatic transcript's word timings, when there is one; a reviewed cue whose text still
    matches the words spoken in its time keeps them, so variants can still highlight the spoken word.
    """
    rules = rules or CaptionRules()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise MediaError(f"{source} is not UTF-8 (the byte at position {err.start} is not valid UTF-8)",
                         "save the caption file as UTF-8 and import it again") from None
    if not text.strip():
        raise MediaError(f"{source} is empty", "export the captions again as SRT or WebVTT")
    fmt = {".srt": "srt", ".vtt": "vtt"}.get(Path(source).suffix.lower())
    fmt, raw = parse_raw(text, fmt, source=source)
    if not raw:
        raise MediaError(f"{source} has no cues", "check that it is an SRT or WebVTT file with timed text")
    issues: list[RuleIssue] = []
    cues: list[Cue] = []
    for r in raw:
        lines = r.text.split("\n")
        if not r.text.strip():
            issues.append(RuleIssue(r.number, "text", "has no text; delete the cue or write its text"))
        elif any(not line for line in lines):
            issues.append(RuleIssue(r.number, "format", "contains a blank line, which ends a cue in SRT and WebVTT; "
                                    "the next cue's number or timing line is probably missing or malformed"))
        cues.append(Cue(r.start, r.end, r.text))
    found = check_cues(cues, rules, video_duration=video_duration, language=language)
    issues.extend(i for i in found if i.severity == "error")
    if issues:
        issues.sort(key=lambda i: i.cue)
        raise CaptionReviewError(source, issues)
    if words:
        cues = _attach_words(cues, list(words), language)
    return ReviewedCaptions(tuple(cues), fmt, tuple(i for i in found if i.severity != "error"))


def validate_caption_file(path: str | Path, *, video_duration: float, rules: CaptionRules | None = None,
                          language: str | None = None, words: tuple[Word, ...] | list[Word] = ()) -> ReviewedCaptions:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise MediaError(f"caption file not found: {path}", "check the path in the manifest or on the command line") from None
    except IsADirectoryError:
        raise MediaError(f"{path} is a folder, not a caption file", "name the .srt or .vtt file itself") from None
    return validate_caption_bytes(data, source=path.name, video_duration=video_duration, rules=rules,
                                  language=language, words=words)


def _norm(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _attach_words(cues: list[Cue], words: list[Word], language: str | None) -> list[Cue]:
    out = []
    join = joiner(language)
    for cue in cues:
        inside = tuple(w for w in words if cue.start - 0.25 <= (w.start + w.end) / 2 <= cue.end + 0.25)
        if inside and _norm(join.join(w.text for w in inside)) == _norm(cue.text):
            out.append(replace(cue, words=inside))
        else:
            out.append(cue)
    return out
