"""Platform limits: a master that is too long for a platform, and a rendered variant checked before it is accepted."""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from campaign.platforms import LIMITS, Platform
from media import ffmpeg


@dataclass(frozen=True)
class OutputFacts:
    duration_s: float
    width: int
    height: int
    fps: float
    size_bytes: int
    video_codec: str | None
    audio_codec: str | None
    moov_first: bool


def top_level_boxes(path: Path) -> list[str]:
    """The MP4's top-level box types in file order (ftyp, moov, mdat...)."""
    out: list[str] = []
    with open(path, "rb") as f:
        while True:
            head = f.read(8)
            if len(head) < 8:
                break
            size, kind = struct.unpack(">I4s", head)
            if size == 1:
                size = struct.unpack(">Q", f.read(8))[0]
                f.seek(size - 16, 1)
            elif size == 0:
                out.append(kind.decode("latin-1"))
                break
            else:
                f.seek(size - 8, 1)
            out.append(kind.decode("latin-1"))
    return out


def moov_first(path: Path) -> bool:
    """True when the moov atom comes before the media data, so a player can start before the download ends."""
    boxes = top_level_boxes(path)
    return "moov" in boxes and "mdat" in boxes and boxes.index("moov") < boxes.index("mdat")


def inspect(path: Path) -> OutputFacts:
    from moviepy.video.io.ffmpeg_reader import ffmpeg_parse_infos

    info = ffmpeg_parse_infos(str(path))
    w, h = info.get("video_size") or (0, 0)
    vcodec, acodec = ffmpeg.stream_codecs(str(path))
    return OutputFacts(float(info.get("duration") or 0.0), int(w), int(h), float(info.get("video_fps") or 0.0),
                       path.stat().st_size, vcodec, acodec, moov_first(path))


def master_problem(duration_s: float, platform: Platform, name: str = "the master") -> str | None:
    """Why a master of this duration cannot become a post on the platform, or None."""
    lim = LIMITS[platform]
    if duration_s > lim.max_duration_s:
        return (f"{name} is {duration_s:.0f} s long; {platform.label} accepts at most {lim.max_duration_s:.0f} s "
                f"— cut a version of at most {lim.max_duration_s:.0f} s for {platform.label}")
    return None


def master_warning(duration_s: float, platform: Platform, name: str = "the master") -> str | None:
    """A master shorter than the platform's minimum: rendered anyway (the clip may be a test), but said so."""
    lim = LIMITS[platform]
    if duration_s < lim.min_duration_s:
        return f"{name} is {duration_s:.1f} s long; {platform.label} needs at least {lim.min_duration_s:.0f} s"
    return None


def output_problems(facts: OutputFacts, platforms: Iterable[Platform]) -> list[str]:
    """Everything about a rendered file that a platform would refuse (empty when it is fit to post everywhere)."""
    problems: list[str] = []
    if facts.video_codec != "h264":
        problems.append(f"video codec is {facts.video_codec}, not H.264")
    if facts.audio_codec != "aac":
        problems.append(f"audio codec is {facts.audio_codec}, not AAC")
    if not facts.moov_first:
        problems.append("the moov atom is not at the front (no fast start)")
    for p in platforms:
        lim = LIMITS[p]
        if facts.duration_s > lim.max_duration_s + 0.5:
            problems.append(f"{p.label}: duration {facts.duration_s:.1f} s longer than {lim.max_duration_s:g} s")
        if facts.width > lim.max_width or facts.height > lim.max_height:
            problems.append(f"{p.label}: {facts.width}x{facts.height} larger than {lim.max_width}x{lim.max_height}")
        if not lim.min_fps <= facts.fps <= lim.max_fps:
            problems.append(f"{p.label}: {facts.fps:g} fps outside {lim.min_fps:g}-{lim.max_fps:g} fps")
        if facts.size_bytes > lim.max_bytes:
            problems.append(f"{p.label}: {facts.size_bytes / 1024**2:.0f} MiB larger than {lim.max_bytes / 1024**2:.0f} MiB")
    return problems
