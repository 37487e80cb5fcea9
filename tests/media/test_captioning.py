"""Cue rules on known word timings: wrapping, reading speed, punctuation breaks, cue length, no overlaps, the video's end."""
from __future__ import annotations

import pytest

from campaign.platforms import FORMATS
from media.captioning import CaptionRules, build_cues, check_cues, reflow, rules_for, wrap_text
from media.cues import Cue, Word


def timed(text: str, start: float, seconds_per_word: float, gap: float = 0.0) -> list[Word]:
    """Words of `text` spoken one after another from `start`, each lasting seconds_per_word."""
    out, t = [], start
    for token in text.split():
        out.append(Word(round(t, 3), round(t + seconds_per_word, 3), token))
        t += seconds_per_word + gap
    return out


def assert_valid(cues: list[Cue], words: list[Word], rules: CaptionRules, duration: float) -> None:
    # Every word is kept, in order, whole and with its own timing (a word still spoken when the video ends is cut there).
    kept = [w if w.end <= duration else Word(w.start, duration, w.text, w.probability) for w in words if w.start < duration]
    assert [w for c in cues for w in c.words] == kept
    for c in cues:
        assert c.text.replace("\n", " ") == " ".join(w.text for w in c.words)
        assert len(c.lines) <= rules.max_lines
        assert all(len(line) <= rules.max_chars_per_line for line in c.lines)
        assert 0 <= c.start < c.end <= duration
    for a, b in zip(cues, cues[1:]):
        assert a.end <= b.start
    assert [i for i in check_cues(cues, rules, video_duration=duration) if i.severity == "error"] == []


def test_a_long_sentence_wraps_onto_two_balanced_lines():
    words = timed("Next spring, millions of young Europeans vote for the first time.", 0.0, 0.4)
    rules = CaptionRules()
    cues = build_cues(words, rules, video_duration=10.0, language="en")
    assert len(cues) == 1
    first, second = cues[0].lines
    assert abs(len(first) - len(second)) <= 12
    assert_valid(cues, words, rules, 10.0)


def test_a_line_breaks_at_the_comma_when_it_can():
    words = timed("If this is your first election, register before the end of March.", 0.0, 0.4)
    cues = build_cues(words, CaptionRules(), video_duration=10.0, language="en")
    assert cues[0].lines == ["If this is your first election,", "register before the end of March."]


def test_lines_never_end_on_an_article_or_split_a_word():
    words = timed("Make sure that the people in your street know where the polling station is.", 0.0, 0.35)
    rules = CaptionRules()
    cues = build_cues(words, rules, video_duration=10.0, language="en")
    for c in cues:
        for line in c.lines[:-1]:
            assert line.split()[-1].lower() not in {"the", "a", "of", "your"}
    assert_valid(cues, words, rules, 10.0)


def test_cues_break_at_sentence_ends():
    words = (timed("Your vote is your voice.", 0.0, 0.3) + timed("Next spring, millions vote for the first time.", 1.8, 0.3)
             + timed("Register today.", 4.6, 0.35))
    rules = CaptionRules()
    cues = build_cues(words, rules, video_duration=8.0, language="en")
    for c in cues:
        # a cue that ends a sentence does not carry the start of the next one
        assert c.text.rstrip().endswith((".", ","))
    assert cues[0].text == "Your vote is your voice."
    assert_valid(cues, words, rules, 8.0)


def test_a_too_fast_passage_is_split_and_each_cue_gets_reading_time():
    # About 80 characters spoken in 3 s (27 characters per second), then a short word and a pause.
    fast = timed("Registration closes on the first of March, so check your details online tonight.", 0.0, 0.23)
    tail = [Word(3.3, 3.6, "Vote!")]
    words = fast + tail
    rules = CaptionRules()
    one = " ".join(w.text for w in fast)
    assert len(one) <= 2 * rules.max_chars_per_line  # it would fit one cue by length...
    assert len(one) / (tail[0].start + rules.max_lag_s - fast[0].start) > rules.max_cps  # ...but not by reading speed
    cues = build_cues(words, rules, video_duration=9.0, language="en")
    assert len(cues) >= 2
    assert cues[0].words[-1] != fast[-1]  # the fast passage was split
    for c in cues:
        assert len(c.text.replace("\n", " ")) / (c.end - c.start) <= rules.max_cps + 0.01
        assert c.start - c.words[0].start <= rules.max_lag_s + 1e-6
    assert_valid(cues, words, rules, 9.0)


def test_long_continuous_speech_becomes_cues_of_at_most_seven_seconds():
    words = timed(" ".join(["people"] * 60), 0.0, 0.45)  # 27 s of speech without punctuation
    rules = CaptionRules()
    cues = build_cues(words, rules, video_duration=30.0, language="en")
    assert len(cues) >= 4
    for c in cues:
        assert c.end - c.start <= rules.max_duration_s + 1e-6
    assert_valid(cues, words, rules, 30.0)


def test_a_short_word_stays_on_screen_at_least_a_second():
    words = [Word(1.0, 1.2, "Hi."), Word(4.0, 4.3, "Vote.")]
    rules = CaptionRules()
    cues = build_cues(words, rules, video_duration=10.0, language="en")
    assert [c.text for c in cues] == ["Hi.", "Vote."]
    assert all(c.end - c.start >= rules.min_duration_s for c in cues)


