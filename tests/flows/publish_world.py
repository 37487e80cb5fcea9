"""A publishing world for stage tests: a campaign in the warehouse with rendered variants in the store (small test
videos whose marker is the post's idempotency key), posts planned in the ledger, and fake platforms to post to."""
from __future__ import annotations

import datetime as dt
import importlib
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from campaign.manifest import Account, Manifest, parse_manifest
from campaign.settings import Settings
from connectors.base import Connector
from connectors.common import FakeClock
from connectors.sandbox import SandboxConnector
from connectors.tokens import FileTokenStore
from flows.runtime import Runtime
from media.store import LocalStore
from tests.connectors.fakes.base import FakePlatform, test_video_bytes
from tests.connectors.fakes.harness import Secrets
from warehouse.ledger import Ledger, PlannedPost
from warehouse.records import upsert_campaign

T0 = dt.datetime(2027, 3, 1, 17, 0, tzinfo=dt.timezone.utc)

# Which settings base URLs each platform's connector reads (all pointed at the platform's one fake).
BASE_NAMES = {
    "tiktok": ("tiktok",),
    "youtube": ("youtube", "youtube_analytics", "youtube_oauth"),
    "x": ("x",),
    "instagram": ("instagram", "instagram_login", "rupload"),
    "facebook": ("facebook", "rupload"),
    "linkedin": ("linkedin", "linkedin_oauth"),
}


def fake_for(platform: str, clock: Callable[[], float], seed: int = 0, **kw: Any) -> FakePlatform:
    module = importlib.import_module(f"tests.connectors.fakes.{platform}")
    cls = {"tiktok": "FakeTikTok", "youtube": "FakeYouTube", "x": "FakeX", "instagram": "FakeInstagram",
           "facebook": "FakeFacebook", "linkedin": "FakeLinkedIn"}[platform]
    return getattr(module, cls)(clock=clock, seed=seed, **kw)


def manifest_doc(platforms: list[str], *, accounts_per_platform: int = 1, assets: int = 1,
                 languages: tuple[str, ...] = ("de",), sandbox: bool = False) -> dict:
    accounts = []
    for platform in platforms:
        for n in range(accounts_per_platform):
            acc = {"id": f"{platform}-{n}", "platform": platform, "organisation": "ngo", "handle": f"@ngo{n}",
                   "countries": ["DE"], "languages": list(languages)}
            acc.update({"sandbox": True} if sandbox else {"credentials": f"TEST_{platform.upper()}_{n}"})
            accounts.append(acc)
    return {
        "campaign": {"id": "camp", "name": "Publishing test"},
        "organisations": [{"id": "ngo", "name": "NGO"}],
        "languages": list(languages),
        "countries": [{"code": "DE", "timezone": "Europe/Berlin", "languages": list(languages)}],
        "accounts": accounts,
        "assets": [{"id": f"a{i:03d}", "file": f"a{i:03d}.mp4", "language": languages[0], "title": f"Asset {i}"}
                   for i in range(assets)],
        "schedule": {"start": "2027-01-01", "end": "2027-12-31", "slots": ["18:00"]},
        "posts": {lang: {"default": {"title": "", "description": f"Registriere dich ({lang})", "hashtags": ["Wahl"]}}
                  for lang in languages},
    }


@dataclass
class World:
    rt: Runtime
    manifest: Manifest
    clock: FakeClock
    fakes: dict[str, FakePlatform] = field(default_factory=dict)
    secrets: Secrets = field(default_factory=Secrets)
    token_store: FileTokenStore | None = None
    stack: ExitStack = field(default_factory=ExitStack)

    def connector(self, account: Account, **kw: Any) -> Connector:
        if account.sandbox or account.platform.value not in self.fakes:
            return SandboxConnector(account, self.rt.store, clock=lambda: T0)
        fake = self.fakes[account.platform.value]
        names = BASE_NAMES[account.platform.value]
        settings = Settings(home=self.rt.settings.home, store_url=self.rt.settings.store_url,
                            warehouse_path=self.rt.settings.warehouse_path,
                            base_urls={n: fake.base_url for n in names}, http_backoff_s=0.01, poll_interval_s=1.0)
        module = importlib.import_module(f"connectors.{account.platform.value}")
        return module.make_connector(account, settings, store=self.rt.store, secrets=self.secrets,
                                     token_store=self.token_store, sleep=self.clock.sleep, clock=self.clock, **kw)

    def factory(self, **kw: Any) -> Callable[[Account], Connector]:
        return lambda account: self.connector(account, **kw)

    def posts(self) -> list[dict]:
        with self.rt.warehouse() as con:
            cur = con.execute("SELECT * FROM posts ORDER BY idempotency_key")
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r)) for r in cur.fetchall()]

    def states(self) -> dict[str, int]:
        with self.rt.warehouse() as con:
            return dict(con.execute("SELECT state, count(*) FROM posts GROUP BY 1").fetchall())

    def published_counts(self) -> dict[str, int]:
        """How many times each post's video went live across all fakes (by the marker in its bytes)."""
        out: dict[str, int] = {}
        for fake in self.fakes.values():
            for marker, n in fake.published_markers().items():
                out[marker] = out.get(marker, 0) + n
        return out

    def close(self) -> None:
        self.stack.close()


