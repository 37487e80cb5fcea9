"""Where platform credentials come from at run time: environment variables, and Prefect Secret blocks when asked for.

Connectors never import Prefect: they take a lookup (credentials name -> token fields) and a token store (where a
rotated refresh token is written at once). This module builds both. With `CHORUS_SECRETS=env` (the default) tokens
come from NAME_ACCESS_TOKEN, NAME_REFRESH_TOKEN, ... and rotated sets go to 0600 files under CHORUS_HOME/tokens.
With `CHORUS_SECRETS=prefect` (or `env,prefect`), a JSON Secret block named after the credentials
(`chorus-<name>`, lower case, e.g. `chorus-junge-stimmen-tiktok`) holding
`{"access_token": ..., "refresh_token": ..., "client_id": ..., "client_secret": ...}` is read too, and rotated sets
are written back to that block, so every worker sees the live refresh token.
"""
from __future__ import annotations

import json
import os
import re
from typing import Any, Callable, Mapping

from campaign.settings import Settings
from connectors.tokens import SecretLookup, TokenStore, default_token_store, env_lookup


def block_name(credentials: str) -> str:
    """The Secret block for a credentials name (Prefect block names are lower case letters, digits and dashes)."""
    return "chorus-" + re.sub(r"[^a-z0-9]+", "-", credentials.lower()).strip("-")


def _secret_class() -> Any:
    from prefect.blocks.system import Secret

    return Secret


def _value(secret: Any) -> Mapping[str, Any] | None:
    value = secret.get()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {"access_token": value}  # a plain string block holds just an access token
    return value if isinstance(value, Mapping) else None


def prefect_lookup(secret_class: Callable[[], Any] = _secret_class) -> SecretLookup:
    """A lookup reading the credentials' JSON Secret block; None when there is no such block."""

    def lookup(name: str) -> Mapping[str, Any] | None:
        try:
            secret = secret_class().load(block_name(name))
        except ValueError:  # Prefect raises ValueError for a block that does not exist
            return None
        return _value(secret)

    return lookup


class PrefectSecretStore:
    """Writes a rotated token set back to the credentials' Secret block (and reads it from there)."""

    def __init__(self, secret_class: Callable[[], Any] = _secret_class):
        self.secret_class = secret_class

    def __repr__(self) -> str:
        return "PrefectSecretStore()"

    def load(self, name: str) -> Mapping[str, Any] | None:
        return prefect_lookup(self.secret_class)(name)

    def save(self, name: str, data: Mapping[str, Any]) -> None:
        self.secret_class()(value=dict(data)).save(block_name(name), overwrite=True)


def chain(*lookups: SecretLookup) -> SecretLookup:
    """The first lookup that knows the name wins (environment before Prefect, so a local override is easy)."""

    def lookup(name: str) -> Mapping[str, Any] | None:
        for each in lookups:
            found = each(name)
            if found:
                return found
        return None

    return lookup


def secret_sources(settings: Settings, env: Mapping[str, str] | None = None,
                   secret_class: Callable[[], Any] = _secret_class) -> tuple[SecretLookup, TokenStore]:
    """(lookup, token store) as CHORUS_SECRETS says: `env` (default), `prefect`, or `env,prefect`."""
    env = os.environ if env is None else env
    kinds = {k.strip() for k in (env.get("CHORUS_SECRETS") or "env").lower().split(",") if k.strip()}
    unknown = kinds - {"env", "prefect"}
    if unknown:
        from campaign.errors import ChorusError

        raise ChorusError(f"CHORUS_SECRETS={env.get('CHORUS_SECRETS')!r} names an unknown source {sorted(unknown)}",
                          "use env, prefect, or env,prefect")
    lookups: list[SecretLookup] = []
    if "env" in kinds:
        lookups.append(env_lookup(env))
    if "prefect" in kinds:
        lookups.append(prefect_lookup(secret_class))
        return chain(*lookups), PrefectSecretStore(secret_class)
    return chain(*lookups), default_token_store(settings.home)
