"""Tokens: names, stores, rotation, precedence, refresh failures, and that no token shows anywhere."""
from __future__ import annotations

import logging
import stat

import pytest

from connectors.base import ConnectorError, ErrorKind
from connectors.common import FakeClock
from connectors.redaction import MASK, RedactingFilter, redact, register_secret
from connectors.tokens import FileTokenStore, MemoryTokenStore, TokenManager, TokenSet, env_lookup, env_prefix

ACCESS = "SECRET-access-aaaaaaaaaaaaaaaa"
REFRESH = "SECRET-refresh-bbbbbbbbbbbbbbbb"


def test_env_names_follow_the_credentials_name():
    assert env_prefix("junge-stimmen/tiktok") == "JUNGE_STIMMEN_TIKTOK"
    env = {"JUNGE_STIMMEN_TIKTOK_ACCESS_TOKEN": ACCESS, "JUNGE_STIMMEN_TIKTOK_REFRESH_TOKEN": REFRESH,
           "JUNGE_STIMMEN_TIKTOK_CLIENT_ID": "ck", "JUNGE_STIMMEN_TIKTOK_PRIVACY_LEVEL": "SELF_ONLY", "OTHER": "x"}
    found = env_lookup(env)("junge-stimmen/tiktok")
    tokens = TokenSet.from_mapping(found)
    assert tokens.access_token == ACCESS and tokens.client_id == "ck" and tokens.extra == {"privacy_level": "SELF_ONLY"}
    assert env_lookup(env)("nobody") is None


def test_repr_and_errors_never_show_a_token():
    tokens = TokenSet(access_token=ACCESS, refresh_token=REFRESH, client_secret="SECRET-client-cccccccccc")
    assert ACCESS not in repr(tokens) and REFRESH not in repr(tokens) and "cccc" not in repr(tokens)
    register_secret(ACCESS)
    err = ConnectorError(ErrorKind.PERMANENT, "TikTok", f"refused token {ACCESS}", reason=f"Bearer {REFRESH}")
    assert ACCESS not in str(err) and REFRESH not in str(err) and MASK in str(err)


def test_redaction_masks_known_secrets_and_credential_shapes():
    register_secret("SECRET-known-dddddddddddd")
    text = redact('x SECRET-known-dddddddddddd y access_token=abc123456&z=1 {"refresh_token": "zzzzzz"} '
                  "Authorization: Bearer eeeeeeeeee")
    assert "dddd" not in text and "abc123456" not in text and "zzzzzz" not in text and "eeeeeeeeee" not in text
    record = logging.LogRecord("connectors", logging.INFO, __file__, 1, "token %s", ("SECRET-known-dddddddddddd",),
                               None)
    RedactingFilter().filter(record)
    assert "dddd" not in record.getMessage()


def test_file_store_is_private_and_atomic(tmp_path):
    store = FileTokenStore(tmp_path / "tokens")
    store.save("ORG/TT", {"access_token": ACCESS})
    path = next((tmp_path / "tokens").glob("*.json"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "tokens").stat().st_mode) == 0o700
    assert store.load("ORG/TT") == {"access_token": ACCESS} and store.load("nope") is None
    assert ACCESS not in repr(store)


def _manager(source, store, clock, refresher):
    return TokenManager("tiktok", "ORG_TT", refresher=refresher, lookup=lambda name: source.get(name), store=store,
                        clock=clock)


def test_refresh_before_expiry_saves_the_rotated_set_at_once():
    clock = FakeClock(1000.0)
    store = MemoryTokenStore()
    source = {"ORG_TT": {"access_token": ACCESS, "refresh_token": REFRESH, "client_id": "ck", "client_secret": "cs",
                         "expires_at": 1000 + 200}}
    calls = []

    def refresher(tokens):
        calls.append(tokens.refresh_token)
        # The store must be written before the new token is handed out: look at it from inside the next call.
        return {"access_token": f"SECRET-new-access-{len(calls)}", "refresh_token": f"SECRET-new-refresh-{len(calls)}",
                "expires_in": 7200}

    manager = _manager(source, store, clock, refresher)
    assert manager.access_token() == "SECRET-new-access-1"  # expires within the 5-minute skew: refreshed first
    assert calls == [REFRESH] and store.load("ORG_TT")["refresh_token"] == "SECRET-new-refresh-1"
    # A new process starts from the stored (rotated) set, not the dead one in the environment.
    again = _manager(source, store, clock, refresher)
    assert again.access_token() == "SECRET-new-access-1"
    # Someone reconnects the account: the environment's new set wins over the stored one.
    source["ORG_TT"] = {"access_token": "SECRET-reconnected-1234", "refresh_token": "SECRET-reconnected-r-5678"}
    assert _manager(source, store, clock, refresher).access_token() == "SECRET-reconnected-1234"


def test_a_refused_refresh_means_reconnect_and_a_failed_one_means_later():
    clock = FakeClock(1000.0)
    source = {"ORG_TT": {"access_token": ACCESS, "refresh_token": REFRESH, "expires_at": 900}}

    def refused(tokens):
        raise ConnectorError(ErrorKind.AUTH_EXPIRED, "TikTok", "no", reason="invalid_grant")

    with pytest.raises(ConnectorError) as err:
        _manager(source, MemoryTokenStore(), clock, refused).access_token()
    assert err.value.kind == ErrorKind.NEEDS_RECONNECT and "reconnect" in err.value.message

    def down(tokens):
        raise ConnectorError(ErrorKind.RETRYABLE, "TikTok", "503")

    with pytest.raises(ConnectorError) as err:
        _manager(source, MemoryTokenStore(), clock, down).access_token()
    assert err.value.kind == ErrorKind.RETRYABLE


def test_missing_credentials_name_the_variables_to_set():
    manager = TokenManager("x", "VOTES_X", refresher=None, lookup=lambda name: None, store=MemoryTokenStore())
    with pytest.raises(ConnectorError) as err:
        manager.access_token()
    assert err.value.kind == ErrorKind.NEEDS_RECONNECT and "VOTES_X_ACCESS_TOKEN" in err.value.message


def test_a_401_refreshes_once_even_when_two_calls_see_it():
    clock = FakeClock(1000.0)
    source = {"ORG_TT": {"access_token": ACCESS, "refresh_token": REFRESH}}
    count = []

    def refresher(tokens):
        count.append(1)
        return {"access_token": f"SECRET-fresh-{len(count)}-xxxxxxxx", "refresh_token": f"SECRET-rot-{len(count)}-yyyy"}

    manager = _manager(source, MemoryTokenStore(), clock, refresher)
    manager.access_token()
    manager.refresh(force=True, rejected=ACCESS)
    manager.refresh(force=True, rejected=ACCESS)  # the second caller's token was already replaced
    assert len(count) == 1
