"""Platform tokens: read by name from the environment or a secret block, refreshed before expiry and on 401, rotating
refresh tokens saved at once, attached to requests by an auth object callers never see, and never shown anywhere.

An account's manifest entry says `credentials: NAME`. With the default lookup, NAME is turned into an environment
prefix (upper case, every other character than A-Z and 0-9 becomes `_`) and these variables are read:

    NAME_ACCESS_TOKEN    the current access token (optional when a refresh token is given)
    NAME_REFRESH_TOKEN   the refresh token (needed for unattended runs longer than the access token's life)
    NAME_CLIENT_ID       the app's client id / client key (TikTok calls it client_key)
    NAME_CLIENT_SECRET   the app's client secret
    NAME_EXPIRES_AT      optional: when the access token expires (unix seconds or ISO 8601)
    NAME_<ANYTHING>      optional extras a platform needs (e.g. NAME_USER_ID), passed through lower-cased

`flows/secrets.py` offers the same from a Prefect Secret block (a JSON secret with the same keys, lower case).

When a platform rotates refresh tokens (TikTok, X, LinkedIn), the old one stops working once a new one is issued,
so the new set is written to a token store before it is used: by default a JSON file per account under
`CHORUS_HOME/tokens/` with permissions 0600. The store remembers a fingerprint of the token set it started from;
when the environment holds a different one (someone reconnected the account), the environment wins.

A refresh that the platform refuses (revoked, expired refresh token) raises ConnectorError(NEEDS_RECONNECT): the
publishing stage then holds the account's posts rather than failing them one by one.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

import requests

from connectors.base import ConnectorError, ErrorKind
from connectors.redaction import redact, register_secret

__all__ = ["TokenSet", "TokenManager", "TokenStore", "FileTokenStore", "MemoryTokenStore", "SecretLookup",
           "env_lookup", "env_prefix", "redact", "register_secret"]

SecretLookup = Callable[[str], "Mapping[str, Any] | None"]
# A platform's refresh call: the current set in, the token endpoint's JSON answer out (raises ConnectorError).
Refresher = Callable[["TokenSet"], Mapping[str, Any]]

# Refresh this long before the platform's expiry, so a token never lapses halfway through an upload.
DEFAULT_SKEW_S = 300.0

_KNOWN = {"access_token", "refresh_token", "client_id", "client_secret", "expires_at"}


def env_prefix(name: str) -> str:
    """The environment-variable prefix for a credentials name: 'junge-stimmen/tiktok' -> 'JUNGE_STIMMEN_TIKTOK'."""
    return re.sub(r"[^A-Z0-9]", "_", name.upper())


def env_lookup(env: Mapping[str, str] | None = None) -> SecretLookup:
    """A lookup reading NAME_ACCESS_TOKEN, NAME_REFRESH_TOKEN, ... from `env` (default: the process environment)."""

    def lookup(name: str) -> dict[str, Any] | None:
        source = os.environ if env is None else env
        prefix = env_prefix(name) + "_"
        found = {k[len(prefix):].lower(): v for k, v in source.items() if k.startswith(prefix) and v}
        return found or None

    return lookup


def _parse_expiry(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        pass
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.timestamp()


@dataclass(frozen=True)
class TokenSet:
    """One account's credentials. Secret fields are left out of repr, so a traceback or log never shows them."""

    access_token: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    expires_at: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "TokenSet":
        return cls(
            access_token=data.get("access_token") or None,
            refresh_token=data.get("refresh_token") or None,
            client_id=data.get("client_id") or data.get("client_key") or None,
            client_secret=data.get("client_secret") or None,
            expires_at=_parse_expiry(data.get("expires_at")),
            extra={k: v for k, v in data.items() if k not in _KNOWN and k not in {"client_key", "source_fingerprint"}},
        )

    def to_mapping(self) -> dict[str, Any]:
        out = {k: v for k, v in {"access_token": self.access_token, "refresh_token": self.refresh_token,
                                 "client_id": self.client_id, "client_secret": self.client_secret,
                                 "expires_at": self.expires_at}.items() if v is not None}
        out.update(self.extra)
        return out

    def register(self) -> "TokenSet":
        for value in (self.access_token, self.refresh_token, self.client_secret):
            register_secret(value)
        return self

    def fingerprint(self) -> str:
        """Identifies the set without revealing it (a hash of its long-lived part)."""
        basis = self.refresh_token or self.access_token or ""
        return hashlib.sha256(basis.encode()).hexdigest()[:16]

    def expires_within(self, seconds: float, now: float) -> bool:
        return self.expires_at is not None and self.expires_at - now <= seconds


