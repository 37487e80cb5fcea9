"""Shared test fixtures: an isolated Chorus home per test, the example campaign, and small generated video clips."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import imageio_ffmpeg
import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_DIR = REPO / "examples" / "first-vote"
FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


@pytest.fixture
def chorus_home(tmp_path, monkeypatch) -> Path:
    """CHORUS_HOME (store, warehouse, Prefect home) in a temporary folder, so tests never share state."""
    home = tmp_path / "chorus-home"
    monkeypatch.setenv("CHORUS_HOME", str(home))
    monkeypatch.delenv("CHORUS_STORE", raising=False)
    monkeypatch.delenv("CHORUS_WAREHOUSE", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(home / "prefect"))
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    return home


@pytest.fixture
def example_copy(tmp_path) -> Path:
    """A private copy of the example campaign folder; returns the manifest path."""
    dest = tmp_path / "first-vote"
    shutil.copytree(EXAMPLE_DIR, dest)
    return dest / "campaign.yaml"


def make_clip(path: Path, *, seconds: float = 2.0, size: str = "320x568", fps: int = 30, audio: bool = True,
              extra: list[str] | None = None) -> Path:
    """A small test video generated with ffmpeg (test pattern, optional sine tone)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [FFMPEG, "-y", "-loglevel", "error", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}:duration={seconds}"]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac", "-shortest"]
    cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", *(extra or []), str(path)]
    subprocess.run(cmd, check=True)
    return path


@pytest.fixture
def clip_factory(tmp_path):
    def factory(name: str = "clip.mp4", **kwargs) -> Path:
        return make_clip(tmp_path / name, **kwargs)

    return factory
