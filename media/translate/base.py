"""The translation interface: cues in, cues out with the same timings, lines re-wrapped to the target language's rules."""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Protocol

from campaign import languages
from campaign.errors import ChorusError
from media.cues import Cue

TRANSLATOR_FILE = "translator-file"
MACHINE = "machine-translation"


class TranslationError(ChorusError):
    """A translation that could not be made or read: the provider's refusal, a missing file, a broken glossary term."""


@dataclass(frozen=True)
class Translation:
    """Translated cues and where they came from (`origin` is what the warehouse records)."""

    language: str
    cues: tuple[Cue, ...]
    origin: str                    # translator-file | machine-translation
    provider: str                  # file name, "deepl", "libretranslate"
    glossary_issues: tuple[str, ...] = ()

    @property
    def is_machine(self) -> bool:
        return self.origin == MACHINE


class Translator(Protocol):
    """Translates plain texts (one per cue, lines joined by spaces) from one language to another, in order."""

    name: str

    def translate_texts(self, texts: list[str], source: str, target: str) -> list[str]: ...


_MARKER = re.compile(r"(<x id=\"\d+\"/>)")


def escape_markup(text: str) -> str:
    """Text made safe for XML/HTML tag handling (a cue may say "Rock & Roll" or "<3"), glossary markers kept."""
    return "".join(part if _MARKER.fullmatch(part) else html.escape(part, quote=False) for part in _MARKER.split(text))


def unescape_markup(text: str) -> str:
    return html.unescape(text)


def rewrap(text: str, language: str) -> str:
    """Lines re-broken by the target language's caption rules (the captioning module's, when it is there)."""
    try:
        from media.captioning import rules_for, wrap_text
    except ImportError:  # pragma: no cover - the captioning module ships with Chorus
        return text
    lines = wrap_text(text, rules_for(language), language)
    return "\n".join(lines) if lines else text


def translate_cues(cues: list[Cue], translator: Translator, source: str, target: str, glossary=None) -> Translation:
    """Machine-translate cues: timings kept, glossary terms protected and then checked, lines re-wrapped."""
    from media.translate.glossary import Glossary

    glossary = glossary or Glossary({})
    texts = [" ".join(c.text.split("\n")) for c in cues]
    protected = [glossary.protect(t, target) for t in texts]
    out = translator.translate_texts([p.text for p in protected], source, target)
    if len(out) != len(cues):
        raise TranslationError(f"{translator.name} returned {len(out)} texts for {len(cues)} cues",
                               "try again; if it persists, translate with a translator file")
    restored = [p.restore(t) for p, t in zip(protected, out)]
    new = tuple(Cue(c.start, c.end, rewrap(t.strip(), target)) for c, t in zip(cues, restored))
    issues = tuple(i.line for i in glossary.check(cues, list(new), target))
    return Translation(languages.normalise(target), new, MACHINE, translator.name, issues)
