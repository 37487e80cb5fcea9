"""From timed words to readable cues: line length, two lines, reading speed, cue length, breaks at punctuation and clauses, no overlaps."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from functools import lru_cache

from campaign import languages
from campaign.platforms import VideoFormat
from media.cues import Cue, Word

# Scripts written without spaces between words: words are joined directly and lines hold fewer characters.
_NO_SPACE_LANGS = {"zh", "ja", "th", "lo", "km", "my", "bo", "yue"}
_CJK_LANGS = {"zh", "ja", "yue"}
_SENTENCE_END = re.compile(r"[.!?…。！？؟।]['\"”’»)\]]*$")
_CLAUSE_END = re.compile(r"[,;:，、；：،–—)\]]['\"”’»]*$")
# Words a line or cue should not end on, and words a new line or cue may start with (a clause boundary).
_FUNCTION_WORDS = {
    "en": ({"a", "an", "the", "of", "to", "in", "on", "at", "for", "with", "my", "your", "our", "their", "his", "her", "its"},
           {"and", "but", "or", "so", "because", "that", "which", "who", "when", "where", "if", "while", "although", "to"}),
    "de": ({"der", "die", "das", "den", "dem", "des", "ein", "eine", "einen", "einem", "zu", "im", "am", "mit", "für", "von", "deine", "dein", "unsere"},
           {"und", "aber", "oder", "denn", "weil", "dass", "wenn", "die", "der", "das", "ob", "damit", "sondern"}),
    "es": ({"el", "la", "los", "las", "un", "una", "de", "del", "a", "al", "en", "tu", "su", "por", "para", "con"},
           {"y", "e", "pero", "o", "u", "porque", "que", "cuando", "donde", "si", "aunque", "para"}),
    "fr": ({"le", "la", "les", "un", "une", "de", "du", "des", "à", "au", "en", "ta", "ton", "votre", "pour", "avec"},
           {"et", "mais", "ou", "donc", "car", "parce", "que", "qui", "quand", "si", "pour"}),
    "it": ({"il", "lo", "la", "i", "gli", "le", "un", "una", "di", "a", "da", "in", "con", "su", "per", "tuo", "tua"},
           {"e", "ma", "o", "perché", "che", "quando", "se", "per"}),
    "pt": ({"o", "a", "os", "as", "um", "uma", "de", "do", "da", "em", "no", "na", "teu", "tua", "seu", "sua", "por", "para", "com"},
           {"e", "mas", "ou", "porque", "que", "quando", "se", "para"}),
    "nl": ({"de", "het", "een", "van", "in", "op", "te", "je", "jouw", "met", "voor"},
           {"en", "maar", "of", "want", "omdat", "dat", "die", "als", "wanneer"}),
}


@dataclass(frozen=True)
class CaptionRules:
    """Readability rules for one language and frame (defaults follow common broadcast guidance)."""

    max_chars_per_line: int = 42
    max_lines: int = 2
    max_cps: float = 17.0          # reading speed, characters per second
    min_duration_s: float = 1.0
    max_duration_s: float = 7.0
    max_lag_s: float = 1.0         # how much later than its speech a cue may start, to give fast speech reading time
    min_gap_s: float = 0.0         # space between consecutive cues
    pause_break_s: float = 1.0     # a silence this long inside a cue is strongly avoided

    def __post_init__(self) -> None:
        if self.max_chars_per_line < 8 or self.max_lines < 1 or self.max_cps <= 0:
            raise ValueError("caption rules need at least 8 characters per line, 1 line and a positive reading speed")
        if not 0 < self.min_duration_s <= self.max_duration_s:
            raise ValueError("caption rules need 0 < min_duration_s <= max_duration_s")


def rules_for(language: str | None = None, fmt: VideoFormat | None = None, base: CaptionRules | None = None) -> CaptionRules:
    """Rules for a language and frame: narrower lines on vertical and square frames, fewer characters in CJK scripts."""
    rules = base or CaptionRules()
    chars = rules.max_chars_per_line
    if fmt is not None:
        if fmt.height > fmt.width * 1.2:      # 9:16: the frame is barely wider than a phone's thumb
            chars = min(chars, 32)
        elif fmt.height >= fmt.width * 0.95:  # 1:1 and 4:5
            chars = min(chars, 37)
    cps = rules.max_cps
    if language and languages.base_language(language) in _CJK_LANGS:
        chars = min(chars, 16 if fmt is None or fmt.height <= fmt.width else 13)
        cps = min(cps, 9.0)
    return replace(rules, max_chars_per_line=chars, max_cps=cps)


def _lang(language: str | None) -> str:
    return languages.base_language(language) if language else ""


def joiner(language: str | None) -> str:
    return "" if _lang(language) in _NO_SPACE_LANGS else " "


def _bare(word: str) -> str:
    return re.sub(r"^[\W_]+|[\W_]+$", "", word.lower())


def _break_cost(words: list[Word], k: int, lang: str) -> float:
    """Cost of a break after words[k] (0 best): sentence end, clause punctuation, before a conjunction, a pause."""
    if k >= len(words) - 1:
        return 0.0
    word, nxt = words[k].text, words[k + 1].text
    ends, starts = _FUNCTION_WORDS.get(lang, (set(), set()))
    if _SENTENCE_END.search(word):
        cost = 0.0
    elif _CLAUSE_END.search(word):
        cost = 1.0
    elif _bare(nxt) in starts:
        cost = 2.0
    else:
        cost = 4.0
    if _bare(word) in ends and not _CLAUSE_END.search(word) and not _SENTENCE_END.search(word):
        cost += 3.0  # never leave "the" or "of" hanging at the end of a line
    gap = words[k + 1].start - words[k].end
    if gap >= 0.3:
        cost = max(0.0, cost - 1.5)
    return cost


@dataclass(frozen=True)
class _Layout:
    lines: tuple[str, ...]
    cost: float


def _text(words: list[Word], i: int, j: int, join: str) -> str:
    return join.join(w.text for w in words[i:j])


def _layout(words: list[Word], i: int, j: int, rules: CaptionRules, lang: str, join: str) -> _Layout | None:
    """The best way to put words[i:j] on at most max_lines lines of at most max_chars_per_line, or None."""
    n = rules.max_chars_per_line
    whole = _text(words, i, j, join)
    if len(whole) <= n:
        # One line unless a sentence ends inside it and two lines would fit anyway.
        inner = [k for k in range(i, j - 1) if _SENTENCE_END.search(words[k].text)]
        if not inner or rules.max_lines < 2:
            return _Layout((whole,), 0.0)
        k = inner[-1] + 1
        return _Layout((_text(words, i, k, join), _text(words, k, j, join)), 0.5)
    if j - i == 1:
        return _Layout((whole,), 0.0)  # one word longer than a line: it cannot be broken, so it stands alone

    @lru_cache(maxsize=None)
    def best(start: int, lines_left: int) -> tuple[float, tuple[str, ...]] | None:
        rest = _text(words, start, j, join)
        if len(rest) <= n:
            return (3.0 * sum(1 for k in range(start, j - 1) if _SENTENCE_END.search(words[k].text)), (rest,))
        if lines_left <= 1:
            return None
        found: tuple[float, tuple[str, ...]] | None = None
        for end in range(start + 1, j):
            line = _text(words, start, end, join)
            if len(line) > n and end - start > 1:
                break
            tail = best(end, lines_left - 1)
            if tail is None:
                continue
            # Prefer a good break, and two lines of similar length (a bottom-heavy pair reads best).
            balance = abs(len(line) - len(tail[1][0])) / n
            # A sentence that ends mid-line while the next one runs on reads badly: keep sentences on their own lines.
            mixed = 3.0 * sum(1 for k in range(start, end - 1) if _SENTENCE_END.search(words[k].text))
            cost = _break_cost(words, end - 1, lang) + 2.0 * balance + mixed + tail[0]
            if found is None or cost < found[0]:
                found = (cost, (line,) + tail[1])
        return found

    result = best(i, rules.max_lines)
    return _Layout(result[1], result[0]) if result else None


def _chars(text: str) -> int:
    return len(text.replace("\n", " "))


def build_cues(words: list[Word] | tuple[Word, ...], rules: CaptionRules | None = None, *, video_duration: float,
               language: str | None = None) -> list[Cue]:
    """Group timed words into cues that follow the rules; every cue keeps its words and their timings."""
    rules = rules or CaptionRules()
    lang = _lang(language)
    join = joiner(language)
    ws = _prepare(words, video_duration)
    if not ws:
        return []
    n = len(ws)
    inf = math.inf
    best = [inf] * (n + 1)
    back: list[tuple[int, _Layout] | None] = [None] * (n + 1)
    best[0] = 0.0
    max_words = 40
    for j in range(1, n + 1):
        for i in range(j - 1, max(0, j - max_words) - 1, -1):
            if j - i > 1 and len(_text(ws, i, j, join)) > rules.max_lines * (rules.max_chars_per_line + 1):
                break  # adding earlier words only makes it longer
            if best[i] == inf:
                continue
            span = ws[j - 1].end - ws[i].start
            if span > rules.max_duration_s and j - i > 1:
                continue
            layout = _layout(ws, i, j, rules, lang, join)
            if layout is None:
                continue
            cost = best[i] + _cue_cost(ws, i, j, layout, rules, lang, video_duration)
            if cost < best[j]:
                best[j] = cost
                back[j] = (i, layout)
    groups: list[tuple[int, int, _Layout]] = []
    j = n
    while j > 0:
        entry = back[j]
        assert entry is not None  # a single word is always a feasible cue
        i, layout = entry
        groups.append((i, j, layout))
        j = i
    groups.reverse()
    return _time(ws, groups, rules, video_duration)


def _prepare(words: list[Word] | tuple[Word, ...], duration: float) -> list[Word]:
    """Words in time order, inside the video, with no negative lengths (timings otherwise untouched)."""
    out: list[Word] = []
    last_start = 0.0
    for w in sorted(words, key=lambda w: (w.start, w.end)):
        text = w.text.strip()
        if not text or w.start >= duration:
            continue
        start = max(0.0, w.start, last_start)
        end = min(max(w.end, start), duration)
        out.append(Word(start, end, text, w.probability) if (start, end, text) != (w.start, w.end, w.text) else w)
        last_start = start
    return out


def _cue_cost(ws: list[Word], i: int, j: int, layout: _Layout, rules: CaptionRules, lang: str, duration: float) -> float:
    cost = 2.0 + 2.0 * _break_cost(ws, j - 1, lang) + layout.cost
    chars = _chars("\n".join(layout.lines))
    # Time this cue can stay on screen: until the next cue may start (with some lag) or the video ends.
    limit = ws[j].start + rules.max_lag_s if j < len(ws) else duration
    window = max(0.05, min(limit, duration, ws[i].start + rules.max_duration_s) - ws[i].start)
    cps = chars / window
    if cps > rules.max_cps:
        cost += 10.0 + 60.0 * (cps / rules.max_cps - 1.0)
    for k in range(i, j - 1):
        gap = ws[k + 1].start - ws[k].end
        if gap > rules.pause_break_s:
            cost += 6.0 + 4.0 * (gap - rules.pause_break_s)
    inner_end = any(_SENTENCE_END.search(ws[k].text) for k in range(i, j - 1))
    if inner_end and j < len(ws) and not _SENTENCE_END.search(ws[j - 1].text):
        cost += 3.0  # a cue that ends one sentence and starts the next without finishing it
    if chars < 12 and j < len(ws) and i > 0:
        cost += 2.0  # a lone short fragment mid-stream flickers past
    return cost


_MIN_VISIBLE_S = 0.04  # one frame at 25 fps


def _time(ws: list[Word], groups: list[tuple[int, int, _Layout]], rules: CaptionRules, duration: float) -> list[Cue]:
    """Cue times: from the first word, long enough to read and at least min_duration_s, never overlapping, never past the end."""
    cues: list[Cue] = []
    for i, j, layout in groups:
        text = "\n".join(layout.lines)
        first, last = ws[i], ws[j - 1]
        start = first.start
        if cues:
            prev = cues[-1]
            start = max(start, prev.end + rules.min_gap_s)
            if start > first.start + rules.max_lag_s or start >= duration - 0.05:
                # Too far behind the speech: shorten the previous cue instead of lagging further.
                start = min(first.start + rules.max_lag_s, max(first.start, duration - 0.05))
                prev_end = max(prev.start + 0.1, start - rules.min_gap_s)
                cues[-1] = replace(prev, end=round(prev_end, 3))
                start = max(start, cues[-1].end + rules.min_gap_s)
        need = max(rules.min_duration_s, _chars(text) / rules.max_cps)
        end = max(last.end, start + need)
        end = min(end, start + rules.max_duration_s, duration)
        end = max(end, min(start + 0.1, duration))
        cues.append(Cue(round(start, 3), round(end, 3), text, tuple(ws[i:j])))
    # Last, from the end backwards: nothing past the video's end, no overlaps, every cue visible for at least a
    # frame. Only crowded speech in the last moments of a video moves a cue here (a little earlier, never later).
    upper = duration
    for k in reversed(range(len(cues))):
        c = cues[k]
        end = round(min(c.end, upper), 3)
        start = round(max(0.0, min(c.start, end - _MIN_VISIBLE_S)), 3)
        if (start, end) != (c.start, c.end):
            cues[k] = replace(c, start=start, end=end)
        upper = start - rules.min_gap_s
    return cues


# --- checking and reflowing ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RuleIssue:
    """One broken rule in one cue; `severity` is "error" (must fix) or "warning" (worth a look)."""

    cue: int          # 1-based, as SRT numbers cues
    rule: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"cue {self.cue}: {self.rule}: {self.message}"


def check_cues(cues: list[Cue], rules: CaptionRules | None = None, *, video_duration: float | None = None,
               tolerance_s: float = 0.05, language: str | None = None) -> list[RuleIssue]:
    """Every rule a list of cues breaks. Timing, overlap and line rules are errors; reading speed and length are warnings."""
    rules = rules or CaptionRules()
    issues: list[RuleIssue] = []
    prev_end: float | None = None
    for n, cue in enumerate(cues, start=1):
        if cue.end <= cue.start:
            issues.append(RuleIssue(n, "timing", f"ends ({_ts(cue.end)}) before or when it starts ({_ts(cue.start)})"))
        if cue.start < 0:
            issues.append(RuleIssue(n, "inside video", f"starts before 0 ({_ts(cue.start)})"))
        if video_duration is not None and cue.end > video_duration + tolerance_s:
            issues.append(RuleIssue(n, "inside video", f"ends at {_ts(cue.end)}, after the video ends at {_ts(video_duration)}"))
        if prev_end is not None and cue.start < prev_end - 1e-6:
            issues.append(RuleIssue(n, "no overlap", f"starts at {_ts(cue.start)}, before cue {n - 1} ends at {_ts(prev_end)}"))
        lines = cue.lines
        if len(lines) > rules.max_lines:
            issues.append(RuleIssue(n, "line count", f"has {len(lines)} lines; at most {rules.max_lines} allowed"))
        for k, line in enumerate(lines, start=1):
            # A single word longer than a line cannot be broken (except in scripts written without spaces).
            if len(line) > rules.max_chars_per_line and (" " in line.strip() or joiner(language) == ""):
                issues.append(RuleIssue(n, "line length", f"line {k} has {len(line)} characters; at most {rules.max_chars_per_line} allowed"))
        dur = cue.end - cue.start
        if dur > 0:
            cps = _chars(cue.text) / dur
            if cps > rules.max_cps + 0.05:
                issues.append(RuleIssue(n, "reading speed", f"{cps:.1f} characters per second; at most {rules.max_cps:g} reads comfortably", "warning"))
            if dur > rules.max_duration_s + 0.05:
                issues.append(RuleIssue(n, "cue length", f"on screen {dur:.1f} s; at most {rules.max_duration_s:g} s", "warning"))
            elif dur < rules.min_duration_s - 0.05 and not (video_duration is not None and cue.end >= video_duration - 0.05):
                issues.append(RuleIssue(n, "cue length", f"on screen {dur:.2f} s; at least {rules.min_duration_s:g} s", "warning"))
        prev_end = cue.end if prev_end is None else max(prev_end, cue.end)
    return issues


def _ts(seconds: float) -> str:
    ms = int(round(seconds * 1000))
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    return f"{sign}{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def wrap_text(text: str, rules: CaptionRules, language: str | None = None) -> list[str]:
    """Text (no timings) broken into lines of at most max_chars_per_line, at the best places; may need more than max_lines."""
    join = joiner(language)
    tokens = list(text.replace("\n", " ")) if join == "" else text.split()
    words = [Word(float(k), float(k) + 0.5, t) for k, t in enumerate(tokens) if t.strip()]
    if not words:
        return []
    out: list[str] = []
    i = 0
    lang = _lang(language)
    while i < len(words):
        # Greedy by pairs of lines: the longest run that fits two lines, laid out at its best break.
        j = i + 1
        while j < len(words) and _layout(words, i, j + 1, rules, lang, join) is not None:
            j += 1
        layout = _layout(words, i, j, rules, lang, join)
        out.extend(layout.lines if layout else (_text(words, i, j, join),))
        i = j
    return out


def reflow(cues: list[Cue], rules: CaptionRules, *, video_duration: float, language: str | None = None) -> list[Cue]:
    """Cues re-laid for other rules (a narrower frame): rebuilt from word timings when every cue has them,
    otherwise each cue's text is re-wrapped and, when it needs more lines, split with its time shared by length."""
    if cues and all(c.words for c in cues):
        return build_cues([w for c in cues for w in c.words], rules, video_duration=video_duration, language=language)
    out: list[Cue] = []
    for cue in cues:
        lines = wrap_text(cue.text, rules, language)
        if len(lines) <= rules.max_lines:
            out.append(replace(cue, text="\n".join(lines)))
            continue
        chunks = ["\n".join(lines[k:k + rules.max_lines]) for k in range(0, len(lines), rules.max_lines)]
        total = sum(_chars(c) for c in chunks)
        t = cue.start
        for k, chunk in enumerate(chunks):
            end = cue.end if k == len(chunks) - 1 else t + (cue.end - cue.start) * _chars(chunk) / total
            out.append(Cue(round(t, 3), round(end, 3), chunk, ()))
            t = end
    return out
