"""Audio loudness: the master's soundtrack measured and normalised once (EBU R128, ffmpeg loudnorm, two passes)."""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from media import ffmpeg


@dataclass(frozen=True)
class LoudnessTarget:
    """Integrated loudness (LUFS), true peak (dBTP) and loudness range (LU); -14 LUFS is what the apps play at."""

    integrated: float = -14.0
    true_peak: float = -1.5
    lra: float = 11.0

    def spec(self) -> str:
        return f"I={self.integrated}:TP={self.true_peak}:LRA={self.lra}"


@dataclass(frozen=True)
class Loudness:
    integrated: float
    true_peak: float
    lra: float
    threshold: float
    offset: float


_JSON = re.compile(r"\{[^{}]*\"input_i\"[^{}]*\}", re.S)


def measure(path: Path, target: LoudnessTarget = LoudnessTarget()) -> Loudness | None:
    """The first loudnorm pass over the file's audio; None when it has no audio or only silence."""
    proc = ffmpeg.run(["-nostats", "-i", str(path), "-vn", "-sn", "-dn", "-af", f"loudnorm={target.spec()}:print_format=json",
                       "-f", "null", "-"], what=f"measuring the loudness of {path.name}",
                      fix="re-export the video with an AAC or PCM soundtrack")
    found = _JSON.findall(proc.stderr)
    if not found:
        return None
    doc = json.loads(found[-1])
    values = [float(doc[k]) for k in ("input_i", "input_tp", "input_lra", "input_thresh", "target_offset")]
    if not all(math.isfinite(v) for v in values):
        return None  # digital silence: nothing to normalise
    return Loudness(*values)


def integrated(path: Path) -> float | None:
    """The integrated loudness of a file's audio in LUFS (what a test or a reviewer checks)."""
    m = measure(path)
    return m.integrated if m else None


def normalise_filter(m: Loudness, target: LoudnessTarget) -> str:
    """The second loudnorm pass: a linear gain from the measured values, resampled back to 48 kHz."""
    return (f"loudnorm={target.spec()}:measured_I={m.integrated}:measured_TP={m.true_peak}:measured_LRA={m.lra}:"
            f"measured_thresh={m.threshold}:offset={m.offset}:linear=true,aresample=48000")


def normalised_soundtrack(master: Path, out: Path, duration_s: float, has_audio: bool,
                          target: LoudnessTarget | None = LoudnessTarget(), bitrate: str = "128k") -> Path:
    """Encode the master's audio once, normalised, as AAC in `out` (.m4a); every variant copies it.

    A master without audio gets a silent AAC track, because some platforms reject a video without one.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    if not has_audio:
        args = ["-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo", "-t", f"{duration_s:.3f}"]
    else:
        m = measure(master, target) if target else None
        af = normalise_filter(m, target) if (m and target) else "aresample=48000"
        args = ["-i", str(master), "-vn", "-sn", "-dn", "-af", af]
    ffmpeg.run([*args, "-c:a", "aac", "-b:a", bitrate, "-y", str(out)], what=f"encoding the soundtrack of {master.name}",
               fix="re-export the video with an AAC or PCM soundtrack")
    return out
