"""The asset store: one interface over a local folder (default, under .chorus/) and S3 or any S3-compatible server."""
from __future__ import annotations

import os
import posixpath
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Protocol
from urllib.parse import urlparse

from campaign.errors import StoreError

_KEY_PART = re.compile(r"^[\w .@+=,~-]+$", re.UNICODE)


def validate_key(key: str) -> str:
    """Reject keys that could escape the store: absolute paths, '..', backslashes, empty or control characters."""
    if not isinstance(key, str) or not key:
        raise StoreError("empty object key", "name the object, e.g. 'campaign/asset/video.mp4'")
    if key.startswith("/") or "\\" in key or re.match(r"^[A-Za-z]:", key):
        raise StoreError(f"object key {key!r} is an absolute path", "use a relative key such as 'campaign/asset.mp4'")
    parts = key.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise StoreError(f"object key {key!r} contains an empty, '.' or '..' segment", "use a plain relative key without '..'")
        if not _KEY_PART.match(part):
            raise StoreError(f"object key {key!r} contains characters that are not allowed", "use letters, digits, spaces and . _ - @ + = , ~")
    if len(key) > 900:
        raise StoreError(f"object key is {len(key)} characters long", "keep keys under 900 characters")
    return posixpath.normpath(key)


class AssetStore(Protocol):
    url: str

    def put_file(self, key: str, path: Path) -> str: ...
    def put_bytes(self, key: str, data: bytes) -> str: ...
    def get_bytes(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str = "") -> list[str]: ...
    def delete(self, key: str) -> None: ...
    def local_copy(self, key: str) -> "contextmanager[Path]": ...
    def location(self, key: str) -> str: ...
    def presigned_url(self, key: str, expires_s: int = 3600) -> str | None: ...


class LocalStore:
    """A folder on disk; writes are atomic (temp file + rename) so a crash never leaves half an object."""

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.url = str(self.root)

    def _path(self, key: str) -> Path:
        path = (self.root / validate_key(key)).resolve()
        if self.root not in path.parents:
            raise StoreError(f"object key {key!r} points outside the store", "use a plain relative key")
        return path

    def put_file(self, key: str, path: Path) -> str:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
        os.close(fd)
        shutil.copyfile(path, tmp)
        os.replace(tmp, dest)
        return key

    def put_bytes(self, key: str, data: bytes) -> str:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, dest)
        return key

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise StoreError(f"object {key!r} is not in the store at {self.root}", "check the key or re-run the stage that writes it") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> list[str]:
        base = self.root
        out = []
        for p in base.rglob("*"):
            if p.is_file() and not p.name.startswith(".tmp-"):
                rel = p.relative_to(base).as_posix()
                if rel.startswith(prefix):
                    out.append(rel)
        return sorted(out)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        path = self._path(key)
        if not path.is_file():
            raise StoreError(f"object {key!r} is not in the store at {self.root}", "check the key or re-run the stage that writes it")
        yield path

    def location(self, key: str) -> str:
        return str(self._path(key))

    def presigned_url(self, key: str, expires_s: int = 3600) -> str | None:
        return None


class S3Store:
    """S3 or any S3-compatible server (MinIO, Ceph, R2...): bucket and prefix from an s3:// URL, endpoint a setting."""

    def __init__(self, url: str, endpoint_url: str | None = None, client=None):
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise StoreError(f"{url!r} is not an s3:// URL", "write the store as s3://bucket/prefix")
        self.url = url
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client(
                "s3",
                endpoint_url=endpoint_url or os.environ.get("CHORUS_S3_ENDPOINT") or None,
                config=Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10, read_timeout=60),
            )
        self.client = client

    def _key(self, key: str) -> str:
        key = validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put_file(self, key: str, path: Path) -> str:
        self.client.upload_file(str(path), self.bucket, self._key(key))
        return key

    def put_bytes(self, key: str, data: bytes) -> str:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        return key

    def get_bytes(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                raise StoreError(f"object {key!r} is not in {self.url}", "check the key or re-run the stage that writes it") from None
            raise StoreError(f"S3 refused to read {key!r}: {err.response.get('Error', {}).get('Message', err)}", "check the bucket's permissions") from None

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise

    def list(self, prefix: str = "") -> list[str]:
        root = self.prefix + "/" if self.prefix else ""
        full = root
        if prefix:
            full = self._key(prefix.rstrip("/")) + ("/" if prefix.endswith("/") else "")
        out = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                out.append(key[len(self.prefix) + 1:] if self.prefix else key)
        return sorted(out)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        suffix = Path(key).suffix
        with tempfile.TemporaryDirectory(prefix="chorus-s3-") as tmp:
            path = Path(tmp) / f"object{suffix}"
            from botocore.exceptions import ClientError

            try:
                self.client.download_file(self.bucket, self._key(key), str(path))
            except ClientError:
                raise StoreError(f"object {key!r} is not in {self.url}", "check the key or re-run the stage that writes it") from None
            yield path

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def presigned_url(self, key: str, expires_s: int = 3600) -> str | None:
        return self.client.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": self._key(key)}, ExpiresIn=expires_s)


def open_store(url: str, endpoint_url: str | None = None) -> AssetStore:
    """A store from a setting: an s3:// URL, or a local folder path."""
    if url.startswith("s3://"):
        return S3Store(url, endpoint_url=endpoint_url)
    if "://" in url and not url.startswith("file://"):
        raise StoreError(f"store {url!r} is not supported", "use a local folder path or s3://bucket/prefix")
    return LocalStore(url.removeprefix("file://"))
