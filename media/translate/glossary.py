"""The campaign glossary: terms translated a fixed way, or kept as they are, per language; applied and checked."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from campaign import languages
from media.cues import Cue

ALL = "*"


@dataclass(frozen=True)
class GlossaryIssue:
    cue: int
    term: str
    expected: str
    language: str

    @property
    def line(self) -> str:
        return f"cue {self.cue}: glossary term {self.term!r} should read {self.expected!r} in {self.language}"


@dataclass(frozen=True)
class Protected:
    """A source text whose glossary terms were replaced by markers a translator leaves alone."""

    text: str
    terms: tuple[str, ...]  # the target text for marker 0, 1, ...

    def restore(self, translated: str) -> str:
        out = translated
        for i, target in enumerate(self.terms):
            out = re.sub(rf"\s*<x\s+id\s*=\s*[\"']?{i}[\"']?\s*(?:/>|>\s*</x>)\s*", f" {target} ", out, count=1)
            out = re.sub(rf"\[\[\s*{i}\s*\]\]", target, out)
        out = re.sub(r"[ ]{2,}", " ", out)
        return re.sub(r"[ ]+([,.!?;:،؟؛])", r"\1", out).strip()


def _pattern(term: str) -> re.Pattern:
    # Whole words only, case-insensitive, so "vote" does not match inside "voters".
    return re.compile(rf"(?<!\w){re.escape(term)}(?!\w)", re.IGNORECASE)


class Glossary:
    """`entries` maps a language (or "*" for every language) to {source term: target term}.

    A term mapped to itself is kept as it is (a campaign name, a hashtag, an organisation).
    """

    def __init__(self, entries: Mapping[str, Mapping[str, str]]):
        self.entries: dict[str, dict[str, str]] = {}
        for lang, terms in (entries or {}).items():
            key = ALL if lang == ALL else languages.normalise(lang)
            self.entries[key] = {str(k): str(v) for k, v in (terms or {}).items()}

    def terms_for(self, language: str) -> dict[str, str]:
        lang = languages.normalise(language)
        merged = dict(self.entries.get(ALL, {}))
        merged.update(self.entries.get(lang, {}))
        merged.update(self.entries.get(languages.base_language(lang), {}))
        # Longest first, so "First Vote 2027" wins over "First Vote".
        return dict(sorted(merged.items(), key=lambda kv: -len(kv[0])))

    def protect(self, text: str, language: str) -> Protected:
        """Replace each glossary term by a marker (<x id="n"/>) that DeepL and LibreTranslate keep as it is."""
        targets: list[str] = []
        out = text
        for term, target in self.terms_for(language).items():
            def sub(_m: re.Match) -> str:
                targets.append(target)
                return f'<x id="{len(targets) - 1}"/>'
            out = _pattern(term).sub(sub, out)
        return Protected(out, tuple(targets))

    def check(self, source: list[Cue], translated: list[Cue], language: str) -> list[GlossaryIssue]:
        """Each cue whose source has a glossary term and whose translation lacks the fixed target term."""
        issues: list[GlossaryIssue] = []
        terms = self.terms_for(language)
        pairs = zip(source, translated) if len(source) == len(translated) else []
        for n, (src, dst) in enumerate(pairs, start=1):
            flat = " ".join(dst.text.split())
            for term, target in terms.items():
                if _pattern(term).search(" ".join(src.text.split())) and target.lower() not in flat.lower():
                    issues.append(GlossaryIssue(n, term, target, language))
        return issues