def test_no_cue_runs_past_the_end_of_the_video():
    words = timed("Register today and make sure your voice is heard.", 8.0, 0.3)
    rules = CaptionRules()
    cues = build_cues(words, rules, video_duration=9.5, language="en")
    assert cues and cues[-1].end <= 9.5
    # words spoken after the end (a hallucination or a trimmed video) are dropped, not squeezed in
    assert all(w.start < 9.5 for c in cues for w in c.words)
    assert_valid(cues, words, rules, 9.5)


def test_no_overlaps_when_reading_time_pushes_into_the_next_phrase():
    words = timed("One two three four five six seven eight nine ten eleven twelve thirteen.", 0.0, 0.12) + \
        timed("Fourteen fifteen sixteen seventeen eighteen nineteen twenty.", 1.7, 0.12)
    rules = CaptionRules()
    cues = build_cues(words, rules, video_duration=6.0, language="en")
    assert_valid(cues, words, rules, 6.0)


def test_vertical_frames_get_shorter_lines_and_the_same_words():
    text = "Next spring, millions of young Europeans vote for the first time in their lives."
    words = timed(text, 0.0, 0.35)
    vertical = rules_for("en", FORMATS["9:16"])
    wide = rules_for("en", FORMATS["16:9"])
    assert vertical.max_chars_per_line < wide.max_chars_per_line == 42
    cues = build_cues(words, vertical, video_duration=10.0, language="en")
    assert max(len(line) for c in cues for line in c.lines) <= vertical.max_chars_per_line
    assert_valid(cues, words, vertical, 10.0)


def test_languages_without_spaces_join_words_directly():
    words = [Word(0.0, 0.4, "你的"), Word(0.4, 0.8, "选票"), Word(0.8, 1.2, "就是"), Word(1.2, 1.6, "你的"), Word(1.6, 2.0, "声音。")]
    rules = rules_for("zh")
    cues = build_cues(words, rules, video_duration=5.0, language="zh")
    assert "".join(c.text.replace("\n", "") for c in cues) == "你的选票就是你的声音。"
    assert rules.max_chars_per_line < 42


def test_reflow_rebuilds_cues_from_words_for_a_narrower_frame():
    words = timed("Next spring, millions of young Europeans vote for the first time in their lives.", 0.0, 0.35)
    wide = build_cues(words, CaptionRules(), video_duration=10.0, language="en")
    narrow_rules = rules_for("en", FORMATS["9:16"])
    narrow = reflow(wide, narrow_rules, video_duration=10.0, language="en")
    assert_valid(narrow, words, narrow_rules, 10.0)


def test_reflow_without_words_rewraps_text_and_shares_time():
    cue = Cue(1.0, 5.0, "Lass dich heute registrieren und sorge dafür, dass deine Stimme gehört wird, denn sie zählt.")
    rules = rules_for("de", FORMATS["9:16"])
    out = reflow([cue], rules, video_duration=6.0, language="de")
    assert out[0].start == 1.0 and out[-1].end == 5.0
    assert " ".join(c.text.replace("\n", " ") for c in out) == cue.text
    assert all(len(line) <= rules.max_chars_per_line for c in out for line in c.lines)
    assert all(len(c.lines) <= rules.max_lines for c in out)


def test_wrap_text_breaks_after_punctuation():
    lines = wrap_text("Your vote is your voice, so register today.", CaptionRules(max_chars_per_line=30), "en")
    assert lines == ["Your vote is your voice,", "so register today."]


@pytest.mark.parametrize("bad", [dict(max_chars_per_line=3), dict(min_duration_s=8.0), dict(max_cps=0)])
def test_nonsense_rules_are_refused(bad):
    with pytest.raises(ValueError):
        CaptionRules(**bad)


@pytest.mark.parametrize("seed", range(40))
def test_random_speech_always_gives_valid_cues(seed):
    """Word streams of random length, speed, pauses and punctuation (seeded): the hard rules always hold."""
    import random

    rng = random.Random(seed)
    vocabulary = ["vote", "your", "voice", "Europe", "registration", "the", "and", "millions", "spring,", "today.",
                  "first-time", "because", "heard!", "internationalisation", "a", "of", "election?"]
    words, t = [], rng.uniform(0.0, 1.0)
    for _ in range(rng.randint(1, 120)):
        length = rng.uniform(0.08, 0.6)
        words.append(Word(round(t, 3), round(t + length, 3), rng.choice(vocabulary)))
        t += length + (rng.uniform(0.5, 3.0) if rng.random() < 0.1 else rng.uniform(0.0, 0.15))
    duration = round(t - rng.uniform(0.0, 1.0), 3)  # sometimes the video ends before the last word
    rules = rules_for("en", FORMATS[rng.choice(list(FORMATS))])
    cues = build_cues(words, rules, video_duration=duration, language="en")
    assert_valid(cues, words, rules, duration)
    for c in cues:
        assert c.end - c.start <= rules.max_duration_s + 1e-6
