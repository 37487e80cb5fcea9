"""Caption images: each cue drawn once with Pillow (raqm shaping, right to left where the script needs it), placed in the safe zone."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFont, features

from campaign import languages
from campaign.errors import MediaError
from campaign.platforms import VideoFormat
from media.cues import Cue
from media.fonts import FontChoice, font_for
from media.safezones import Rect

StyleName = Literal["outlined", "boxed", "highlight"]
STYLES: tuple[str, ...] = ("outlined", "boxed", "highlight")
RGBA = tuple[int, int, int, int]


@dataclass(frozen=True)
class CaptionStyle:
    """How captions look; sizes are fractions of the frame's shorter side so every format looks alike."""

    name: StyleName = "outlined"
    size: float = 0.05
    text: RGBA = (255, 255, 255, 255)
    outline: RGBA = (0, 0, 0, 255)
    box: RGBA = (0, 0, 0, 170)
    highlight: RGBA = (255, 214, 0, 255)
    line_spacing: float = 1.25

    def __post_init__(self) -> None:
        if self.name not in STYLES:
            raise MediaError(f"caption style {self.name!r} is unknown", f"use one of: {', '.join(STYLES)}")


@dataclass(frozen=True, eq=False)
class CaptionLayer:
    """One image shown over the frame from `start` to `end` seconds, its top-left corner at (x, y)."""

    start: float
    end: float
    x: int
    y: int
    image: np.ndarray  # H x W x 4, uint8 RGBA

    @property
    def rect(self) -> Rect:
        h, w = self.image.shape[:2]
        return Rect(self.x, self.y, self.x + w, self.y + h)


@dataclass(frozen=True, eq=False)
class _Block:
    image: np.ndarray
    highlight: np.ndarray | None
    spans: tuple[tuple[int, int, int, int], ...]  # per word, in reading order: x0, y0, x1, y1 in the block


def _require_raqm() -> None:
    if not features.check("raqm"):
        raise MediaError("Pillow was built without libraqm, so Arabic and Persian cannot be shaped",
                         "install Pillow from PyPI wheels (they bundle raqm) or install libraqm")


@lru_cache(maxsize=64)
def _font(path: Path, size: int, variation: str | None) -> ImageFont.FreeTypeFont:
    layout = ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC
    font = ImageFont.truetype(str(path), size, layout_engine=layout)
    if variation:
        font.set_variation_by_name(variation)
    return font


def text_kwargs(language: str) -> dict:
    """The Pillow layout arguments for a language: direction for right-to-left scripts, language for shaping."""
    if languages.is_rtl(language):
        _require_raqm()
        return {"direction": "rtl", "language": languages.base_language(language)}
    return {"direction": "ltr", "language": languages.base_language(language)} if features.check("raqm") else {}


def _wrap_to_width(lines: list[str], font: ImageFont.FreeTypeFont, max_w: int, kw: dict) -> list[str]:
    """The translator's lines when they fit the safe zone; otherwise the words re-broken into balanced lines."""
    if all(font.getlength(line, **kw) <= max_w for line in lines):
        return lines
    words = " ".join(lines).split()
    total = font.getlength(" ".join(words), **kw)

    def greedy(limit: float) -> list[str]:
        out, current = [], ""
        for word in words:
            trial = f"{current} {word}".strip()
            if current and font.getlength(trial, **kw) > limit:
                out.append(current)
                current = word
            else:
                current = trial
        return out + ([current] if current else [])

    for n in range(max(2, len(lines)), 8):
        # Aim at equal lines a little over total/n wide, so no line is left with one orphaned word.
        attempt = greedy(min(max_w, total / n * 1.12 + font.getlength(" ", **kw)))
        if len(attempt) <= n and all(font.getlength(a, **kw) <= max_w for a in attempt):
            return attempt
    return greedy(max_w)