class TokenStore(Protocol):
    def load(self, name: str) -> Mapping[str, Any] | None: ...
    def save(self, name: str, data: Mapping[str, Any]) -> None: ...


class FileTokenStore:
    """Token sets as JSON files readable by their owner only (0600 in a 0700 folder), written atomically."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"FileTokenStore({str(self.root)!r})"

    def _path(self, name: str) -> Path:
        return self.root / (re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".json")

    def load(self, name: str) -> Mapping[str, Any] | None:
        path = self._path(name)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except ValueError:
            return None  # a damaged file is ignored; the environment's tokens are used instead

    def save(self, name: str, data: Mapping[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        path = self._path(name)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tok-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(dict(data), f)
                f.flush()
                # A rotated refresh token that does not survive a crash is an account lost: flush to disk.
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


class MemoryTokenStore:
    """A token store in memory (tests, or a caller that persists elsewhere)."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"MemoryTokenStore({sorted(self.data)})"

    def load(self, name: str) -> Mapping[str, Any] | None:
        return self.data.get(name)

    def save(self, name: str, data: Mapping[str, Any]) -> None:
        self.data[name] = dict(data)


_name_locks: dict[str, threading.RLock] = {}
_name_locks_guard = threading.Lock()


def _lock_for(name: str) -> threading.RLock:
    with _name_locks_guard:
        return _name_locks.setdefault(name, threading.RLock())


