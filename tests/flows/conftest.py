"""A tiny campaign for stage tests: two short clips (one corrupt), two languages, two sandbox accounts."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import make_clip

SRT_EN = "1\n00:00:00,200 --> 00:00:01,400\nYour vote is your voice.\n"
SRT_DE = "1\n00:00:00,200 --> 00:00:01,400\nDeine Stimme zählt.\n"


def write_tiny_campaign(root: Path, *, corrupt_second: bool = False, seconds: float = 1.6) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    make_clip(root / "good.mp4", seconds=seconds, size="360x640")
    (root / "good.en.srt").write_text(SRT_EN, encoding="utf-8")
    (root / "good.de.srt").write_text(SRT_DE, encoding="utf-8")
    assets = [{"id": "good", "file": "good.mp4", "language": "en", "captions": {"en": "good.en.srt"},
               "translations": {"de": "good.de.srt"}}]
    if corrupt_second:
        (root / "broken.mp4").write_bytes(b"this is not a video at all" * 100)
        assets.append({"id": "broken", "file": "broken.mp4", "language": "en", "captions": {"en": "good.en.srt"},
                       "translations": {"de": "good.de.srt"}})
    manifest = {
        "campaign": {"id": "tiny", "name": "Tiny test campaign"},
        "organisations": [{"id": "ngo", "name": "NGO"}],
        "objectives": [{"id": "reach", "kpis": [{"metric": "views", "target": 1000}]}],
        "languages": ["en", "de"],
        "countries": [{"code": "DE", "timezone": "Europe/Berlin", "languages": ["de", "en"]}],
        "accounts": [
            {"id": "ngo-x", "platform": "x", "organisation": "ngo", "handle": "@ngo", "countries": ["DE"],
             "languages": ["de"], "sandbox": True},
            {"id": "ngo-linkedin", "platform": "linkedin", "organisation": "ngo", "handle": "ngo", "countries": ["DE"],
             "languages": ["en", "de"], "sandbox": True},
        ],
        "assets": assets,
        "schedule": {"start": "2026-01-01", "end": "2030-12-31", "slots": ["09:00", "18:00"]},
        "posts": {"en": {"default": {"title": "Vote", "description": "Register today", "hashtags": ["vote"]}}},
    }
    path = root / "campaign.yaml"
    path.write_text(yaml.safe_dump(manifest, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def tiny_campaign(tmp_path) -> Path:
    return write_tiny_campaign(tmp_path / "tiny")


@pytest.fixture
def tiny_campaign_with_corrupt_asset(tmp_path) -> Path:
    return write_tiny_campaign(tmp_path / "tiny", corrupt_second=True)
