"""The S3 inbox watcher against moto's S3 server on 127.0.0.1: one upload becomes exactly one event, by S3 event
notifications delivered to an SQS queue, and by listing with a persisted cursor where there are no notifications."""
from __future__ import annotations

import time
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from flows import events
from flows.prefect_flows import ingest_task
from flows.runtime import make_runtime
from flows.watchers import Campaigns, InboxLoop, S3Source
from media.inbox import S3PrefixWatcher, SeenStore, configure_notifications, download_s3
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
schedule: {start: 2026-11-01, end: 2027-01-31, slots: ["19:00"]}
"""


@pytest.fixture(scope="module")
def moto_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws(moto_endpoint, monkeypatch):
    # Fake credentials for the fake server only; nothing here can reach AWS.
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("CHORUS_S3_ENDPOINT", moto_endpoint)
    s3 = boto3.client("s3", endpoint_url=moto_endpoint)
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint)
    return s3, sqs


@pytest.fixture
def campaign(tmp_path) -> Campaigns:
    manifest = tmp_path / "campaign.yaml"
    manifest.write_text(MANIFEST, encoding="utf-8")
    return Campaigns.from_manifests([manifest])


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4", seconds=0.5, size="64x112", audio=False)


def _loop(watcher: S3PrefixWatcher, campaigns: Campaigns, seen: SeenStore):
    emitted: list[tuple[str, dict, dict]] = []
    return InboxLoop([S3Source(watcher)], campaigns, seen, emit=lambda e, r, p: emitted.append((e, r, p))), emitted


def _tick_until(loop: InboxLoop, emitted: list, count: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while len(emitted) < count and time.monotonic() < deadline:
        loop.tick()


def test_notifications_to_a_queue_turn_one_upload_into_one_event(aws, campaign, clip, tmp_path, chorus_home):
    s3, sqs = aws
    s3.create_bucket(Bucket="drops")
    queue_url = configure_notifications(s3, sqs, "drops", "chorus-drops", prefix="inbox/")
    seen = SeenStore(tmp_path / "seen.sqlite")
    watcher = S3PrefixWatcher(s3, "s3://drops/inbox/", seen, sqs=sqs, queue_url=queue_url, wait_s=1)
    loop, emitted = _loop(watcher, campaign, seen)

    s3.upload_file(str(clip), "drops", "inbox/tiny/clip.mp4")
    s3.put_object(Bucket="drops", Key="elsewhere/tiny/clip.mp4", Body=clip.read_bytes())  # outside the prefix
    _tick_until(loop, emitted, 1)
    for _ in range(3):  # nothing more arrives: no second event for the same upload
        loop.tick()
    assert [e for e, _, _ in emitted] == [events.ASSET_RECEIVED]
    _, resource, payload = emitted[0]
    assert (resource["chorus.campaign"], resource["chorus.asset"]) == ("tiny", "clip")
    assert payload["source"] == "s3://drops/inbox/tiny/clip.mp4" and payload["origin"] == "s3"
    assert payload["manifest_path"] == str(campaign.registered["tiny"])
    # The same bytes uploaded again under another key: a duplicate event, nothing started.
    s3.upload_file(str(clip), "drops", "inbox/tiny/clip-copy.mp4")
    _tick_until(loop, emitted, 2)
    assert [e for e, _, _ in emitted] == [events.ASSET_RECEIVED, events.ASSET_DUPLICATE]
    # And what the caption flow does with the event's source: fetch the object and ingest it.
    local = download_s3(s3, payload["source"], tmp_path / "fetched.mp4")
    assert local.read_bytes() == clip.read_bytes()
    got = ingest_task.fn(payload["manifest_path"], "clip", payload["source"])
    assert make_runtime().store.get_bytes(got["master_key"]) == clip.read_bytes()
    seen.close()


def test_listing_with_a_persisted_cursor_turns_one_upload_into_one_event(aws, campaign, clip, tmp_path):
    s3, _ = aws
    s3.create_bucket(Bucket="nonotify")
    s3.put_object(Bucket="nonotify", Key="drops/tiny/readme.txt", Body=b"put your videos here")
    seen = SeenStore(tmp_path / "seen.sqlite")
    loop, emitted = _loop(S3PrefixWatcher(s3, "s3://nonotify/drops", seen), campaign, seen)
    loop.tick()
    assert [(e, p["file"]) for e, _, p in emitted] == [(events.ASSET_REJECTED, "readme.txt")]
    assert "not a video" in emitted[0][2]["reason"]

    s3.upload_file(str(clip), "nonotify", "drops/tiny/clip.mp4")
    loop.tick()
    loop.tick()
    assert [e for e, _, _ in emitted] == [events.ASSET_REJECTED, events.ASSET_RECEIVED]
    assert emitted[1][1]["chorus.asset"] == "clip"
    # A restarted watcher with the same state file finds nothing new.
    seen.close()
    seen2 = SeenStore(tmp_path / "seen.sqlite")
    assert seen2.cursor("s3-list:nonotify/drops/") is not None
    loop2, emitted2 = _loop(S3PrefixWatcher(s3, "s3://nonotify/drops/", seen2), campaign, seen2)
    loop2.tick()
    assert emitted2 == []
    seen2.close()
