"""Reframing the master to a platform format: centre crop, or the whole picture over a blurred fill of itself."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from campaign.errors import MediaError
from campaign.platforms import VideoFormat

Mode = Literal["crop", "blur"]
MODES: tuple[str, ...] = ("crop", "blur")


def _even(x: float) -> int:
    return max(2, int(math.ceil(x / 2.0)) * 2)


@dataclass(frozen=True)
class Reframe:
    """A moviepy-style effect (one `apply(clip)`) that also knows its ffmpeg filter, so both engines frame alike."""

    mode: Mode = "crop"
    fmt: VideoFormat | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise MediaError(f"reframe mode {self.mode!r} is unknown", f"use one of: {', '.join(MODES)}")

    def cover_size(self, src_w: int, src_h: int) -> tuple[int, int]:
        assert self.fmt is not None
        s = max(self.fmt.width / src_w, self.fmt.height / src_h)
        return max(self.fmt.width, _even(src_w * s)), max(self.fmt.height, _even(src_h * s))

    def fit_size(self, src_w: int, src_h: int) -> tuple[int, int]:
        assert self.fmt is not None
        s = min(self.fmt.width / src_w, self.fmt.height / src_h)
        return min(self.fmt.width, _even(src_w * s)), min(self.fmt.height, _even(src_h * s))

    def ffmpeg(self, src_w: int, src_h: int, inp: str, out: str, tag: str) -> str:
        """A filtergraph fragment reading [inp] and writing [out]; `tag` keeps internal labels unique."""
        assert self.fmt is not None
        W, H = self.fmt.width, self.fmt.height
        cw, ch = self.cover_size(src_w, src_h)
        cover = ([] if (cw, ch) == (src_w, src_h) else [f"scale={cw}:{ch}"]) + (
            [] if (cw, ch) == (W, H) else [f"crop={W}:{H}:{(cw - W) // 2}:{(ch - H) // 2}"])
        if self.mode == "crop" or (cw, ch) == (W, H):
            return f"[{inp}]{','.join(cover) or 'null'},setsar=1[{out}]"
        fw, fh = self.fit_size(src_w, src_h)
        # The fill is blurred at an eighth of the size and scaled up: the same look for a sixtieth of the work.
        sw, sh = _even(W / 8), _even(H / 8)
        bcw, bch = Reframe("crop", VideoFormat("fill", sw, sh)).cover_size(src_w, src_h)
        return (f"[{inp}]split=2[{tag}a][{tag}b];"
                f"[{tag}a]scale={bcw}:{bch},crop={sw}:{sh}:{(bcw - sw) // 2}:{(bch - sh) // 2},boxblur=4:2,"
                f"scale={W}:{H},eq=brightness=-0.08[{tag}bg];"
                f"[{tag}b]scale={fw}:{fh}[{tag}fg];"
                f"[{tag}bg][{tag}fg]overlay={(W - fw) // 2}:{(H - fh) // 2},setsar=1[{out}]")

    def apply(self, clip):
        """The same framing with moviepy (the reference engine)."""
        from moviepy import CompositeVideoClip

        assert self.fmt is not None
        W, H = self.fmt.width, self.fmt.height
        cw, ch = self.cover_size(clip.w, clip.h)
        covered = clip.resized((cw, ch)).cropped(x_center=cw / 2, y_center=ch / 2, width=W, height=H)
        if self.mode == "crop":
            return covered
        from PIL import Image, ImageFilter
        import numpy as np

        def blur(frame):
            small = Image.fromarray(frame).resize((max(2, W // 8), max(2, H // 8)))
            return np.asarray(small.filter(ImageFilter.BoxBlur(4)).resize((W, H)))

        fw, fh = self.fit_size(clip.w, clip.h)
        fg = clip.resized((fw, fh)).with_position(((W - fw) // 2, (H - fh) // 2))
        return CompositeVideoClip([covered.image_transform(blur), fg], size=(W, H))
