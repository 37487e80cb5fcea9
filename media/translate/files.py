"""Translations from the organisation's translators: SRT or WebVTT per language, or a CSV of cue number and text."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from campaign import languages
from media.cues import Cue, parse_subtitles
from media.translate.base import TRANSLATOR_FILE, Translation, TranslationError, rewrap
from media.translate.glossary import Glossary

_CSV_NUMBER = ("cue", "number", "n", "#", "id", "index")
_CSV_TEXT = ("text", "translation", "target")


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise TranslationError(f"translation file not found: {path}", "check the path under the asset's `translations`") from None
    except UnicodeDecodeError as err:
        raise TranslationError(f"{path.name} is not UTF-8 (byte {err.start})", "save the translation as UTF-8") from None


def read_csv(text: str, source: list[Cue], name: str) -> list[Cue]:
    """A spreadsheet export: one row per cue, a cue-number column and a text column; timings from the source cues."""
    sample = text[:2048]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    if not rows:
        raise TranslationError(f"{name} is empty", "export the spreadsheet with a cue column and a text column")
    head = [h.strip().lower() for h in rows[0]]
    if any(h in _CSV_NUMBER for h in head) and any(h in _CSV_TEXT for h in head):
        ni = next(i for i, h in enumerate(head) if h in _CSV_NUMBER)
        ti = next(i for i, h in enumerate(head) if h in _CSV_TEXT)
        rows = rows[1:]
    else:
        ni, ti = 0, 1
    texts: dict[int, str] = {}
    for r, row in enumerate(rows, start=2 if ni != 0 or ti != 1 else 1):
        if not row or not any(cell.strip() for cell in row):
            continue
        try:
            n = int(row[ni].strip())
            texts[n] = row[ti].strip()
        except (ValueError, IndexError):
            raise TranslationError(f"{name} row {r}: expected a cue number and a text, got {row[:3]!r}",
                                   "use two columns: cue (1, 2, ...) and text") from None
    missing = [n for n in range(1, len(source) + 1) if not texts.get(n)]
    extra = sorted(n for n in texts if n < 1 or n > len(source))
    if missing or extra:
        problem = (f"missing cue(s) {missing[:10]}" if missing else "") + (
            f"{'; ' if missing else ''}cue number(s) {extra[:10]} not in the source (it has {len(source)} cues)" if extra else "")
        raise TranslationError(f"{name}: {problem}", "give one row per source cue, numbered from 1")
    return [Cue(c.start, c.end, texts[n].replace("\\n", "\n")) for n, c in enumerate(source, start=1)]


def read_translation(path: Path, language: str, source: list[Cue], glossary: Glossary | None = None) -> Translation:
    """A translator's file for `language`; SRT/VTT keep the translator's timings, CSV takes the source's."""
    path = Path(path)
    text = _read_text(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        cues = read_csv(text, source, path.name)
        # A spreadsheet has no line breaks of its own: the target language's line rules break it.
        cues = [Cue(c.start, c.end, c.text if "\n" in c.text else rewrap(c.text, language)) for c in cues]
    elif suffix in (".srt", ".vtt"):
        try:
            cues = parse_subtitles(text, suffix[1:], source=path.name)
        except Exception as err:
            raise TranslationError(getattr(err, "problem", str(err)), getattr(err, "fix", None)) from None
    else:
        raise TranslationError(f"{path.name}: translation files must be .srt, .vtt or .csv",
                               "export the translation as SRT, WebVTT or CSV (cue, text)")
    issues = tuple(i.line for i in (glossary or Glossary({})).check(source, cues, language))
    return Translation(languages.normalise(language), tuple(cues), TRANSLATOR_FILE, path.name, issues)
