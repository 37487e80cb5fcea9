"""The inbox side of server mode: each complete, new video in an inbox becomes exactly one `chorus.asset.received`.

How a dropped file maps to a campaign and an asset:
- `<inbox>/<campaign-id>/<file>` (or the S3 key `<prefix><campaign-id>/<file>`): the folder names the campaign.
- The campaign's manifest is one given to `chorus serve CAMPAIGN.yaml`, or a `campaign.yaml` inside that folder.
- The asset is the manifest asset whose `file` has the same file name (`videos/your-vote.mp4` <- `your-vote.mp4`),
  or else whose id is the file's stem (`your-vote.mov` -> asset `your-vote`). Dropping it replaces, for this run,
  the manifest's video with the dropped file.
Anything else (not in a campaign folder, unknown campaign, no such asset, not a video, empty) gets one
`chorus.asset.rejected` event naming the problem and the fix; a file whose content was taken before (same SHA-256,
under any name) gets `chorus.asset.duplicate` and starts nothing.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from campaign.errors import ChorusError
from campaign.manifest import Manifest, load_manifest
from flows import events
from media.inbox import Landed, SeenStore, Taken, rejection_reason

log = logging.getLogger("chorus.watchers")

Emit = Callable[[str, dict[str, str], dict[str, Any]], Any]


@dataclass(frozen=True)
class Outcome:
    """What one landed file became: the event to emit about it."""

    event: str
    resource: dict[str, str]
    payload: dict[str, Any]

    @property
    def started(self) -> bool:
        return self.event == events.ASSET_RECEIVED


@dataclass
class Campaigns:
    """Campaign id -> manifest path: the manifests `chorus serve` was given, then `<inbox>/<id>/campaign.yaml`."""

    registered: dict[str, Path] = field(default_factory=dict)
    inbox: Path | None = None

    @classmethod
    def from_manifests(cls, paths: list[str | Path], inbox: Path | None = None) -> "Campaigns":
        registered = {}
        for p in paths:
            path = Path(p).resolve()
            registered[load_manifest(path).id] = path
        return cls(registered, inbox)

    def manifest_path(self, campaign_id: str) -> Path | None:
        if campaign_id in self.registered:
            return self.registered[campaign_id]
        if self.inbox is not None:
            beside = self.inbox / campaign_id / "campaign.yaml"
            if beside.is_file():
                return beside.resolve()
        return None


def match_asset(manifest: Manifest, name: str) -> str | None:
    """The id of the manifest asset a dropped file is: same file name first, then id equal to the stem."""
    for asset in manifest.assets:
        if Path(asset.file).name == name:
            return asset.id
    stem = name.rsplit(".", 1)[0]
    for asset in manifest.assets:
        if asset.id == stem:
            return asset.id
    return None


def route(landed: Landed, campaigns: Campaigns, seen: SeenStore) -> Outcome:
    """Decide what a complete file in the inbox starts; a content hash is claimed only for a file that starts a run."""
    base = {"source": landed.source, "file": landed.name, "size": landed.size, "sha256": landed.sha256,
            "origin": landed.origin}

    def reject(reason: str) -> Outcome:
        return Outcome(events.ASSET_REJECTED, events.inbox_resource(landed.campaign_id, landed.name),
                       {**base, "reason": reason})

    def duplicate(first: Taken) -> Outcome:
        resource = {**events.asset_resource(first.campaign_id, first.asset_id, mode="inbox")}
        return Outcome(events.ASSET_DUPLICATE, resource, {
            **base, "first_taken_at": first.taken_at, "first_source": first.source,
            "first_asset": f"{first.campaign_id}/{first.asset_id}",
            "reason": f"{landed.name} has the same content as {Path(first.source).name}, taken at {first.taken_at} "
                      f"as {first.campaign_id}/{first.asset_id}; nothing was started"})

    reason = rejection_reason(landed)
    if reason:
        return reject(reason)
    # Same content under any name is the same video: checked before the name is mapped to an asset.
    first = seen.lookup(landed.sha256)
    if first is not None:
        return duplicate(first)
    manifest_path = campaigns.manifest_path(landed.campaign_id)
    if manifest_path is None:
        return reject(f"no campaign {landed.campaign_id!r} is being served — start `chorus serve "
                      f"{landed.campaign_id}.yaml` or put its campaign.yaml in the inbox folder {landed.campaign_id}/")
    try:
        manifest = load_manifest(manifest_path)
    except ChorusError as err:
        return reject(f"the manifest of campaign {landed.campaign_id!r} does not load: {err.line}")
    if manifest.id != landed.campaign_id:
        return reject(f"{manifest_path} is campaign {manifest.id!r}, not {landed.campaign_id!r} — "
                      f"drop the video into the folder {manifest.id}/")
    asset_id = match_asset(manifest, landed.name)
    if asset_id is None:
        known = ", ".join(f"{a.id} ({Path(a.file).name})" for a in manifest.assets)
        return reject(f"campaign {manifest.id!r} has no asset for {landed.name!r} — name the file after one of its "
                      f"assets [{known}] or add the asset to {manifest_path.name}")
    new, first = seen.claim(landed.sha256, manifest.id, asset_id, landed.source)
    if not new:  # taken by another watcher thread between lookup and claim
        return duplicate(first)
    return Outcome(events.ASSET_RECEIVED, events.asset_resource(manifest.id, asset_id, mode=events.SERVER),
                   {**base, "manifest_path": str(manifest_path)})


class Source(Protocol):
    interval_s: float

    def scan(self) -> list[Landed]: ...


class InboxLoop:
    """Polls each source in its own background thread (a long-polling queue never delays the local folder) and
    emits one event per landed file.

    When emitting a `received` event fails, its hash is released again, so the file is taken at the next attempt
    (after the watcher forgets it: a restart, or the file being written again) rather than silently lost.
    """

    def __init__(self, sources: list[Source], campaigns: Campaigns, seen: SeenStore, *, interval_s: float = 0.25,
                 emit: Emit = events.emit, on_outcome: Callable[[Outcome], None] | None = None):
        self.sources = sources
        self.campaigns = campaigns
        self.seen = seen
        self.interval_s = interval_s
        self.emit = emit
        self.on_outcome = on_outcome
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._first_scans = threading.Semaphore(0)
        self.first_scan_done = threading.Event()

    def _handle(self, landed_files: list[Landed]) -> list[Outcome]:
        outcomes = []
        for landed in landed_files:
            outcome = route(landed, self.campaigns, self.seen)
            try:
                self.emit(outcome.event, outcome.resource, outcome.payload)
            except Exception:
                if outcome.started:
                    self.seen.release(landed.sha256)
                raise
            outcomes.append(outcome)
            if self.on_outcome:
                self.on_outcome(outcome)
        return outcomes

    def _scan(self, source: Source) -> list[Outcome]:
        try:
            landed_files = source.scan()
        except Exception as err:  # a flaky S3 endpoint must not stop the watcher
            log.warning("inbox source %s failed: %s", type(source).__name__, err)
            return []
        return self._handle(landed_files)

    def tick(self) -> list[Outcome]:
        """One scan of every source, in this thread (what tests drive)."""
        return [o for source in self.sources for o in self._scan(source)]

    def _run(self, source: Source) -> None:
        first = True
        while not self._stop.is_set():
            try:
                self._scan(source)
            except Exception as err:
                log.error("inbox watcher: %s", err)
            if first:
                first = False
                self._first_scans.release()
            self._stop.wait(getattr(source, "interval_s", None) or self.interval_s)

    def _wait_first_scans(self) -> None:
        for _ in self.sources:
            self._first_scans.acquire()
        self.first_scan_done.set()

    def start(self) -> None:
        for i, source in enumerate(self.sources):
            t = threading.Thread(target=self._run, args=(source,), name=f"chorus-inbox-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        threading.Thread(target=self._wait_first_scans, name="chorus-inbox-ready", daemon=True).start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout_s)


@dataclass
class S3Source:
    """Adapts the S3 watcher to the loop. Listing is paced (`interval_s`, 5 s: a LIST request costs money);
    a queue is long-polled, so it returns as soon as a notification arrives."""

    watcher: Any
    interval_s: float = 5.0

    def scan(self) -> list[Landed]:
        return self.watcher.poll()
