"""A self-hosted LibreTranslate server (POST /translate): texts in batches, glossary markers kept through HTML format."""
from __future__ import annotations

from dataclasses import dataclass, field

import requests

from campaign import languages
from media.translate import http
from media.translate.base import TranslationError, escape_markup, unescape_markup

MAX_TEXTS = 50
_ERRORS = {
    400: ("refused the request", "check that the server has this language pair and the text is within its character limit"),
    403: ("refused the API key (missing, invalid or banned)", "set CHORUS_LIBRETRANSLATE_API_KEY to a key of that server"),
}


@dataclass
class LibreTranslateTranslator:
    base_url: str = "http://127.0.0.1:5000"
    api_key: str | None = field(default=None, repr=False)
    timeout_s: float = 30.0
    session: requests.Session = field(default_factory=http.session, repr=False)
    name: str = "libretranslate"

    def translate_texts(self, texts: list[str], source: str, target: str) -> list[str]:
        out: list[str] = []
        for i in range(0, len(texts), MAX_TEXTS):
            batch = texts[i:i + MAX_TEXTS]
            body = {"q": [escape_markup(t) for t in batch], "source": languages.base_language(source), "target": languages.base_language(target),
                    "format": "html"}
            if self.api_key:
                body["api_key"] = self.api_key
            doc = http.post_json(self.session, f"{self.base_url.rstrip('/')}/translate", provider="LibreTranslate",
                                 json=body, timeout=self.timeout_s, messages=_ERRORS)
            got = doc.get("translatedText")
            if isinstance(got, str) and len(batch) == 1:
                got = [got]
            if not isinstance(got, list) or len(got) != len(batch):
                raise TranslationError("LibreTranslate returned an unexpected answer (no translatedText list of the right length)",
                                       "check CHORUS_LIBRETRANSLATE_BASE_URL points at a LibreTranslate server")
            out.extend(unescape_markup(str(t)) for t in got)
        return out