class TokenManager:
    """The tokens of one credentials name: current access token, refresh when due, save rotated sets at once."""

    def __init__(self, platform: str, name: str, *, refresher: Refresher | None, lookup: SecretLookup | None = None,
                 store: TokenStore | None = None, clock: Callable[[], float] = time.time,
                 skew_s: float = DEFAULT_SKEW_S, label: str | None = None, scheme: str = "Bearer"):
        self.platform = platform
        self.name = name
        self.label = label or platform
        self.refresher = refresher
        self.lookup = lookup or env_lookup()
        self.store = store
        self.clock = clock
        self.skew_s = skew_s
        self.scheme = scheme
        self._tokens: TokenSet | None = None
        self._source_fp: str | None = None
        self._lock = _lock_for(f"{platform}:{name}")
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"TokenManager({self.platform!r}, {self.name!r})"

    # ---- loading ----

    def _reconnect(self, message: str, reason: str | None = None) -> ConnectorError:
        return ConnectorError(ErrorKind.NEEDS_RECONNECT, self.label, message, reason=reason)

    def _load(self) -> TokenSet:
        source_data = self.lookup(self.name)
        source = TokenSet.from_mapping(source_data).register() if source_data else None
        stored_data = self.store.load(self.name) if self.store else None
        stored = TokenSet.from_mapping(stored_data).register() if stored_data else None
        fp = source.fingerprint() if source else None
        self._source_fp = fp
        if stored and (source is None or stored_data.get("source_fingerprint") == fp):
            return stored  # rotated since the environment was set: the stored set is the live one
        if source is None:
            prefix = env_prefix(self.name)
            raise self._reconnect(
                f"no credentials named {self.name!r} were found; set {prefix}_ACCESS_TOKEN and "
                f"{prefix}_REFRESH_TOKEN (plus {prefix}_CLIENT_ID and {prefix}_CLIENT_SECRET), or create a Prefect "
                f"Secret block with those keys")
        return source

    def tokens(self) -> TokenSet:
        with self._lock:
            if self._tokens is None:
                self._tokens = self._load()
            return self._tokens

    # ---- use ----

    def access_token(self) -> str:
        """A valid access token, refreshed first when it expires within the skew."""
        with self._lock:
            current = self.tokens()
            if current.access_token is None or current.expires_within(self.skew_s, self.clock()):
                if current.refresh_token and self.refresher:
                    current = self.refresh()
                elif current.access_token is None:
                    raise self._reconnect("the account has no access token and no refresh token; reconnect it")
            return current.access_token  # type: ignore[return-value]

    def refresh(self, *, force: bool = False, rejected: str | None = None) -> TokenSet:
        """Get a new access token. `rejected` is the token a 401 answered, so a token another caller has just
        refreshed is not refreshed twice (with rotating refresh tokens that would waste a rotation)."""
        with self._lock:
            current = self.tokens()
            if rejected is not None and current.access_token != rejected:
                return current
            if self.store is not None:
                # Another process or manager sharing these credentials may have rotated them already.
                latest = self.store.load(self.name)
                if latest and latest.get("source_fingerprint") == self._source_fp:
                    candidate = TokenSet.from_mapping(latest).register()
                    if candidate.access_token not in (current.access_token, rejected) and not \
                            candidate.expires_within(self.skew_s, self.clock()):
                        self._tokens = candidate
                        return candidate
                    current = candidate if candidate.refresh_token else current
            if not current.refresh_token or self.refresher is None:
                raise self._reconnect(
                    f"the access token expired and there is no refresh token for {self.name!r}; "
                    "reconnect the account (grant offline access so Chorus can refresh it)")
            try:
                answer = self.refresher(current)
            except ConnectorError as err:
                if err.kind in (ErrorKind.AUTH_EXPIRED, ErrorKind.PERMANENT, ErrorKind.NEEDS_RECONNECT):
                    raise self._reconnect(
                        "the platform refused to renew the account's access; a person must reconnect the account",
                        reason=err.reason) from None
                raise ConnectorError(ErrorKind.RETRYABLE, self.label,
                                     "renewing the account's access failed for now; Chorus will try again",
                                     reason=err.reason, retry_after_s=err.retry_after_s) from None
            access = answer.get("access_token")
            if not access:
                raise self._reconnect("the platform's token answer had no access token; reconnect the account")
            expires_in = answer.get("expires_in")
            new = replace(
                current,
                access_token=str(access),
                refresh_token=str(answer.get("refresh_token") or current.refresh_token),
                expires_at=self.clock() + float(expires_in) if expires_in else None,
            ).register()
            self._save(new)
            self._tokens = new
            self.refreshes += 1
            return new

    def _save(self, tokens: TokenSet) -> None:
        if self.store is None:
            return
        data = tokens.to_mapping()
        data["source_fingerprint"] = self._source_fp
        self.store.save(self.name, data)

    @property
    def auth(self) -> "BearerAuth":
        return BearerAuth(self, self.scheme)


class BearerAuth(requests.auth.AuthBase):
    """Sets `Authorization: <scheme> <token>` on each request; HttpClient calls `on_unauthorized` after a 401."""

    def __init__(self, manager: TokenManager, scheme: str = "Bearer", header: str = "Authorization"):
        self.manager = manager
        self.scheme = scheme
        self.header = header
        self._last: str | None = None

    def __repr__(self) -> str:
        return f"BearerAuth({self.manager.name!r})"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self.manager.access_token()
        self._last = token
        request.headers[self.header] = f"{self.scheme} {token}"
        return request

    def on_unauthorized(self) -> None:
        self.manager.refresh(force=True, rejected=self._last)


def default_token_store(home: str | Path) -> FileTokenStore:
    return FileTokenStore(Path(home) / "tokens")


def safe_text(value: object) -> str:
    """`value` as text with every known secret masked (for messages built from platform answers)."""
    return redact(value)