@lru_cache(maxsize=512)
def _render_block(lines: tuple[str, ...], language: str, font_choice: FontChoice, size: int, style: CaptionStyle,
                  max_w: int) -> _Block:
    kw = text_kwargs(language)
    font = _font(font_choice.path, size, font_choice.variation)
    wrapped = _wrap_to_width(list(lines), font, max_w, kw)
    stroke = max(1, round(size * 0.09)) if style.name != "boxed" else 0
    pad = max(stroke, round(size * 0.3)) if style.name == "boxed" else stroke + 2
    line_h = round(size * style.line_spacing)
    ascent, _descent = font.getmetrics()
    widths = [round(font.getlength(line, **kw)) for line in wrapped]
    width = min(max_w + 2 * pad, max(widths) + 2 * pad)
    height = line_h * (len(wrapped) - 1) + ascent + round(size * 0.35) + 2 * pad
    rtl = kw.get("direction") == "rtl"

    def draw_lines(fill: RGBA, with_box: bool) -> Image.Image:
        img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        draw = ImageDraw.Draw(img)
        for i, (line, w) in enumerate(zip(wrapped, widths)):
            x = (width - w) // 2
            baseline = pad + ascent + i * line_h
            if with_box:
                draw.rounded_rectangle((x - pad, baseline - ascent - pad // 2, x + w + pad, baseline + round(size * 0.35) + pad // 2),
                                       radius=pad // 2, fill=style.box)
            draw.text((x, baseline), line, font=font, fill=fill, anchor="ls", stroke_width=stroke,
                      stroke_fill=style.outline, **kw)
        return img

    base = draw_lines(style.text, style.name == "boxed")
    spans: list[tuple[int, int, int, int]] = []
    highlight = None
    if style.name == "highlight":
        highlight = np.asarray(draw_lines(style.highlight, False))
        for i, (line, w) in enumerate(zip(wrapped, widths)):
            x = (width - w) // 2
            top = pad + i * line_h - stroke
            bottom = min(height, pad + ascent + i * line_h + round(size * 0.35) + stroke)
            words = line.split(" ")
            for j, word in enumerate(words):
                before = font.getlength(" ".join(words[:j]) + (" " if j else ""), **kw) if j else 0.0
                through = font.getlength(" ".join(words[: j + 1]), **kw)
                if rtl:  # the first word of a right-to-left line sits at its right end
                    x0, x1 = x + w - through, x + w - before
                else:
                    x0, x1 = x + before, x + through
                spans.append((max(0, int(x0) - stroke), top if top > 0 else 0, min(width, int(np.ceil(x1)) + stroke), bottom))
    return _Block(np.asarray(base), highlight, tuple(spans))


def font_size(fmt: VideoFormat, style: CaptionStyle) -> int:
    return max(12, round(min(fmt.width, fmt.height) * style.size))


def word_times(cue: Cue, count: int) -> list[tuple[float, float]]:
    """When each of the cue's `count` words is spoken: the recognised word timings when they match the text,
    otherwise the cue's time shared out by word length (a translation has no word timings of its own)."""
    if len(cue.words) == count and count:
        times = [(w.start, w.end) for w in cue.words]
    else:
        tokens = cue.text.split()
        weights = [len(t) + 1 for t in tokens] or [1]
        total = float(sum(weights))
        times, t = [], cue.start
        for wgt in weights:
            d = (cue.end - cue.start) * wgt / total
            times.append((t, t + d))
            t += d
    # A word is highlighted until the next one starts, so the highlight never blinks off between words.
    out = []
    for i, (s, e) in enumerate(times):
        nxt = times[i + 1][0] if i + 1 < len(times) else cue.end
        out.append((max(cue.start, s), max(min(cue.end, nxt), s)))
    return out


def layout_cue(cue: Cue, language: str, fmt: VideoFormat, safe: Rect, style: CaptionStyle = CaptionStyle(),
               font: FontChoice | None = None) -> list[CaptionLayer]:
    """The layers that show one cue: its text block at the bottom of the safe zone, plus a highlight per word."""
    lines = tuple(line.strip() for line in cue.text.split("\n") if line.strip())
    if not lines or cue.end <= cue.start:
        return []
    font = font or font_for(language, cue.text)
    size = font_size(fmt, style)
    block = _render_block(lines, language, font, size, style, safe.width)
    # Very long text shrinks until it fits the safe zone's height; the comms team sees the result in review.
    while block.image.shape[0] > safe.height // 2 and size > 12:
        size = int(size * 0.85)
        block = _render_block(lines, language, font, size, style, safe.width)
    h, w = block.image.shape[:2]
    # Even positions: 4:2:0 video stores colour per 2x2 pixels, and ffmpeg's overlay rounds odd positions down.
    x = (safe.x0 + (safe.width - w) // 2) // 2 * 2
    y = (safe.y1 - h - round(size * 0.2)) // 2 * 2
    layers = [CaptionLayer(cue.start, cue.end, x, y, block.image)]
    if block.highlight is not None and block.spans:
        for (s, e), (x0, y0, x1, y1) in zip(word_times(cue, len(block.spans)), block.spans):
            x0, y0 = x0 // 2 * 2, y0 // 2 * 2
            if e > s and x1 > x0 and y1 > y0:
                layers.append(CaptionLayer(s, e, x + x0, y + y0, np.ascontiguousarray(block.highlight[y0:y1, x0:x1])))
    return layers


def layout_cues(cues: list[Cue], language: str, fmt: VideoFormat, safe: Rect, style: CaptionStyle = CaptionStyle(),
                duration_s: float | None = None) -> list[CaptionLayer]:
    """Every cue's layers, clipped to the video's duration; one font chosen for all the cues' characters."""
    text = "".join(c.text for c in cues)
    font = font_for(language, text)
    out: list[CaptionLayer] = []
    for cue in cues:
        if duration_s is not None:
            if cue.start >= duration_s:
                continue
            if cue.end > duration_s:
                cue = Cue(cue.start, duration_s, cue.text, cue.words)
        out.extend(layout_cue(cue, language, fmt, safe, style, font))
    return out
