"""Probing: size, duration, audio and a phone's rotation are read; a file that is not a video gets one clear error."""
from __future__ import annotations

import subprocess

import pytest

from campaign.errors import MediaError
from media.probe import probe
from tests.conftest import FFMPEG


def test_a_plain_clip(clip_factory):
    info = probe(clip_factory(seconds=1.0, size="320x240"))
    assert (info.width, info.height, info.rotation) == (320, 240, 0)
    assert info.has_audio and 0.9 < info.duration_s < 1.2 and info.fps == pytest.approx(30, abs=0.1)


def test_a_rotated_phone_clip_is_seen_upright(clip_factory, tmp_path):
    base = clip_factory("landscape.mp4", seconds=1.0, size="320x240")
    rotated = tmp_path / "rotated.mp4"
    subprocess.run([FFMPEG, "-y", "-loglevel", "error", "-display_rotation:v:0", "90", "-i", str(base), "-c", "copy",
                    str(rotated)], check=True)
    info = probe(rotated)
    assert info.rotation in (90, 270)
    assert info.display_size == (240, 320)


@pytest.mark.parametrize("content", [b"", b"not a video" * 50])
def test_not_a_video(tmp_path, content):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(MediaError) as info:
        probe(bad)
    assert "bad.mp4" in info.value.line and ("re-export" in info.value.line or "re-upload" in info.value.line)
