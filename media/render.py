"""Rendering a language variant: the master reframed to a platform format with the captions burned in."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from campaign import languages
from campaign.errors import MediaError
from campaign.platforms import VideoFormat
from media.cues import Cue

_FONT_CANDIDATES = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf",
]


def find_font(size: int) -> ImageFont.FreeTypeFont:
    for candidate in _FONT_CANDIDATES:
        if Path(candidate).is_file():
            return ImageFont.truetype(candidate, size, layout_engine=ImageFont.Layout.RAQM)
    return ImageFont.load_default(size)  # type: ignore[return-value]


@dataclass(frozen=True)
class RenderResult:
    path: Path
    duration_s: float
    width: int
    height: int
    size_bytes: int


def caption_image(text: str, fmt: VideoFormat, language: str) -> np.ndarray:
    """An RGBA image of one cue: outlined white text, centred, right to left for RTL languages."""
    size = max(24, fmt.width // 22)
    font = find_font(size)
    direction = "rtl" if languages.is_rtl(language) else "ltr"
    lines = text.split("\n")
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    kwargs = {"direction": direction} if ImageFont.Layout.RAQM and hasattr(font, "getbbox") else {}
    boxes = [probe.textbbox((0, 0), line, font=font, stroke_width=size // 12, **kwargs) for line in lines]
    line_h = int(size * 1.3)
    width = min(fmt.width, max(b[2] - b[0] for b in boxes) + size)
    height = line_h * len(lines) + size // 2
    img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    for i, (line, box) in enumerate(zip(lines, boxes)):
        x = (width - (box[2] - box[0])) // 2 - box[0]
        draw.text((x, i * line_h + size // 4), line, font=font, fill=(255, 255, 255, 255),
                  stroke_width=size // 12, stroke_fill=(0, 0, 0, 255), **kwargs)
    return np.asarray(img)


def render_variant(master: Path, cues: list[Cue], fmt: VideoFormat, language: str, out: Path,
                   *, preset: str = "veryfast", crf: int = 23) -> RenderResult:
    """Centre-crop the master to the format, burn in the cues, write H.264/AAC MP4 with the moov atom first."""
    from moviepy import CompositeVideoClip, ImageClip, VideoFileClip

    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        clip = VideoFileClip(str(master))
    except Exception as err:
        raise MediaError(f"{master.name} cannot be decoded ({str(err).splitlines()[0][:120]})", "re-export it as MP4 (H.264/AAC)") from None
    try:
        scale = max(fmt.width / clip.w, fmt.height / clip.h)
        framed = clip.resized(scale).cropped(x_center=clip.w * scale / 2, y_center=clip.h * scale / 2,
                                             width=fmt.width, height=fmt.height)
        layers = [framed]
        for cue in cues:
            if cue.start >= clip.duration:
                continue
            img = caption_image(cue.text, fmt, language)
            y = int(fmt.height * 0.70) - img.shape[0] // 2
            layers.append(ImageClip(img).with_start(cue.start).with_end(min(cue.end, clip.duration))
                          .with_position(("center", y)))
        final = CompositeVideoClip(layers, size=(fmt.width, fmt.height)).with_duration(clip.duration)
        tmp = out.with_suffix(".part.mp4")
        final.write_videofile(str(tmp), codec="libx264", audio_codec="aac", preset=preset,
                              ffmpeg_params=["-crf", str(crf), "-movflags", "+faststart", "-pix_fmt", "yuv420p"],
                              logger=None, threads=2)
        tmp.replace(out)
        duration = clip.duration
    finally:
        clip.close()
    return RenderResult(out, duration, fmt.width, fmt.height, out.stat().st_size)
