"""Credentials sources: environment variables, and Prefect Secret blocks (through a stand-in for the block class)."""
from __future__ import annotations

from pathlib import Path

import pytest

from campaign.errors import ChorusError
from campaign.settings import Settings
from connectors.tokens import FileTokenStore
from flows.secrets import PrefectSecretStore, block_name, secret_sources


class FakeSecret:
    """Stands in for prefect.blocks.system.Secret: load(name) / get() / Secret(value=...).save(name, overwrite)."""

    blocks: dict[str, object] = {}

    def __init__(self, value=None):
        self.value = value

    @classmethod
    def load(cls, name):
        if name not in cls.blocks:
            raise ValueError(f"Unable to find block document named {name}")
        return cls(cls.blocks[name])

    def get(self):
        return self.value

    def save(self, name, overwrite=False):
        assert overwrite
        FakeSecret.blocks[name] = self.value


def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path, store_url=str(tmp_path / "store"), warehouse_path=tmp_path / "w.duckdb")


def test_block_names_are_prefect_safe():
    assert block_name("Junge_Stimmen/TikTok") == "chorus-junge-stimmen-tiktok"


def test_env_is_the_default_and_rotations_go_to_private_files(tmp_path):
    lookup, store = secret_sources(settings(tmp_path), env={"ORG_TT_ACCESS_TOKEN": "SECRET-a-123456789"})
    assert lookup("org-tt") == {"access_token": "SECRET-a-123456789"}
    assert isinstance(store, FileTokenStore) and store.root == tmp_path / "tokens"


def test_prefect_blocks_are_read_after_env_and_rotations_written_back(tmp_path):
    FakeSecret.blocks = {"chorus-org-yt": {"refresh_token": "SECRET-r-123456789", "client_id": "cid"},
                         "chorus-plain": "SECRET-just-a-token-1"}
    env = {"CHORUS_SECRETS": "env,prefect", "ORG_TT_ACCESS_TOKEN": "SECRET-env-123456"}
    lookup, store = secret_sources(settings(tmp_path), env=env, secret_class=lambda: FakeSecret)
    assert lookup("org-tt") == {"access_token": "SECRET-env-123456"}
    assert lookup("org-yt")["client_id"] == "cid"
    assert lookup("plain") == {"access_token": "SECRET-just-a-token-1"}
    assert lookup("missing") is None
    assert isinstance(store, PrefectSecretStore) and "SECRET" not in repr(store)
    store.save("org-yt", {"refresh_token": "SECRET-rotated-987654"})
    assert FakeSecret.blocks["chorus-org-yt"] == {"refresh_token": "SECRET-rotated-987654"}
    assert store.load("org-yt") == {"refresh_token": "SECRET-rotated-987654"}


def test_an_unknown_source_is_one_clear_error(tmp_path):
    with pytest.raises(ChorusError, match="CHORUS_SECRETS"):
        secret_sources(settings(tmp_path), env={"CHORUS_SECRETS": "vault"})
