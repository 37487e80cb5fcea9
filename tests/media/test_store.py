"""The asset store: one contract for a local folder and for S3 (a real S3-compatible server on 127.0.0.1)."""
from __future__ import annotations

import pytest
import requests

from campaign.errors import StoreError
from media.store import LocalStore, S3Store, open_store, validate_key


@pytest.fixture(scope="module")
def s3_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_env(monkeypatch):
    # Dummy credentials for the local server; boto3 must never reach real AWS from a test.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalStore(tmp_path / "store")
    endpoint = request.getfixturevalue("s3_server")
    request.getfixturevalue("s3_env")
    import boto3

    bucket = f"chorus-{abs(hash(str(tmp_path))) % 10**8}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    return S3Store(f"s3://{bucket}/campaigns-root", endpoint_url=endpoint)


def test_round_trip_list_exists_delete(store, tmp_path):
    src = tmp_path / "video.mp4"
    src.write_bytes(b"\x00\x01video-bytes" * 1000)
    store.put_file("c1/a1/master.mp4", src)
    store.put_bytes("c1/a1/captions/en.srt", "1\n00:00:00,000 --> 00:00:01,000\nHéllo\n".encode())
    store.put_bytes("c2/other.txt", b"x")
    assert store.exists("c1/a1/master.mp4")
    assert not store.exists("c1/a1/missing.mp4")
    assert store.get_bytes("c1/a1/captions/en.srt").decode().endswith("Héllo\n")
    assert store.list("c1/") == ["c1/a1/captions/en.srt", "c1/a1/master.mp4"]
    with store.local_copy("c1/a1/master.mp4") as path:
        assert path.read_bytes() == src.read_bytes()
    store.delete("c2/other.txt")
    assert not store.exists("c2/other.txt")
    with pytest.raises(StoreError, match="not in"):
        store.get_bytes("c2/other.txt")


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs/path", "a/../../b", "a//b", "a\\b", "C:/x", "", "a/./b", "bad\x00"])
def test_unsafe_keys_are_refused(key, store):
    with pytest.raises(StoreError):
        store.put_bytes(key, b"x")
    with pytest.raises(StoreError):
        validate_key(key)


def test_s3_presigned_url_serves_the_object(s3_server, s3_env):
    import boto3

    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket="presign")
    store = S3Store("s3://presign/p", endpoint_url=s3_server)
    store.put_bytes("v.mp4", b"video")
    url = store.presigned_url("v.mp4")
    assert url.startswith(s3_server)
    assert requests.get(url, timeout=10).content == b"video"


def test_open_store_picks_the_backend(tmp_path, s3_server, s3_env):
    assert isinstance(open_store(str(tmp_path / "s")), LocalStore)
    assert isinstance(open_store("s3://bucket/prefix", endpoint_url=s3_server), S3Store)
    with pytest.raises(StoreError, match="not supported"):
        open_store("ftp://example/x")
