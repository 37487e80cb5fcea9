"""Platforms, video formats and each platform's documented limits (see shared/platform-contracts.md)."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Platform(str, Enum):
    TIKTOK = "tiktok"
    INSTAGRAM = "instagram"
    YOUTUBE = "youtube"
    FACEBOOK = "facebook"
    LINKEDIN = "linkedin"
    X = "x"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Platform.TIKTOK: "TikTok",
    Platform.INSTAGRAM: "Instagram Reels",
    Platform.YOUTUBE: "YouTube Shorts",
    Platform.FACEBOOK: "Facebook Reels",
    Platform.LINKEDIN: "LinkedIn",
    Platform.X: "X",
}


@dataclass(frozen=True)
class VideoFormat:
    """An output frame: aspect name and pixel size."""

    name: str
    width: int
    height: int

    @property
    def slug(self) -> str:
        return self.name.replace(":", "x")


FORMATS: dict[str, VideoFormat] = {
    "9:16": VideoFormat("9:16", 1080, 1920),
    "1:1": VideoFormat("1:1", 1080, 1080),
    "4:5": VideoFormat("4:5", 1080, 1350),
    "16:9": VideoFormat("16:9", 1920, 1080),
}


@dataclass(frozen=True)
class PlatformLimits:
    """What a platform accepts for a video; checked before a variant is accepted."""

    min_duration_s: float
    max_duration_s: float
    max_width: int
    max_height: int
    min_fps: float
    max_fps: float
    max_bytes: int
    native_scheduling: bool
    default_format: str
    title_max_chars: int


# Values from shared/platform-contracts.md; where the docs disagree the stricter one is used.
LIMITS: dict[Platform, PlatformLimits] = {
    Platform.TIKTOK: PlatformLimits(1, 600, 4096, 4096, 23, 60, 4 * 1024**3, False, "9:16", 2200),
    Platform.INSTAGRAM: PlatformLimits(3, 900, 1920, 1920 * 10, 23, 60, 300 * 1024**2, False, "9:16", 2200),
    Platform.YOUTUBE: PlatformLimits(1, 180, 4096, 4096, 1, 60, 256 * 1024**3, True, "9:16", 100),
    Platform.FACEBOOK: PlatformLimits(3, 90, 4096, 4096, 24, 60, 1024**3, True, "9:16", 2200),
    Platform.LINKEDIN: PlatformLimits(3, 1800, 4096, 4096, 1, 60, 500 * 1024**2, False, "1:1", 3000),
    # X accepts at most 1280x1024, so its variant is a 16:9 frame scaled down to 1280x720.
    Platform.X: PlatformLimits(0.5, 140, 1280, 1024, 1, 60, 512 * 1024**2, False, "16:9", 280),
}


def format_for(platform: Platform, override: str | None = None) -> VideoFormat:
    """The frame a platform's variant is rendered to, scaled down to fit the platform's maximum size."""
    fmt = FORMATS[override or LIMITS[platform].default_format]
    lim = LIMITS[platform]
    scale = min(1.0, lim.max_width / fmt.width, lim.max_height / fmt.height)
    if scale < 1.0:
        # Even sizes: H.264 with 4:2:0 chroma needs them.
        w = int(fmt.width * scale) // 2 * 2
        h = int(fmt.height * scale) // 2 * 2
        return VideoFormat(fmt.name, w, h)
    return fmt