def account_extras(fake: FakePlatform) -> dict[str, str]:
    """The ids a platform's credentials carry besides tokens (Page, Instagram account, LinkedIn organisation)."""
    names = {"page_id": "page_id", "ig_user_id": "user_id"}
    out = {key: str(getattr(fake, attr)) for attr, key in names.items() if hasattr(fake, attr)}
    if hasattr(fake, "organization"):
        out["author_urn"] = str(fake.organization)
    return out


def build_world(home: Path, doc: dict, *, fakes: list[str] = (), seed: int = 0, at: dt.datetime = T0,
                video_size: int = 2048, fake_kwargs: dict[str, dict] | None = None,
                captions: bool = False, clock_start: dt.datetime = T0,
                fake_clock: Callable[[], float] | None = None) -> World:
    """Warehouse, store, variants and planned posts for `doc`, and started fakes for the platforms in `fakes`."""
    settings = Settings(home=home, store_url=str(home / "store"), warehouse_path=home / "chorus.duckdb",
                        http_backoff_s=0.01, poll_interval_s=1.0)
    store = LocalStore(settings.store_url)
    rt = Runtime(settings, store)
    manifest = parse_manifest(doc, source="test")
    clock = FakeClock(clock_start.timestamp())
    world = World(rt, manifest, clock, token_store=FileTokenStore(home / "tokens"))
    for platform in fakes:
        # A process of its own (the crash test) runs on real time, so its fakes must too.
        fake = fake_for(platform, fake_clock or clock, seed=seed, **(fake_kwargs or {}).get(platform, {}))
        world.stack.enter_context(fake)
        world.fakes[platform] = fake
    for acc in manifest.accounts:
        if not acc.sandbox and acc.platform.value in world.fakes:
            fake = world.fakes[acc.platform.value]
            world.secrets.add(acc.credentials, fake.tokens.grant(), clock, **account_extras(fake))
    from campaign.plan import plan_posts

    with rt.warehouse() as con:
        upsert_campaign(con, manifest)
        planned: list[PlannedPost] = []
        variants: list[list[Any]] = []
        for asset in manifest.assets:
            specs = plan_posts(manifest, asset, at - dt.timedelta(days=1))
            for s in specs:
                key = f"variants/{s.variant.id.replace(':', 'x')}/{s.idempotency_key}.mp4"
                store.put_bytes(key, test_video_bytes(s.idempotency_key, video_size))
                variants.append([s.variant.id + "/" + s.idempotency_key, manifest.id, asset.id, s.variant.language,
                                 s.variant.format.name, s.variant.format.width, s.variant.format.height, key])
                if captions:
                    srt_key = f"captions/{asset.id}.{s.variant.language}.srt"
                    store.put_bytes(srt_key, b"1\n00:00:00,000 --> 00:00:01,000\nHallo\n")
                    con.execute("INSERT OR REPLACE INTO captions (campaign_id, asset_id, language, origin, srt_key) "
                                "VALUES (?, ?, ?, 'file', ?)", [manifest.id, asset.id, s.variant.language, srt_key])
                planned.append(PlannedPost(
                    s.idempotency_key, manifest.id, asset.id, s.variant.id + "/" + s.idempotency_key,
                    s.variant.language, s.variant.format.name, s.account.id, s.account.platform.value,
                    s.account.organisation, s.country, s.account.sandbox, at))
        con.executemany("INSERT OR REPLACE INTO variants (variant_id, campaign_id, asset_id, language, format, width, "
                        "height, key, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'rendered')", variants)
        con.execute("BEGIN TRANSACTION")
        Ledger(con).plan(planned)
        con.execute("COMMIT")
    return world
