"""Language tags (BCP-47): validation, display names and writing direction."""
from __future__ import annotations

from functools import lru_cache

import langcodes

# Scripts written right to left; a tag's script is inferred from its language when absent.
_RTL_SCRIPTS = {"Arab", "Hebr", "Thaa", "Syrc", "Nkoo", "Adlm", "Rohg"}


@lru_cache(maxsize=512)
def normalise(tag: str) -> str:
    """The canonical form of a BCP-47 tag ('EN-gb' -> 'en-GB'); ValueError when it is not one."""
    if not isinstance(tag, str) or not tag.strip():
        raise ValueError("empty language tag")
    if not langcodes.tag_is_valid(tag.strip()):
        raise ValueError(f"{tag!r} is not a valid BCP-47 language tag (examples: en, de, pt-BR, ar)")
    lang = langcodes.Language.get(tag.strip())
    if not lang.is_valid() or lang.language is None:
        raise ValueError(f"{tag!r} is not a known language (examples: en, de, pt-BR, ar)")
    return lang.to_tag()


def base_language(tag: str) -> str:
    """The primary language subtag, e.g. 'pt' for 'pt-BR' (what speech and fonts care about)."""
    return langcodes.Language.get(tag).language or tag


def display_name(tag: str) -> str:
    return langcodes.Language.get(tag).display_name()


@lru_cache(maxsize=512)
def script(tag: str) -> str:
    lang = langcodes.Language.get(tag)
    return lang.script or lang.maximize().script or "Latn"


def is_rtl(tag: str) -> bool:
    return script(tag) in _RTL_SCRIPTS
