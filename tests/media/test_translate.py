"""Translation: translator files, DeepL and LibreTranslate against their fakes (429, 5xx, quota, auth), glossary, re-wrapping."""
from __future__ import annotations

import pytest

from media.captioning import rules_for
from media.cues import Cue
from media.translate import MACHINE, TRANSLATOR_FILE, Glossary, TranslationError, translate_cues
from media.translate.deepl import DeepLTranslator, target_code
from media.translate.files import read_translation
from media.translate.http import session
from media.translate.libretranslate import LibreTranslateTranslator
from tests.media.fakes.translation_servers import FakeDeepL, FakeLibreTranslate

SOURCE = [
    Cue(0.3, 2.1, "Your vote is your voice."),
    Cue(2.4, 6.3, "Next spring, millions of young\nEuropeans vote for the first time."),
    Cue(6.6, 10.4, "Register today with First Vote."),
]
FAST = dict(retries=3, backoff_s=0.01)


def deepl(fake, key="test-key") -> DeepLTranslator:
    return DeepLTranslator(key, fake.url, timeout_s=5, session=session(**FAST))


def libre(fake, key="test-key") -> LibreTranslateTranslator:
    return LibreTranslateTranslator(fake.url, key, timeout_s=5, session=session(**FAST))


def test_deepl_translates_keeps_timings_and_marks_machine():
    with FakeDeepL() as fake:
        result = translate_cues(SOURCE, deepl(fake), "en", "de")
    assert result.origin == MACHINE and result.is_machine and result.provider == "deepl"
    assert [(c.start, c.end) for c in result.cues] == [(c.start, c.end) for c in SOURCE]
    assert "Stimme" in result.cues[0].text
    req = fake.state.requests[0]
    assert req["headers"]["Authorization"] == "DeepL-Auth-Key test-key"
    assert req["body"]["target_lang"] == "DE" and req["body"]["source_lang"] == "EN"
    assert req["body"]["tag_handling"] == "xml" and req["body"]["ignore_tags"] == ["x"]


def test_deepl_batches_within_the_50_text_limit():
    cues = [Cue(i, i + 0.9, f"your vote {i}") for i in range(120)]
    with FakeDeepL() as fake:
        result = translate_cues(cues, deepl(fake), "en", "es")
    assert len(result.cues) == 120
    assert [len(r["body"]["text"]) for r in fake.state.requests] == [50, 50, 20]


def test_deepl_retries_after_429_with_retry_after_and_after_5xx():
    with FakeDeepL() as fake:
        fake.state.faults = [(429, {"Retry-After": "0"}), (503, {}), (500, {})]
        result = translate_cues(SOURCE, deepl(fake), "en", "de")
    assert len(result.cues) == 3
    assert len(fake.state.requests) == 4   # three refusals, then the answer


def test_deepl_gives_up_with_one_clear_message_when_5xx_persists():
    with FakeDeepL() as fake:
        fake.state.faults = [(502, {})] * 10
        with pytest.raises(TranslationError) as err:
            translate_cues(SOURCE, deepl(fake), "en", "de")
    assert "DeepL" in err.value.line and "retries" in err.value.line
    assert len(fake.state.requests) == 4   # the first try and three retries, bounded


def test_deepl_quota_and_bad_key_are_permanent_and_never_show_the_key():
    with FakeDeepL() as fake:
        fake.state.quota = 10
        with pytest.raises(TranslationError) as quota:
            translate_cues(SOURCE, deepl(fake), "en", "de")
        assert "456" in quota.value.line and "quota" in quota.value.line
        assert len(fake.state.requests) == 1   # 456 is not retried
        with pytest.raises(TranslationError) as auth:
            translate_cues(SOURCE, deepl(fake, key="s3cret-wrong-key"), "en", "de")
    assert "403" in auth.value.line and "s3cret" not in auth.value.line


def test_deepl_target_codes():
    assert target_code("en") == "EN-GB" and target_code("en-US") == "EN-US"
    assert target_code("pt-BR") == "PT-BR" and target_code("pt") == "PT-PT" and target_code("uk") == "UK"


def test_libretranslate_translates_with_api_key():
    with FakeLibreTranslate() as fake:
        result = translate_cues(SOURCE, libre(fake), "en", "es")
    assert result.origin == MACHINE and result.provider == "libretranslate"
    assert "voto" in result.cues[0].text
    body = fake.state.requests[0]["body"]
    assert body["api_key"] == "test-key" and body["source"] == "en" and body["target"] == "es" and len(body["q"]) == 3


def test_libretranslate_retries_429_and_500():
    with FakeLibreTranslate() as fake:
        fake.state.faults = [(429, {"Retry-After": "0"}), (500, {})]
        result = translate_cues(SOURCE, libre(fake), "en", "de")
    assert len(result.cues) == 3 and len(fake.state.requests) == 3


