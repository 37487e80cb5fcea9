"""Caption fonts: which installed font covers a language's script and a caption's characters, failing clearly when none does."""
from __future__ import annotations

import importlib
import os
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from campaign import languages
from campaign.errors import MediaError

# Fonts shipped as Python packages (OFL-1.1, installed with Chorus) come first, then system fonts,
# then anything in CHORUS_FONTS_DIR (for scripts Chorus does not bundle: Hebrew, CJK, Ethiopic...).
_PACKAGED = ("fontpkg_noto_sans", "fontpkg_noto_sans_arabic")
_SYSTEM_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "/Library/Fonts", "C:/Windows/Fonts")
_SYSTEM_PREFERRED = ("NotoSans-Bold.ttf", "NotoSansArabic-Bold.ttf", "DejaVuSans-Bold.ttf")

# Characters every caption in a script may use: all diacritics of the EU's official languages (Latin),
# monotonic and polytonic-free Greek, Cyrillic for Ukrainian, Russian, Bulgarian and Serbian, and
# Arabic with the Persian letters. Checked for each campaign language before anything is rendered.
EXEMPLARS: dict[str, str] = {
    "Latn": (
        "AaZz0123456789.,;:!?'\"-–()%€"
        "ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝßàáâãäåæçèéêëìíîïñòóôõöøùúûüýÿ"
        "ĀāĂăĄąĆćČčĎďĐđĒēĖėĘęĚěĞğĢģĪīĮįİıĶķĹĺĻļĽľŁłŃńŅņŇňŐőŒœŔŕŘřŚśŞşŠšŢţŤťŪūŮůŰűŲųŸŹźŻżŽžȘșȚțẞ"
    ),
    "Grek": "ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩαβγδεζηθικλμνξοπρσςτυφχψωάέήίόύώΆΈΉΊΌΎΏϊϋΐΰ",
    "Cyrl": "АБВГҐДЕЄЁЖЗИІЇЙКЛМНОПРСТУЎФХЦЧШЩЪЫЬЭЮЯабвгґдеєёжзиіїйклмнопрстуўфхцчшщъыьэюяЈјЉљЊњЋћЏџ",
    "Arab": "ءآأؤإئابةتثجحخدذرزسشصضطظعغفقكلمنهوىيًٌٍَُِّْ٠١٢٣٤٥٦٧٨٩،؛؟پچژگکی",
    # Scripts Chorus bundles no font for: a few letters each, so the check fails clearly instead of passing blindly.
    "Hebr": "אבגדהוזחטיכלמנסעפצקרשת",
    "Ethi": "ሀለሐመሠረሰሸቀበተቸነአከወዐዘየደገጠጰጸፀፈፐ",
    "Jpan": "あいうえおかアイウエオ日本語",
    "Hans": "中文简体字们这",
    "Hant": "中文繁體字們這",
    "Kore": "한국어가나다",
    "Deva": "अआइईउऊकखगघ",
    "Beng": "অআইঈউকখগ",
    "Thai": "กขคงจฉชซ",
    "Geor": "აბგდევზთ",
    "Armn": "աբգդեզէը",
    "Taml": "அஆஇஈஉகங",
}


@dataclass(frozen=True)
class FontChoice:
    """A font file and the named instance (weight) to use from it."""

    path: Path
    variation: str | None = "Bold"

    @property
    def name(self) -> str:
        return self.path.name


def _packaged_fonts() -> list[Path]:
    out: list[Path] = []
    for module in _PACKAGED:
        try:
            root = Path(importlib.import_module(module).ROOT) / "files"
        except ImportError:
            continue
        out.extend(sorted(p for p in root.glob("*.ttf") if "Italic" not in p.name))
    return out


def _system_fonts() -> list[Path]:
    out: list[Path] = []
    for d in _SYSTEM_DIRS:
        root = Path(d)
        if root.is_dir():
            for name in _SYSTEM_PREFERRED:
                out.extend(root.rglob(name))
    return out


