"""Caption fonts: every script of the campaign covered, one clear error when a language has no font."""
from __future__ import annotations

import pytest

from campaign.errors import MediaError
from media import fonts


@pytest.mark.parametrize("lang", ["en", "de", "pl", "cs", "hu", "ro", "lv", "lt", "mt", "ga", "el", "bg", "uk", "ru",
                                  "sr-Cyrl", "ar", "fa"])
def test_each_campaign_language_has_a_font_covering_its_whole_script(lang):
    choice = fonts.font_for(lang)
    script = fonts.languages.script(lang)
    assert fonts.missing_characters(choice.path, fonts.EXEMPLARS[script]) == ""


def test_arabic_and_persian_get_an_arabic_font_and_latin_does_not_need_one():
    assert "Arabic" in fonts.font_for("fa", "رأی تو صدای توست").name
    assert "Arabic" not in fonts.font_for("de").name


def test_a_caption_character_no_font_has_is_named_in_the_error():
    with pytest.raises(MediaError) as err:
        fonts.font_for("en", "Vote ✊ 日本")
    assert "日" in err.value.problem and "CHORUS_FONTS_DIR" in err.value.line


def test_campaign_check_lists_every_language_without_a_font():
    with pytest.raises(MediaError) as err:
        fonts.check_languages(["de", "am", "ja", "ar"])
    assert "Amharic" in err.value.problem and "(ja" in err.value.problem and "(de" not in err.value.problem
    assert set(fonts.check_languages(["de", "el", "uk", "ar"])) == {"de", "el", "uk", "ar"}


def test_fonts_dir_adds_a_font(tmp_path, monkeypatch):
    extra = tmp_path / "fonts"
    extra.mkdir()
    source = fonts.font_for("ar").path
    (extra / "MyArabic.ttf").write_bytes(source.read_bytes())
    monkeypatch.setenv("CHORUS_FONTS_DIR", str(extra))
    assert fonts.font_for("ar").path.name == "MyArabic.ttf"   # the organisation's own font comes first
