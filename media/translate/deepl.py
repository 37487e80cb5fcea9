"""DeepL's API (v2/translate): texts in batches within its limits, glossary markers kept through XML tag handling."""
from __future__ import annotations

import json as _json
from dataclasses import dataclass, field

import requests

from campaign import languages
from media.translate import http
from media.translate.base import TranslationError, escape_markup, unescape_markup

# Documented limits: at most 50 texts and 128 KiB per request.
MAX_TEXTS = 50
MAX_BYTES = 120 * 1024
# DeepL wants a regional variant for English and Portuguese targets; a European campaign defaults to the European ones.
_TARGET_DEFAULTS = {"EN": "EN-GB", "PT": "PT-PT", "ZH": "ZH-HANS"}
_ERRORS = {
    400: ("refused the request", "check the language pair: DeepL may not support this language"),
    403: ("rejected the authentication key", "set a valid key in CHORUS_DEEPL_AUTH_KEY (free keys end in ':fx' "
                                              "and use https://api-free.deepl.com as CHORUS_DEEPL_BASE_URL)"),
    413: ("found the request too large", "shorten the cues; Chorus sends at most 50 texts per request"),
    456: ("quota for this billing period is used up", "raise the DeepL plan's character limit or wait for the next period"),
}


def target_code(tag: str) -> str:
    lang = languages.normalise(tag)
    base = languages.base_language(lang).upper()
    region = lang.split("-")[1].upper() if "-" in lang and len(lang.split("-")[1]) == 2 else None
    if base in ("EN", "PT") and region in ("GB", "US", "BR", "PT"):
        return f"{base}-{region}"
    return _TARGET_DEFAULTS.get(base, base)


@dataclass
class DeepLTranslator:
    auth_key: str = field(repr=False)
    base_url: str = "https://api.deepl.com"
    timeout_s: float = 30.0
    session: requests.Session = field(default_factory=http.session, repr=False)
    name: str = "deepl"

    def __post_init__(self) -> None:
        if not self.auth_key:
            raise TranslationError("no DeepL authentication key", "set CHORUS_DEEPL_AUTH_KEY in the environment")

    def _batches(self, texts: list[str]) -> list[list[str]]:
        batches: list[list[str]] = [[]]
        size = 0
        for t in texts:
            n = len(_json.dumps(t, ensure_ascii=False).encode())
            if batches[-1] and (len(batches[-1]) >= MAX_TEXTS or size + n > MAX_BYTES):
                batches.append([])
                size = 0
            batches[-1].append(t)
            size += n
        return [b for b in batches if b]

    def translate_texts(self, texts: list[str], source: str, target: str) -> list[str]:
        out: list[str] = []
        for batch in self._batches(texts):
            body = {"text": [escape_markup(t) for t in batch], "source_lang": languages.base_language(source).upper(),
                    "target_lang": target_code(target), "tag_handling": "xml", "ignore_tags": ["x"]}
            doc = http.post_json(self.session, f"{self.base_url.rstrip('/')}/v2/translate", provider="DeepL", json=body,
                                 headers={"Authorization": f"DeepL-Auth-Key {self.auth_key}"}, timeout=self.timeout_s,
                                 messages=_ERRORS)
            translations = doc.get("translations")
            if not isinstance(translations, list) or len(translations) != len(batch):
                raise TranslationError("DeepL returned an unexpected answer (no translations list of the right length)",
                                       "try again; if it persists, check CHORUS_DEEPL_BASE_URL")
            out.extend(unescape_markup(str(t.get("text", ""))) for t in translations)
        return out