def _extra_fonts() -> list[Path]:
    d = os.environ.get("CHORUS_FONTS_DIR")
    if not d or not Path(d).is_dir():
        return []
    return sorted(p for p in Path(d).rglob("*") if p.suffix.lower() in {".ttf", ".otf"})


@lru_cache(maxsize=1)
def _candidates_cached(extra: tuple[str, ...]) -> tuple[Path, ...]:
    seen: dict[str, Path] = {}
    for p in [Path(e) for e in extra] + _packaged_fonts() + _system_fonts():
        seen.setdefault(str(p.resolve()), p)
    return tuple(seen.values())


def candidates() -> tuple[Path, ...]:
    """Every font Chorus may use, in order of preference."""
    return _candidates_cached(tuple(str(p) for p in _extra_fonts()))


@lru_cache(maxsize=64)
def _cmap(path: Path) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(str(path), lazy=True, fontNumber=0) as font:
        return frozenset(font.getBestCmap() or {})


def _needs_glyph(ch: str) -> bool:
    # Spaces, joiners and direction marks are layout controls: no font draws them.
    return not (ch.isspace() or unicodedata.category(ch) in {"Cc", "Cf", "Zs", "Zl", "Zp"})


def missing_characters(path: Path, text: str) -> str:
    """The characters of `text` that the font has no glyph for, each once, in order."""
    cmap = _cmap(path)
    out: list[str] = []
    for ch in text:
        if _needs_glyph(ch) and ord(ch) not in cmap and ch not in out:
            out.append(ch)
    return "".join(out)


def _variation_for(path: Path) -> str | None:
    from PIL import ImageFont

    try:
        names = ImageFont.truetype(str(path), 12).get_variation_names()
    except Exception:  # not a variable font: its own weight is the one used
        return None
    return "Bold" if b"Bold" in names else None


def font_for(language: str, text: str = "") -> FontChoice:
    """The first font that covers the script of `language` and every character of `text`.

    Raises MediaError naming the language, the characters no font has and how to add a font.
    """
    script = languages.script(language)
    needed = EXEMPLARS.get(script, "") + text
    if not needed:
        raise MediaError(f"Chorus cannot check fonts for {_name(language)} ({language}, script {script})",
                         "put a font for that script in CHORUS_FONTS_DIR; captions are checked against it when rendered")
    best: tuple[int, Path] | None = None
    for path in candidates():
        missing = missing_characters(path, needed)
        if not missing:
            return FontChoice(path, _variation_for(path))
        if best is None or len(missing) < best[0]:
            best = (len(missing), path)
    sample = missing_characters(best[1], needed)[:12] if best else needed[:12]
    raise MediaError(
        f"no installed font covers {_name(language)} ({language}, script {script}): "
        f"missing glyphs for {sample!r}",
        "install a font for that script (e.g. `pip install fontpkg-noto-sans-<script>`) or put a .ttf/.otf "
        "in the folder named by CHORUS_FONTS_DIR",
    )


def _name(tag: str) -> str:
    try:
        return languages.display_name(tag)
    except Exception:  # language names need the optional language_data package
        import langcodes

        return {"am": "Amharic", "he": "Hebrew", "ja": "Japanese", "zh": "Chinese", "ko": "Korean", "hi": "Hindi",
                "ka": "Georgian", "hy": "Armenian", "th": "Thai"}.get(langcodes.Language.get(tag).language or tag, tag)


def check_languages(tags: list[str]) -> dict[str, FontChoice]:
    """A font for every campaign language; one MediaError listing every language that has none."""
    chosen: dict[str, FontChoice] = {}
    problems: list[str] = []
    for tag in tags:
        try:
            chosen[tag] = font_for(tag)
        except MediaError as err:
            problems.append(err.problem)
    if problems:
        raise MediaError("; ".join(problems), "install a font for each script listed or set CHORUS_FONTS_DIR")
    return chosen
