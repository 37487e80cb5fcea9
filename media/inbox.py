"""Inbox watching: which dropped files are complete, new and videos — a local folder, or an S3 prefix by listing or queue.

Plain Python with no Prefect: `flows/watchers.py` turns what these watchers return into Prefect events.

Conventions (documented in the README's server-mode section):
- A drop is `<inbox>/<campaign-id>/<file>` (an S3 key `<prefix><campaign-id>/<file>`).
- A local file is taken only when it has finished being written: its size and modification time have not changed
  for `settle_s`, and it has no partial-download suffix (`.part`, `.crdownload`, ...) nor a hidden/temporary name.
  S3 objects appear atomically when their upload completes, so they need no settling.
- Every file is identified by the SHA-256 of its content; a content hash already taken is a duplicate and starts
  nothing. The record of what was taken (and the S3 listing cursor) is a small SQLite file, so it survives restarts
  and is safe to share between the watcher threads.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from campaign.ids import is_slug

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi"})
# What browsers, sync clients and editors write while a file is still arriving.
PARTIAL_SUFFIXES = frozenset({".part", ".partial", ".tmp", ".crdownload", ".download", ".filepart", ".opdownload",
                              ".!sync", ".sb-"})
_HASH_CHUNK = 1 << 20


# --- what a dropped file is ---------------------------------------------------------------------------------------


def sniff_container(head: bytes) -> str | None:
    """The video container named by a file's first bytes, or None when they are not a video's.

    Looking at the bytes (not only the name) means a renamed PDF or JPEG is refused at once with a clear event,
    instead of failing later inside ffmpeg.
    """
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand.startswith(b"qt"):
            return "mov"
        if brand in {b"heic", b"heix", b"mif1", b"msf1", b"avif", b"M4A ", b"M4B "}:
            return None  # ISO media, but still images or audio
        return "mp4"
    if len(head) >= 8 and head[4:8] in {b"moov", b"mdat", b"wide", b"free", b"skip"}:
        return "mov"  # old QuickTime files without an ftyp box
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm" if b"webm" in head[:64] else "mkv"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "avi"
    return None


def is_partial_name(name: str) -> bool:
    """A name that says the file is still being written (or is an editor's or OS's own temporary file)."""
    lower = name.lower()
    if lower.startswith((".", "~$", "~")) or lower in {"thumbs.db", "desktop.ini"}:
        return True
    return any(lower.endswith(s) for s in PARTIAL_SUFFIXES)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_HASH_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class Landed:
    """One complete file in the inbox: where it is, which campaign folder it is in, its size and content hash."""

    source: str          # a local path, or s3://bucket/key
    campaign_id: str     # the first folder under the inbox
    name: str            # the file name
    size: int
    sha256: str
    container: str | None  # mp4, mov, webm, mkv, avi; None when not a video
    origin: str          # "local" or "s3"

    @property
    def stem(self) -> str:
        return self.name.rsplit(".", 1)[0] if "." in self.name else self.name


def split_drop(relative: str) -> tuple[str | None, str]:
    """(campaign id, file name) of a path relative to the inbox; campaign None when the file is not in a campaign folder."""
    parts = [p for p in relative.replace("\\", "/").split("/") if p]
    if len(parts) < 2:
        return None, parts[-1] if parts else ""
    return parts[0], parts[-1]


def rejection_reason(landed: Landed) -> str | None:
    """Why a complete file cannot start a pipeline (one line naming the problem and the fix), or None."""
    if not is_slug(landed.campaign_id):
        return (f"{landed.name} is not in a campaign folder — drop videos into <inbox>/<campaign-id>/ "
                "(the campaign id of the manifest)")
    if landed.size == 0:
        return f"{landed.name} is empty (0 bytes) — re-export or re-upload the video"
    if landed.container is None:
        return (f"{landed.name} is not a video (its content is not MP4, MOV, WebM, MKV or AVI) — "
                "drop the video file itself, exported as MP4 (H.264/AAC)")
    return None


# --- what was taken already (persisted) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Taken:
    sha256: str
    campaign_id: str
    asset_id: str
    source: str
    taken_at: str


class SeenStore:
    """Content hashes already taken, and watcher cursors, in a SQLite file (one writer at a time, any thread)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._con = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30, isolation_level=None)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("""CREATE TABLE IF NOT EXISTS taken (
            sha256 TEXT PRIMARY KEY, campaign_id TEXT NOT NULL, asset_id TEXT NOT NULL, source TEXT NOT NULL,
            taken_at TEXT NOT NULL)""")
        self._con.execute("CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self._con.execute("""CREATE TABLE IF NOT EXISTS objects (
            name TEXT NOT NULL, key TEXT NOT NULL, etag TEXT NOT NULL, PRIMARY KEY (name, key, etag))""")

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def claim(self, sha256: str, campaign_id: str, asset_id: str, source: str) -> tuple[bool, Taken]:
        """Take a content hash once: (True, it) the first time, (False, the first taking) every time after."""
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        with self._lock:
            cur = self._con.execute("INSERT OR IGNORE INTO taken VALUES (?, ?, ?, ?, ?)",
                                    [sha256, campaign_id, asset_id, source, now])
            new = cur.rowcount == 1
            row = self._con.execute("SELECT sha256, campaign_id, asset_id, source, taken_at FROM taken WHERE sha256 = ?",
                                    [sha256]).fetchone()
        return new, Taken(*row)

    def lookup(self, sha256: str) -> Taken | None:
        with self._lock:
            row = self._con.execute("SELECT sha256, campaign_id, asset_id, source, taken_at FROM taken WHERE sha256 = ?",
                                    [sha256]).fetchone()
        return Taken(*row) if row else None

    def release(self, sha256: str) -> None:
        """Forget a taking (when its event could not be sent, so that the next scan tries again)."""
        with self._lock:
            self._con.execute("DELETE FROM taken WHERE sha256 = ?", [sha256])

    def cursor(self, name: str) -> str | None:
        with self._lock:
            row = self._con.execute("SELECT value FROM cursors WHERE name = ?", [name]).fetchone()
        return row[0] if row else None

    def set_cursor(self, name: str, value: str) -> None:
        with self._lock:
            self._con.execute("INSERT OR REPLACE INTO cursors VALUES (?, ?)", [name, value])

    def object_seen(self, name: str, key: str, etag: str) -> bool:
        """Mark an object version as looked at; True when it was already (listing and queue may both report it)."""
        with self._lock:
            cur = self._con.execute("INSERT OR IGNORE INTO objects VALUES (?, ?, ?)", [name, key, etag])
        return cur.rowcount == 0

    def forget_object(self, name: str, key: str, etag: str) -> None:
        with self._lock:
            self._con.execute("DELETE FROM objects WHERE name = ? AND key = ? AND etag = ?", [name, key, etag])


# --- local folder -------------------------------------------------------------------------------------------------


@dataclass
class _Pending:
    signature: tuple[int, int]  # (size, mtime_ns)
    since: float


class FolderWatcher:
    """Finds complete files under a local inbox folder: each file is returned once, when it has stopped changing.

    `scan()` is called every `interval_s` by the caller's loop. A file whose size or mtime changes starts settling
    again; a file that is replaced later (new content, same name) is returned again and its new hash decides.
    """

    def __init__(self, root: str | Path, *, settle_s: float = 0.5, clock: Callable[[], float] = time.monotonic):
        self.root = Path(root)
        self.settle_s = settle_s
        self.clock = clock
        self._pending: dict[Path, _Pending] = {}
        self._done: dict[Path, tuple[int, int]] = {}

    def _candidates(self) -> Iterator[Path]:
        if not self.root.is_dir():
            return
        for path in self.root.rglob("*"):
            rel = path.relative_to(self.root)
            # Hidden folders (ours and sync clients': .chorus-*, .sync, .Trash) and partial names are never drops.
            if any(part.startswith(".") for part in rel.parts[:-1]) or is_partial_name(path.name):
                continue
            if path.is_file() and path.name != "campaign.yaml":
                yield path

    def scan(self) -> list[Landed]:
        now = self.clock()
        ready: list[Landed] = []
        present: set[Path] = set()
        for path in self._candidates():
            present.add(path)
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            sig = (st.st_size, st.st_mtime_ns)
            if self._done.get(path) == sig:
                continue
            pending = self._pending.get(path)
            if pending is None or pending.signature != sig:
                self._pending[path] = _Pending(sig, now)
                continue
            if now - pending.since < self.settle_s:
                continue
            landed = self._describe(path, st.st_size)
            if landed is None:  # vanished or changed while hashing: settle again
                self._pending.pop(path, None)
                continue
            del self._pending[path]
            self._done[path] = sig
            ready.append(landed)
        for gone in set(self._pending) - present:
            del self._pending[gone]
        for gone in set(self._done) - present:
            del self._done[gone]
        return ready

    def _describe(self, path: Path, size: int) -> Landed | None:
        try:
            with open(path, "rb") as f:
                head = f.read(64)
            digest = sha256_file(path)
            if path.stat().st_size != size:
                return None
        except FileNotFoundError:
            return None
        campaign_id, name = split_drop(str(path.relative_to(self.root)))
        return Landed(source=str(path.resolve()), campaign_id=campaign_id or "", name=name, size=size,
                      sha256=digest, container=sniff_container(head), origin="local")


# --- S3 prefix ----------------------------------------------------------------------------------------------------


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, prefix) of s3://bucket/prefix; the prefix ends with '/' when not empty."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"{url!r} is not an s3://bucket/prefix URL")
    prefix = parsed.path.lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return parsed.netloc, prefix


def download_s3(client: Any, url: str, dest: Path) -> Path:
    """Copy s3://bucket/key to a local file (what the caption flow does with an S3 drop)."""
    bucket, key = parse_s3_url(url)
    dest.parent.mkdir(parents=True, exist_ok=True)
    client.download_file(bucket, key.rstrip("/"), str(dest))
    return dest


def notification_keys(body: str, bucket: str) -> list[tuple[str, str]]:
    """(key, etag) of every object-created record of an S3 event notification message for `bucket`.

    Keys in notifications are URL-encoded ('+' for a space), see
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
    The `s3:TestEvent` S3 sends when notifications are configured has no Records and yields nothing.
    """
    try:
        doc = json.loads(body)
    except json.JSONDecodeError:
        return []
    if isinstance(doc, dict) and "Message" in doc and "Records" not in doc:  # delivered through SNS
        try:
            doc = json.loads(doc["Message"])
        except (TypeError, json.JSONDecodeError):
            return []
    out = []
    for rec in (doc.get("Records") or []) if isinstance(doc, dict) else []:
        if not str(rec.get("eventName", "")).startswith("ObjectCreated"):
            continue
        s3 = rec.get("s3") or {}
        if (s3.get("bucket") or {}).get("name") != bucket:
            continue
        obj = s3.get("object") or {}
        key = urllib.parse.unquote_plus(obj.get("key", ""))
        if key:
            out.append((key, str(obj.get("eTag") or obj.get("etag") or "").strip('"')))
    return out


class S3PrefixWatcher:
    """Finds new objects under an S3 prefix: from a queue of S3 event notifications when one is configured,
    otherwise by listing the prefix against a persisted cursor (for S3-compatible services without notifications).

    Each object version (key + ETag) is handled once even when listing and the queue both report it; `fetch`
    streams it to compute its content hash (the same hash the local folder uses, so dedup is across both).
    """

    def __init__(self, client: Any, url: str, seen: SeenStore, *, sqs: Any = None, queue_url: str | None = None,
                 wait_s: int = 1, clock_skew_s: float = 300.0):
        self.client = client
        self.bucket, self.prefix = parse_s3_url(url)
        self.url = url
        self.seen = seen
        self.sqs = sqs
        self.queue_url = queue_url
        self.wait_s = wait_s
        self.skew = dt.timedelta(seconds=clock_skew_s)
        self.cursor_name = f"s3-list:{self.bucket}/{self.prefix}"

    # Listing ------------------------------------------------------------------

    def _list(self) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            yield from page.get("Contents", [])

    def poll_listing(self) -> list[tuple[str, str]]:
        """New (key, etag) since the cursor: objects modified at or after the cursor (less a clock-skew margin,
        because LastModified is the server's clock), minus object versions already handled."""
        raw = self.seen.cursor(self.cursor_name)
        cursor = dt.datetime.fromisoformat(raw) if raw else None
        newest = cursor
        found = []
        for obj in self._list():
            modified: dt.datetime = obj["LastModified"]
            if cursor is not None and modified < cursor - self.skew:
                continue
            key, etag = obj["Key"], str(obj.get("ETag", "")).strip('"')
            if key.endswith("/"):
                continue
            found.append((key, etag))
            newest = modified if newest is None or modified > newest else newest
        if newest is not None:
            self.seen.set_cursor(self.cursor_name, newest.isoformat())
        return found

    # Queue --------------------------------------------------------------------

    def poll_queue(self) -> list[tuple[str, str]]:
        """(key, etag) from one receive on the notification queue; messages are deleted once read, because what
        they name is recorded (object versions, then content hashes) before anything is emitted."""
        resp = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=self.wait_s)
        found = []
        for msg in resp.get("Messages", []):
            found.extend((k, e) for k, e in notification_keys(msg.get("Body", ""), self.bucket)
                         if k.startswith(self.prefix) and not k.endswith("/"))
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=msg["ReceiptHandle"])
        return found

    # Both ---------------------------------------------------------------------

    def poll(self) -> list[Landed]:
        keys = self.poll_queue() if self.queue_url else self.poll_listing()
        out = []
        for key, etag in keys:
            if self.seen.object_seen(self.cursor_name, key, etag):
                continue
            rel = key[len(self.prefix):]
            campaign_id, name = split_drop(rel)
            if is_partial_name(name):
                continue
            try:
                landed = self._describe(key, campaign_id or "", name)
            except Exception:
                # Not readable right now (deleted, permissions): forget it so the next poll looks again.
                self.seen.forget_object(self.cursor_name, key, etag)
                raise
            if landed is not None:
                out.append(landed)
        return out

    def _describe(self, key: str, campaign_id: str, name: str) -> Landed | None:
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.NoSuchKey:
            return None
        h = hashlib.sha256()
        head = b""
        size = 0
        for chunk in obj["Body"].iter_chunks(_HASH_CHUNK):
            if len(head) < 64:
                head += chunk[: 64 - len(head)]
            h.update(chunk)
            size += len(chunk)
        return Landed(source=f"s3://{self.bucket}/{key}", campaign_id=campaign_id, name=name, size=size,
                      sha256=h.hexdigest(), container=sniff_container(head), origin="s3")


def configure_notifications(s3: Any, sqs: Any, bucket: str, queue_name: str, prefix: str = "") -> str:
    """Create a queue and point the bucket's object-created notifications at it; returns the queue URL.

    What an operator would do once in the console; used by tests and by `chorus serve --inbox-queue create`.
    """
    queue_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule: dict[str, Any] = {"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}
    if prefix:
        rule["Filter"] = {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}}
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [rule]})
    return queue_url
