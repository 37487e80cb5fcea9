"""Importing a person's caption file: every broken rule is named with its cue number; good files come back as cues."""
from __future__ import annotations

import pytest

from campaign.errors import MediaError
from media.captioning import CaptionRules
from media.cues import Word
from media.review import CaptionReviewError, validate_caption_bytes, validate_caption_file

GOOD = """1
00:00:00,500 --> 00:00:02,000
Your vote is your voice.

2
00:00:02,100 --> 00:00:06,300
Next spring, millions of Europeans
vote for the first time.
"""


def srt(*cues: tuple[str, str, str]) -> bytes:
    return "\n".join(f"{n}\n{a} --> {b}\n{text}\n" for n, (a, b, text) in enumerate(cues, start=1)).encode()


def issues_of(data: bytes, *, duration: float = 10.0, name: str = "your-vote.en.srt", **kw) -> list[str]:
    with pytest.raises(CaptionReviewError) as err:
        validate_caption_bytes(data, source=name, video_duration=duration, **kw)
    return [str(i) for i in err.value.issues]


def test_a_good_file_is_accepted_with_its_cues():
    result = validate_caption_bytes(GOOD.encode(), source="your-vote.en.srt", video_duration=10.8)
    assert result.format == "srt"
    assert [c.text for c in result.cues] == ["Your vote is your voice.", "Next spring, millions of Europeans\nvote for the first time."]
    assert result.warnings == ()


def test_a_vtt_file_with_a_byte_order_mark_is_accepted():
    data = "\ufeffWEBVTT\n\n00:00.500 --> 00:02.000\nTu voto es tu voz.\n".encode()
    result = validate_caption_bytes(data, source="your-vote.es.vtt", video_duration=5.0)
    assert result.format == "vtt" and result.cues[0].text == "Tu voto es tu voz."


def test_overlapping_cues_are_named():
    found = issues_of(srt(("00:00:00,000", "00:00:03,000", "Your vote"), ("00:00:02,500", "00:00:04,000", "is your voice")))
    assert found == ["cue 2: no overlap: starts at 00:00:02.500, before cue 1 ends at 00:00:03.000"]


def test_a_cue_past_the_end_of_the_video_is_named():
    found = issues_of(srt(("00:00:08,000", "00:00:12,000", "Register today.")), duration=10.8)
    assert found == ["cue 1: inside video: ends at 00:00:12.000, after the video ends at 00:00:10.800"]


def test_a_backwards_cue_is_named():
    found = issues_of(srt(("00:00:04,000", "00:00:03,000", "Register today.")))
    assert found[0].startswith("cue 1: timing: ends")


def test_line_rules_are_named_with_the_line():
    long_line = "Next spring millions of young Europeans vote for the first time"
    found = issues_of(srt(("00:00:00,000", "00:00:03,000", "ok"), ("00:00:03,000", "00:00:08,000", long_line),
                          ("00:00:08,000", "00:00:10,000", "one\ntwo\nthree")))
    assert found == [f"cue 2: line length: line 1 has {len(long_line)} characters; at most 42 allowed",
                     "cue 3: line count: has 3 lines; at most 2 allowed"]


def test_line_rules_follow_the_settings():
    data = srt(("00:00:00,000", "00:00:05,000", "Next spring, millions of Europeans"))
    assert validate_caption_bytes(data, source="a.srt", video_duration=6.0).cues
    found = issues_of(data, duration=6.0, rules=CaptionRules(max_chars_per_line=32))
    assert found == ["cue 1: line length: line 1 has 34 characters; at most 32 allowed"]


def test_a_missing_timing_line_is_reported_where_it_happened():
    data = b"1\n00:00:00,000 --> 00:00:02,000\nYour vote\n\n2\nis your voice\n\n3\n00:00:03,000 --> 00:00:04,000\nRegister\n"
    found = issues_of(data)
    assert found[0].startswith("cue 1: format: contains a blank line")


def test_every_problem_is_listed_in_one_message():
    data = srt(("00:00:00,000", "00:00:03,000", "a"), ("00:00:02,000", "00:00:04,000", "b"), ("00:00:09,000", "00:00:12,000", "c"))
    with pytest.raises(CaptionReviewError) as err:
        validate_caption_bytes(data, source="x.srt", video_duration=10.0)
    assert len(err.value.issues) == 2
    assert "x.srt: 2 problems" in err.value.line and "cue 2: no overlap" in err.value.line and "cue 3: inside video" in err.value.line
    assert isinstance(err.value, MediaError)


def test_reading_speed_is_a_warning_not_an_error():
    data = srt(("00:00:00,000", "00:00:01,000", "Next spring, millions of Europeans vote"))
    result = validate_caption_bytes(data, source="a.srt", video_duration=5.0)
    assert [w.rule for w in result.warnings] == ["reading speed"]


def test_not_utf8_is_refused_with_the_fix():
    with pytest.raises(MediaError, match="not UTF-8.*save the caption file as UTF-8"):
        validate_caption_bytes(srt(("00:00:00,000", "00:00:01,000", "Stimme zählt")).decode().encode("cp1252"),
                               source="a.srt", video_duration=5.0)


def test_an_empty_file_is_refused():
    with pytest.raises(MediaError, match="is empty"):
        validate_caption_bytes(b"\n\n", source="a.srt", video_duration=5.0)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(MediaError, match="caption file not found"):
        validate_caption_file(tmp_path / "nope.srt", video_duration=5.0)


def test_reviewed_cues_keep_word_timings_where_the_text_still_matches():
    words = [Word(0.5, 0.9, "Your"), Word(0.9, 1.2, "vote"), Word(1.2, 1.4, "is"), Word(1.4, 1.6, "your"), Word(1.6, 1.9, "voice."),
             Word(2.2, 2.6, "Next"), Word(2.6, 3.0, "spring,")]
    data = srt(("00:00:00,500", "00:00:02,000", "Your vote is your voice."), ("00:00:02,100", "00:00:04,000", "Next summer,"))
    result = validate_caption_bytes(data, source="a.srt", video_duration=5.0, words=words)
    assert result.cues[0].words == tuple(words[:5])
    assert result.cues[1].words == ()  # the person changed the text, so the spoken words no longer match it
