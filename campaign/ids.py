"""Stable identifiers: variant ids and the publishing idempotency key."""
from __future__ import annotations

import hashlib
import re

_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def is_slug(value: str) -> bool:
    return bool(_SLUG.match(value))


def variant_id(campaign_id: str, asset_id: str, language: str, format_name: str) -> str:
    return f"{campaign_id}/{asset_id}/{language}/{format_name.replace(':', 'x')}"


def idempotency_key(campaign_id: str, asset_id: str, language: str, format_name: str, account_id: str) -> str:
    """One post per variant x account: the same inputs always give the same key, so a re-run finds the row."""
    raw = "\x1f".join([campaign_id, asset_id, language, format_name, account_id])
    return hashlib.sha256(raw.encode()).hexdigest()[:32]
