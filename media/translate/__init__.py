"""Translating caption cues: translator files (the default), DeepL, LibreTranslate, a campaign glossary, re-wrapping."""
from media.translate.base import (MACHINE, TRANSLATOR_FILE, Translation, TranslationError, Translator, rewrap,
                                  translate_cues)
from media.translate.glossary import Glossary, GlossaryIssue

__all__ = ["MACHINE", "TRANSLATOR_FILE", "Glossary", "GlossaryIssue", "Translation", "TranslationError", "Translator",
           "rewrap", "translate_cues"]
