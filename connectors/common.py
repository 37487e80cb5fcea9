"""Wiring shared by every platform module: turning (account, settings, keyword arguments) into an HTTP client with
its token manager, request limiter and options, so each platform's `make_connector` is a few lines.

Keyword arguments a caller (the publishing stage, a test) may pass to `make_connector(..., **kwargs)`:

    secrets      a SecretLookup (name -> mapping of token fields); default: environment variables
    token_store  a TokenStore for rotated tokens; default: files under CHORUS_HOME/tokens (0600)
    sleep, clock injectable time (tests run backoff and polling without waiting)
    session      a requests.Session to use
    options      an HttpOptions replacing the one built from settings
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping

import requests

from campaign.manifest import Account
from connectors.http import BodyClassifier, HttpClient, HttpOptions, Rate, RateLimiter
from connectors.tokens import Refresher, SecretLookup, TokenManager, TokenStore, default_token_store


@dataclass(frozen=True)
class Deps:
    options: HttpOptions
    secrets: SecretLookup | None
    token_store: TokenStore | None
    session_factory: Callable[[], requests.Session]


def deps_from(settings: Any, kwargs: Mapping[str, Any]) -> Deps:
    options = kwargs.get("options") or HttpOptions.from_settings(settings)
    overrides = {k: kwargs[k] for k in ("sleep", "clock") if kwargs.get(k) is not None}
    if overrides:
        options = replace(options, **overrides)
    store = kwargs.get("token_store")
    if store is None:
        store = default_token_store(Path(settings.home))
    session = kwargs.get("session")
    return Deps(options, kwargs.get("secrets"), store, (lambda: session) if session is not None else requests.Session)


def token_manager(platform: str, account: Account, deps: Deps, refresher: Refresher | None, *,
                  label: str, scheme: str = "Bearer") -> TokenManager:
    if not account.credentials:
        raise ValueError(f"account {account.id!r} has no credentials name")
    return TokenManager(platform, account.credentials, refresher=refresher, lookup=deps.secrets,
                        store=deps.token_store, clock=deps.options.clock, label=label, scheme=scheme)


def limiter(platform: str, account: Account, deps: Deps, rates: Mapping[str, Rate], *, label: str) -> RateLimiter:
    path = deps.options.state_dir / f"{platform}-{account.id}.json" if deps.options.state_dir else None
    return RateLimiter(rates, clock=deps.options.clock, sleep=deps.options.sleep, max_wait_s=deps.options.max_wait_s,
                       path=path, scale=deps.options.rate_window_scale, platform=label)


def client(platform: str, deps: Deps, *, label: str, auth: Any = None, classify: BodyClassifier | None = None,
           limiter: RateLimiter | None = None, meta: bool = False) -> HttpClient:
    return HttpClient(platform, deps.options, auth=auth, classify=classify, limiter=limiter, label=label, meta=meta,
                      session=deps.session_factory())


def poll(check: Callable[[], Any], done: Callable[[Any], bool], options: HttpOptions) -> tuple[Any, bool]:
    """Call `check` every poll interval until `done(result)` or the poll budget is spent; (last result, done?)."""
    deadline = options.clock() + options.poll_budget_s
    while True:
        result = check()
        if done(result):
            return result, True
        if options.clock() >= deadline:
            return result, False
        options.sleep(options.poll_interval_s)


class FakeClock:
    """A clock whose sleep moves time forward at once: backoff, polling and rate windows in tests cost nothing."""

    def __init__(self, start: float | None = None):
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
