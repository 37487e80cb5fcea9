"""Running the ffmpeg binary that imageio-ffmpeg ships: one place for the path, the error message and stream facts."""
from __future__ import annotations

import re
import subprocess
from functools import lru_cache

from campaign.errors import MediaError


@lru_cache(maxsize=1)
def exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def last_error_line(stderr: str) -> str:
    """The line of ffmpeg's output that says what went wrong (its last non-empty line, shortened)."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if any(w in ln.lower() for w in ("error", "invalid", "could not", "not found", "unsupported", "failed")):
            return ln[:200]
    return (lines[-1] if lines else "no output")[:200]


def run(args: list[str], *, what: str, fix: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run ffmpeg with `args`; a failure becomes one MediaError naming `what` failed and ffmpeg's reason."""
    proc = subprocess.run([exe(), "-hide_banner", "-nostdin", *args], capture_output=True, text=True,
                          errors="replace", timeout=timeout)
    if proc.returncode != 0:
        raise MediaError(f"{what} failed ({last_error_line(proc.stderr)})", fix)
    return proc


_AUDIO = re.compile(r"Stream #\d+:\d+.*?: Audio: (\w+)")
_VIDEO = re.compile(r"Stream #\d+:\d+.*?: Video: (\w+)")


def stream_codecs(path: str) -> tuple[str | None, str | None]:
    """The (video, audio) codec names of a file's first streams, read from ffmpeg's description of it."""
    proc = subprocess.run([exe(), "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True, text=True,
                          errors="replace")
    v, a = _VIDEO.search(proc.stderr), _AUDIO.search(proc.stderr)
    return (v.group(1) if v else None, a.group(1) if a else None)


_ROTATION = re.compile(r"(?:display ?matrix: rotation of|rotate\s*:)\s*(-?[\d.]+)", re.I)


def rotation(path: str) -> int:
    """The rotation a player applies (phone video stores it as a display matrix), in degrees 0/90/180/270."""
    proc = subprocess.run([exe(), "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True, text=True,
                          errors="replace")
    m = _ROTATION.search(proc.stderr)
    return int(round(float(m.group(1)))) % 360 if m else 0