def test_libretranslate_errors_are_clear():
    with FakeLibreTranslate() as fake:
        with pytest.raises(TranslationError) as bad_key:
            translate_cues(SOURCE, libre(fake, key="nope-secret"), "en", "de")
        with pytest.raises(TranslationError) as unsupported:
            translate_cues(SOURCE, libre(fake), "en", "ja")
    assert "403" in bad_key.value.line and "nope-secret" not in bad_key.value.line
    assert "400" in unsupported.value.line and "ja is not supported" in unsupported.value.line


def test_unreachable_provider_is_one_message():
    t = LibreTranslateTranslator("http://127.0.0.1:9", None, timeout_s=1, session=session(retries=0, backoff_s=0))
    with pytest.raises(TranslationError, match="cannot be reached"):
        translate_cues(SOURCE, t, "en", "de")


def test_glossary_terms_are_applied_through_machine_translation():
    glossary = Glossary({"*": {"First Vote": "First Vote"}, "de": {"register": "registrieren"}})
    with FakeDeepL() as fake:
        result = translate_cues(SOURCE, deepl(fake), "en", "de", glossary)
    sent = fake.state.requests[0]["body"]["text"][2]
    assert "First Vote" not in sent and "<x id=" in sent          # protected from the translator
    flat = " ".join(result.cues[2].text.split())
    assert "First Vote" in flat and "registrieren" in flat       # the fake would have said FIRST / anmelden
    assert "FIRST" not in flat and "anmelden" not in flat
    assert result.glossary_issues == ()


def test_glossary_check_flags_a_translator_file_that_ignores_a_term(tmp_path):
    srt = tmp_path / "asset.de.srt"
    srt.write_text("1\n00:00:00,300 --> 00:00:02,100\nDeine Stimme zählt.\n\n2\n00:00:02,400 --> 00:00:06,300\n"
                   "Im Frühling wählen viele.\n\n3\n00:00:06,600 --> 00:00:10,400\nMelde dich heute bei Erste Wahl an.\n",
                   encoding="utf-8")
    result = read_translation(srt, "de", SOURCE, Glossary({"de": {"First Vote": "First Vote"}}))
    assert result.origin == TRANSLATOR_FILE and not result.is_machine
    assert len(result.glossary_issues) == 1 and "cue 3" in result.glossary_issues[0]
    assert "'First Vote'" in result.glossary_issues[0]


def test_translator_csv_takes_source_timings_and_rewraps(tmp_path):
    csv_file = tmp_path / "asset.es.csv"
    csv_file.write_text("cue;text\n1;Tu voto es tu voz.\n2;La próxima primavera, millones de jóvenes europeos votarán "
                        "por primera vez en su vida.\n3;Inscríbete hoy.\n", encoding="utf-8")
    result = read_translation(csv_file, "es", SOURCE)
    assert [(c.start, c.end) for c in result.cues] == [(c.start, c.end) for c in SOURCE]
    limit = rules_for("es").max_chars_per_line
    assert "\n" in result.cues[1].text and all(len(line) <= limit for line in result.cues[1].lines)


def test_translator_csv_with_a_missing_cue_is_one_clear_error(tmp_path):
    csv_file = tmp_path / "asset.es.csv"
    csv_file.write_text("cue,text\n1,Tu voto es tu voz.\n3,Inscríbete hoy.\n", encoding="utf-8")
    with pytest.raises(TranslationError, match=r"missing cue\(s\) \[2\]"):
        read_translation(csv_file, "es", SOURCE)


def test_translator_vtt_and_missing_file(tmp_path):
    vtt = tmp_path / "asset.ar.vtt"
    vtt.write_text("WEBVTT\n\n00:00.300 --> 00:02.100\nصوتك هو صوتك.\n", encoding="utf-8")
    result = read_translation(vtt, "ar", SOURCE[:1])
    assert result.cues[0].text == "صوتك هو صوتك." and result.language == "ar"
    with pytest.raises(TranslationError, match="not found"):
        read_translation(tmp_path / "nope.srt", "de", SOURCE)


def test_markup_characters_survive_xml_tag_handling():
    cues = [Cue(0, 1, "Rock & Roll <3 your vote")]
    with FakeDeepL() as fake:
        result = translate_cues(cues, deepl(fake), "en", "de", Glossary({"*": {"Rock": "Rock"}}))
        sent = fake.state.requests[0]["body"]["text"][0]
    assert "&amp;" in sent and "&lt;3" in sent and '<x id="0"/>' in sent
    assert "& Roll" in result.cues[0].text.replace("ROLL", "Roll") and "<3" in result.cues[0].text
    assert result.cues[0].text.startswith("de: Rock")
