"""The caption stage on a dropped file: the drop (local or s3://) is what gets ingested, and a new cut replaces the master."""
from __future__ import annotations

import yaml

from campaign.settings import Settings
from flows.prefect_flows import ingest_task
from flows.runtime import make_runtime
from tests.conftest import make_clip


def _manifest(root):
    root.mkdir(parents=True, exist_ok=True)
    path = root / "campaign.yaml"
    path.write_text(yaml.safe_dump({
        "campaign": {"id": "tiny", "name": "Tiny"},
        "organisations": [{"id": "ngo", "name": "NGO"}],
        "languages": ["en"],
        "countries": [{"code": "IE", "timezone": "Europe/Dublin", "languages": ["en"]}],
        "accounts": [{"id": "ngo-x", "platform": "x", "organisation": "ngo", "handle": "@ngo", "countries": ["IE"],
                      "languages": ["en"], "sandbox": True}],
        "assets": [{"id": "clip", "file": "videos/not-there-yet.mp4", "language": "en"}],
        "schedule": {"start": "2026-01-01", "end": "2030-12-31", "slots": ["19:00"]},
    }), encoding="utf-8")
    return path


def test_a_new_cut_replaces_the_master_and_a_bad_drop_keeps_it(chorus_home, tmp_path):
    manifest = _manifest(tmp_path / "campaign")
    first = make_clip(tmp_path / "drops" / "clip.mp4", seconds=0.5, size="64x112", audio=False)
    got = ingest_task.fn(str(manifest), "clip", str(first))
    store = make_runtime(Settings.from_env()).store
    assert store.get_bytes(got["master_key"]) == first.read_bytes()

    second = make_clip(tmp_path / "drops2" / "clip.mp4", seconds=0.7, size="64x112", audio=False)
    got2 = ingest_task.fn(str(manifest), "clip", str(second))
    assert got2["master_key"] == got["master_key"]
    assert store.get_bytes(got2["master_key"]) == second.read_bytes()

    bad = tmp_path / "drops3" / "clip.mp4"
    bad.parent.mkdir()
    bad.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 200)  # looks like MP4, is not playable
    try:
        ingest_task.fn(str(manifest), "clip", str(bad))
    except Exception:
        pass
    assert store.get_bytes(got["master_key"]) == second.read_bytes()
