"""The local inbox watcher: a file is taken once, only when complete; duplicates and non-videos start nothing."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flows import events
from flows.watchers import Campaigns, InboxLoop, match_asset, route
from campaign.manifest import load_manifest
from media.inbox import FolderWatcher, SeenStore, is_partial_name, notification_keys, sniff_container
from tests.conftest import make_clip

MANIFEST = """
campaign: {id: tiny, name: Tiny}
organisations: [{id: org, name: Org}]
languages: [en]
countries: [{code: IE, timezone: Europe/Dublin, languages: [en]}]
accounts:
  - {id: org-x, platform: x, organisation: org, handle: "@org", countries: [IE], languages: [en], sandbox: true}
assets:
  - {id: clip, file: videos/clip.mp4, language: en}
  - {id: teaser, file: videos/teaser-final.mov, language: en}
schedule: {start: 2026-11-01, end: 2027-01-31, slots: ["19:00"]}
"""


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4", seconds=0.5, size="64x112", audio=False)


@pytest.fixture
def setup(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "tiny").mkdir(parents=True)
    manifest = tmp_path / "campaign.yaml"
    manifest.write_text(MANIFEST, encoding="utf-8")
    seen = SeenStore(tmp_path / "seen.sqlite")
    yield inbox, Campaigns.from_manifests([manifest], inbox), seen
    seen.close()


def loop_with_recorder(inbox: Path, campaigns: Campaigns, seen: SeenStore, clock: FakeClock):
    emitted: list[tuple[str, dict, dict]] = []
    loop = InboxLoop([FolderWatcher(inbox, settle_s=1.0, clock=clock)], campaigns, seen,
                     emit=lambda e, r, p: emitted.append((e, r, p)))
    return loop, emitted


def test_a_file_still_being_written_is_taken_once_when_it_stops_changing(setup, clip):
    inbox, campaigns, seen = setup
    clock = FakeClock()
    loop, emitted = loop_with_recorder(inbox, campaigns, seen, clock)
    data = clip.read_bytes()
    target = inbox / "tiny" / "clip.mp4"
    target.write_bytes(data[: len(data) // 3])  # the copy is a third done
    assert loop.tick() == []
    clock.t += 5
    with open(target, "ab") as f:               # still growing: settling starts again
        f.write(data[len(data) // 3: 2 * len(data) // 3])
    assert loop.tick() == []
    clock.t += 5
    with open(target, "ab") as f:
        f.write(data[2 * len(data) // 3:])
    assert loop.tick() == []                    # complete, but not yet stable for settle_s
    clock.t += 0.5
    assert loop.tick() == []
    clock.t += 1.0
    outcomes = loop.tick()
    assert [o.event for o in outcomes] == [events.ASSET_RECEIVED]
    name, resource, payload = emitted[0]
    assert resource["chorus.campaign"] == "tiny" and resource["chorus.asset"] == "clip"
    assert resource["chorus.mode"] == events.SERVER
    assert payload["manifest_path"] == str(campaigns.registered["tiny"])
    assert Path(payload["source"]) == target.resolve()
    assert payload["size"] == len(data)
    clock.t += 10
    assert loop.tick() == [] and len(emitted) == 1  # an unchanged file is never taken again


def test_partial_download_names_are_ignored_until_renamed(setup, clip):
    inbox, campaigns, seen = setup
    clock = FakeClock()
    loop, emitted = loop_with_recorder(inbox, campaigns, seen, clock)
    part = inbox / "tiny" / "clip.mp4.crdownload"
    shutil.copy(clip, part)
    for _ in range(3):
        loop.tick()
        clock.t += 2
    assert emitted == []
    part.rename(inbox / "tiny" / "clip.mp4")
    loop.tick()
    clock.t += 2
    loop.tick()
    assert [e for e, _, _ in emitted] == [events.ASSET_RECEIVED]


def test_the_same_content_dropped_twice_starts_one_pipeline(setup, clip):
    inbox, campaigns, seen = setup
    clock = FakeClock()
    loop, emitted = loop_with_recorder(inbox, campaigns, seen, clock)
    shutil.copy(clip, inbox / "tiny" / "clip.mp4")
    loop.tick(); clock.t += 2; loop.tick()
    # Again under another name, and again under the same name after the first was removed.
    shutil.copy(clip, inbox / "tiny" / "teaser-final.mov")
    (inbox / "tiny" / "clip.mp4").unlink()
    loop.tick(); clock.t += 2; loop.tick()
    shutil.copy(clip, inbox / "tiny" / "clip.mp4")
    loop.tick(); clock.t += 2; loop.tick()
    names = [e for e, _, _ in emitted]
    assert names == [events.ASSET_RECEIVED, events.ASSET_DUPLICATE, events.ASSET_DUPLICATE]
    dup = emitted[1][2]
    assert dup["first_asset"] == "tiny/clip" and "nothing was started" in dup["reason"]
    # The dedup survives a restart of the watcher (the record is on disk).
    seen2 = SeenStore(seen.path)
    loop2, emitted2 = loop_with_recorder(inbox, campaigns, seen2, clock)
    loop2.tick(); clock.t += 2; loop2.tick()
    assert {e for e, _, _ in emitted2} == {events.ASSET_DUPLICATE}
    seen2.close()


def test_a_file_that_is_not_a_video_gets_a_clear_rejection(setup):
    inbox, campaigns, seen = setup
    clock = FakeClock()
    loop, emitted = loop_with_recorder(inbox, campaigns, seen, clock)
    (inbox / "tiny" / "clip.mp4").write_bytes(b"%PDF-1.7 this is a brochure, not a video" * 50)
    (inbox / "tiny" / "empty.mp4").write_bytes(b"")
    loop.tick(); clock.t += 2; loop.tick()
    by_file = {p["file"]: (e, p["reason"]) for e, _, p in emitted}
    assert by_file["clip.mp4"][0] == events.ASSET_REJECTED
    assert "not a video" in by_file["clip.mp4"][1] and "MP4" in by_file["clip.mp4"][1]
    assert by_file["empty.mp4"][0] == events.ASSET_REJECTED and "empty" in by_file["empty.mp4"][1]
    assert seen.lookup(emitted[0][2]["sha256"]) is None  # a rejected file claims nothing


def test_unknown_campaign_and_unknown_asset_are_rejected_with_the_fix(setup, clip):
    inbox, campaigns, seen = setup
    clock = FakeClock()
    loop, emitted = loop_with_recorder(inbox, campaigns, seen, clock)
    (inbox / "other").mkdir()
    shutil.copy(clip, inbox / "other" / "clip.mp4")
    make_clip(inbox / "tiny" / "holiday.mp4", seconds=0.4, size="64x112", audio=False)
    make_clip(inbox / "loose.mp4", seconds=0.3, size="64x112", audio=False)
    loop.tick(); clock.t += 2; loop.tick()
    reasons = {p["file"]: p["reason"] for e, _, p in emitted if e == events.ASSET_REJECTED}
    assert "no campaign 'other'" in reasons["clip.mp4"]
    assert "no asset for 'holiday.mp4'" in reasons["holiday.mp4"] and "clip (clip.mp4)" in reasons["holiday.mp4"]
    assert "campaign folder" in reasons["loose.mp4"]
    assert all(e == events.ASSET_REJECTED for e, _, _ in emitted)


def test_a_campaign_yaml_next_to_the_videos_registers_the_campaign(tmp_path, clip):
    inbox = tmp_path / "inbox"
    (inbox / "tiny").mkdir(parents=True)
    (inbox / "tiny" / "campaign.yaml").write_text(MANIFEST, encoding="utf-8")
    shutil.copy(clip, inbox / "tiny" / "teaser-final.mov")
    seen = SeenStore(tmp_path / "seen.sqlite")
    clock = FakeClock()
    loop, emitted = loop_with_recorder(inbox, Campaigns({}, inbox), seen, clock)
    loop.tick(); clock.t += 2; loop.tick()
    assert [(e, r["chorus.asset"]) for e, r, _ in emitted] == [(events.ASSET_RECEIVED, "teaser")]
    seen.close()


def test_asset_matching_by_file_name_then_id():
    m = load_manifest_text(MANIFEST)
    assert match_asset(m, "teaser-final.mov") == "teaser"
    assert match_asset(m, "clip.webm") == "clip"
    assert match_asset(m, "teaser.mp4") == "teaser"
    assert match_asset(m, "trailer.mp4") is None


def load_manifest_text(text: str):
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "m.yaml"
        p.write_text(text, encoding="utf-8")
        return load_manifest(p)


def test_container_sniffing_and_partial_names(clip):
    assert sniff_container(clip.read_bytes()[:64]) == "mp4"
    assert sniff_container(b"\x1a\x45\xdf\xa3\x01\x00\x00\x00webm") == "webm"
    assert sniff_container(b"RIFF\x00\x00\x00\x00AVI LIST") == "avi"
    assert sniff_container(b"\x00\x00\x00\x18ftypheic") is None
    assert sniff_container(b"\xff\xd8\xff\xe0 JFIF") is None
    assert is_partial_name("video.mp4.part") and is_partial_name(".~lock.video.mp4#") and is_partial_name("~$x.mp4")
    assert not is_partial_name("video.mp4")


def test_notification_messages_yield_decoded_created_keys_only():
    body = ('{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, '
            '"object": {"key": "inbox/tiny/my+clip%281%29.mp4", "eTag": "abc"}}}, '
            '{"eventName": "ObjectRemoved:Delete", "s3": {"bucket": {"name": "b"}, "object": {"key": "inbox/x.mp4"}}}, '
            '{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "other"}, "object": {"key": "inbox/y.mp4"}}}]}')
    assert notification_keys(body, "b") == [("inbox/tiny/my clip(1).mp4", "abc")]
    assert notification_keys('{"Service": "Amazon S3", "Event": "s3:TestEvent"}', "b") == []
    assert notification_keys("not json", "b") == []


def test_route_does_not_claim_before_the_asset_is_known(setup, clip, tmp_path):
    inbox, campaigns, seen = setup
    watcher = FolderWatcher(inbox, settle_s=0, clock=FakeClock())
    make_clip(inbox / "tiny" / "holiday.mp4", seconds=0.4, size="64x112", audio=False)
    watcher.scan()
    landed = watcher.scan()
    assert route(landed[0], campaigns, seen).event == events.ASSET_REJECTED
    # Renamed to the asset's name, the same content is taken (a rejection did not mark it as seen).
    (inbox / "tiny" / "holiday.mp4").rename(inbox / "tiny" / "clip.mp4")
    watcher.scan()
    landed = watcher.scan()
    assert route(landed[0], campaigns, seen).event == events.ASSET_RECEIVED
