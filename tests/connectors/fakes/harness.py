"""Helpers for connector tests: an account, settings pointing at a fake, the fake's grant as the account's secrets,
and a fake clock so backoff, polling and rate windows cost no real time."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from campaign.manifest import Account
from campaign.settings import Settings
from connectors.base import PostContent
from connectors.common import FakeClock
from connectors.tokens import MemoryTokenStore
from tests.connectors.fakes.base import FakePlatform, test_video_bytes


def account(platform: str, account_id: str | None = None, *, credentials: str | None = None, **kw: Any) -> Account:
    account_id = account_id or f"org-{platform}"
    return Account(id=account_id, platform=platform, organisation="org", handle=kw.pop("handle", "@org"),
                   countries=kw.pop("countries", ["DE"]), languages=kw.pop("languages", ["de"]),
                   credentials=credentials or f"TEST_{platform.upper()}_{account_id.replace('-', '_').upper()}", **kw)


def settings(home: Path, base_urls: dict[str, str]) -> Settings:
    return Settings(home=home, store_url=str(home / "store"), warehouse_path=home / "chorus.duckdb",
                    base_urls=base_urls, http_backoff_s=0.01, poll_interval_s=1.0)


class Secrets:
    """A SecretLookup holding grants by credentials name (what env vars or a Prefect block would hold)."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {}

    def add(self, name: str, grant: dict[str, Any], clock: FakeClock | None = None, **extra: Any) -> None:
        now = clock() if clock else None
        entry = {"access_token": grant["access_token"], "refresh_token": grant["refresh_token"],
                 "client_id": "client-id-1", "client_secret": "SECRET-client-secret-0123456789", **extra}
        if now is not None and grant.get("expires_in"):
            entry["expires_at"] = now + float(grant["expires_in"])
        self.data[name] = entry

    def __call__(self, name: str) -> dict[str, Any] | None:
        return self.data.get(name)


def connect(fake: FakePlatform, acct: Account, clock: FakeClock, home: Path, *, secrets: Secrets | None = None,
            token_store: Any = None, base_names: tuple[str, ...] = (), access_ttl_s: float | None = None,
            **kw: Any):
    """A live connector for `acct` pointed at `fake`, with a fresh grant from the fake as its credentials."""
    import importlib

    secrets = secrets or Secrets()
    if acct.credentials not in secrets.data:
        secrets.add(acct.credentials, fake.tokens.grant(access_ttl_s=access_ttl_s), clock)
    names = base_names or (acct.platform.value,)
    module = importlib.import_module(f"connectors.{acct.platform.value}")
    return module.make_connector(acct, settings(home, {n: fake.base_url for n in names}), secrets=secrets,
                                 token_store=token_store if token_store is not None else MemoryTokenStore(),
                                 sleep=clock.sleep, clock=clock, **kw)


def content(acct: Account, tmp: Path, marker: str, *, size: int = 4096, **kw: Any) -> PostContent:
    video = tmp / f"{marker}.mp4"
    video.write_bytes(test_video_bytes(marker, size))
    return PostContent(idempotency_key=marker, account=acct, video_path=video, language=kw.pop("language", "de"),
                       title=kw.pop("title", "Deine Stimme zählt"), description=kw.pop("description", f"Post {marker}"),
                       hashtags=kw.pop("hashtags", ("ErsteWahl",)), **kw)


class Refs:
    """A save_ref that records every saved handle, like the ledger does."""

    def __init__(self) -> None:
        self.saved: list[dict[str, Any]] = []

    def __call__(self, ref: dict[str, Any]) -> None:
        self.saved.append(dict(ref))

    @property
    def last(self) -> dict[str, Any]:
        return self.saved[-1] if self.saved else {}
