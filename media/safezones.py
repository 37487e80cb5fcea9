"""Safe zones: the part of each platform's frame that its app does not cover with buttons, captions or navigation."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from campaign.platforms import Platform, VideoFormat


@dataclass(frozen=True)
class Margins:
    """Fractions of the frame covered by the app's interface on each side."""

    top: float
    bottom: float
    left: float
    right: float


@dataclass(frozen=True)
class Rect:
    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def contains(self, other: "Rect") -> bool:
        return self.x0 <= other.x0 and self.y0 <= other.y0 and other.x1 <= self.x1 and other.y1 <= self.y1


# Full-screen vertical players (9:16), measured on a 1080x1920 frame from each platform's creative guidance and
# rounded up: TikTok's like/comment/share column on the right and caption + music + tab bar at the bottom;
# Reels and Facebook Reels the same, with a taller caption area; Shorts' title, channel and subscribe button.
VERTICAL: dict[Platform, Margins] = {
    Platform.TIKTOK: Margins(top=0.07, bottom=0.23, left=0.06, right=0.14),
    Platform.INSTAGRAM: Margins(top=0.11, bottom=0.22, left=0.06, right=0.13),
    Platform.YOUTUBE: Margins(top=0.08, bottom=0.20, left=0.06, right=0.16),
    Platform.FACEBOOK: Margins(top=0.11, bottom=0.24, left=0.06, right=0.13),
    Platform.LINKEDIN: Margins(top=0.06, bottom=0.14, left=0.06, right=0.06),
    Platform.X: Margins(top=0.06, bottom=0.14, left=0.06, right=0.06),
}
# Feed players (1:1, 4:5, 16:9): only the player's controls along the bottom and rounded corners.
FEED = Margins(top=0.05, bottom=0.12, left=0.05, right=0.05)


def margins_for(fmt: VideoFormat, platforms: Iterable[Platform] = ()) -> Margins:
    """The margins that clear every given platform's interface (all vertical platforms when none is given)."""
    if fmt.name != "9:16":
        return FEED
    chosen = list(platforms) or [Platform.TIKTOK, Platform.INSTAGRAM, Platform.YOUTUBE, Platform.FACEBOOK]
    ms = [VERTICAL[p] for p in chosen]
    return Margins(max(m.top for m in ms), max(m.bottom for m in ms), max(m.left for m in ms), max(m.right for m in ms))


def safe_rect(fmt: VideoFormat, platforms: Iterable[Platform] = ()) -> Rect:
    """The safe zone in pixels of the format's frame."""
    m = margins_for(fmt, platforms)
    return Rect(round(fmt.width * m.left), round(fmt.height * m.top),
                fmt.width - round(fmt.width * m.right), fmt.height - round(fmt.height * m.bottom))
