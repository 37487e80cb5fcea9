"""Probing a video: duration, size, frame rate, rotation and audio, with one clear error for a file that is not a usable video."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from campaign.errors import MediaError


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    duration_s: float
    width: int
    height: int
    fps: float
    rotation: int
    has_audio: bool
    video_codec: str | None
    size_bytes: int

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as a viewer sees them, after the rotation a phone recorded."""
        return (self.height, self.width) if self.rotation in (90, 270) else (self.width, self.height)


def _rotation(path: Path, info: dict) -> int:
    """moviepy misses the display matrix that newer ffmpeg builds print for phone video; ask ffmpeg directly then."""
    found = int(info.get("video_rotation") or 0) % 360
    if found:
        return found
    from media.ffmpeg import rotation

    return rotation(str(path))


def probe(path: str | Path) -> VideoInfo:
    from moviepy.video.io.ffmpeg_reader import ffmpeg_parse_infos

    path = Path(path)
    if not path.is_file():
        raise MediaError(f"video not found: {path}", "check the asset's `file` path in the manifest")
    if path.stat().st_size == 0:
        raise MediaError(f"{path.name} is empty (0 bytes)", "re-export or re-upload the video")
    try:
        info = ffmpeg_parse_infos(str(path))
    except Exception as err:  # moviepy raises IOError/OSError with ffmpeg's whole stderr
        first = str(err).strip().splitlines()[-1][:200] if str(err).strip() else type(err).__name__
        raise MediaError(f"{path.name} is not a readable video ({first})", "re-export it as MP4 (H.264/AAC) and drop it in again") from None
    if not info.get("video_found"):
        raise MediaError(f"{path.name} has no video stream", "supply a video file (MP4, MOV or WebM), not audio or an image")
    duration = float(info.get("duration") or 0.0)
    if duration <= 0:
        raise MediaError(f"{path.name} has no playable duration", "re-export the video; the file looks truncated")
    w, h = info.get("video_size") or (0, 0)
    return VideoInfo(
        path=path,
        duration_s=duration,
        width=int(w),
        height=int(h),
        fps=float(info.get("video_fps") or 0.0),
        rotation=_rotation(path, info),
        has_audio=bool(info.get("audio_found")),
        video_codec=info.get("video_codec_name"),
        size_bytes=path.stat().st_size,
    )
