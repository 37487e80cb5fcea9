"""SRT, WebVTT and JSON round trips of caption cues, and reading files people export."""
from __future__ import annotations

import pysubs2
import pytest

from campaign.errors import MediaError
from media.cues import Cue, Word, from_json, json_meta, parse_raw, parse_subtitles, read_subtitles, to_json, to_srt, to_vtt

CUES = [
    Cue(0.0, 1.58, "Your vote is your voice.", (Word(0.0, 0.46, "Your", 0.9), Word(0.46, 0.72, "vote", 0.8))),
    Cue(2.06, 6.32, "Next spring, millions of Europeans\nvote for the first time."),
    Cue(6.76, 9.901, "¿Votas por primera vez? — «Inscríbete» hoy"),
    Cue(10.0, 11.5, "صوتك هو صوتك"),
]


def plain(cues):
    """What SRT/WebVTT keep: times to the millisecond and text (no word timings)."""
    return [Cue(round(c.start, 3), round(c.end, 3), c.text) for c in cues]


@pytest.mark.parametrize("writer,fmt", [(to_srt, "srt"), (to_vtt, "vtt")])
def test_subtitle_formats_round_trip(writer, fmt):
    text = writer(CUES)
    assert parse_subtitles(text, fmt) == plain(CUES)
    assert parse_subtitles(text) == plain(CUES)  # the format is recognised without a hint


def test_vtt_starts_with_its_signature_and_srt_numbers_cues():
    assert to_vtt(CUES).startswith("WEBVTT")
    assert to_srt(CUES).splitlines()[0] == "1"
    assert "00:00:02,060 --> 00:00:06,320" in to_srt(CUES)
    assert "00:00:02.060 --> 00:00:06.320" in to_vtt(CUES)


def test_json_keeps_word_timings_and_metadata():
    text = to_json(CUES, language="en", origin="automatic")
    assert from_json(text) == CUES
    meta = json_meta(text)
    assert meta["language"] == "en" and meta["origin"] == "automatic"


def test_vtt_notes_styles_and_cue_settings_are_not_caption_text():
    text = ("WEBVTT\n\nNOTE made by a person\nover two lines\n\nSTYLE\n::cue { color: yellow }\n\n"
            "00:00.500 --> 00:02.000 line:90% align:center\n<b>Your</b> vote\n\nNOTE a second note\n\n"
            "00:02.500 --> 00:03.000\nis your voice\n")
    assert parse_subtitles(text) == [Cue(0.5, 2.0, "Your vote"), Cue(2.5, 3.0, "is your voice")]


def test_raw_parse_keeps_file_order_for_review():
    text = "1\n00:00:02,000 --> 00:00:03,000\nsecond\n\n2\n00:00:01,000 --> 00:00:01,500\nfirst\n"
    fmt, raw = parse_raw(text)
    assert fmt == "srt"
    assert [(r.number, r.text) for r in raw] == [(1, "second"), (2, "first")]


def test_read_subtitles_refuses_non_utf8(tmp_path):
    path = tmp_path / "captions.srt"
    path.write_bytes("1\n00:00:00,000 --> 00:00:01,000\nStimme zählt\n".encode("latin-1"))
    with pytest.raises(MediaError, match="not UTF-8"):
        read_subtitles(path)


def test_something_that_is_not_subtitles_gets_one_clear_error():
    with pytest.raises(MediaError, match="not a valid SRT or WebVTT"):
        parse_subtitles("Dear team, the captions are attached.\nRegards")


def test_other_subtitle_formats_are_refused_by_name():
    subs = pysubs2.SSAFile()
    subs.append(pysubs2.SSAEvent(start=0, end=1000, text="Hi"))
    with pytest.raises(MediaError, match="ASS subtitle file, not SRT or WebVTT"):
        parse_subtitles(subs.to_string("ass"))


def test_broken_json_gets_a_media_error():
    with pytest.raises(MediaError, match="caption JSON"):
        from_json('{"cues": [{"start": 0}]}')
