"""Choosing the connector for an account: the sandbox when asked for, otherwise the platform's own module."""
from __future__ import annotations

import importlib

from campaign.errors import ChorusError
from campaign.manifest import Account
from campaign.settings import Settings
from connectors.base import Connector
from connectors.sandbox import SandboxConnector


def connector_for(account: Account, settings: Settings, store, **kwargs) -> Connector:
    if account.sandbox or settings.force_sandbox:
        return SandboxConnector(account, store)
    name = account.platform.value
    try:
        module = importlib.import_module(f"connectors.{name}")
    except ModuleNotFoundError:
        raise ChorusError(
            f"account {account.id!r}: live {account.platform.label} publishing is not available in this version",
            "set `sandbox: true` on the account to try the campaign without posting",
        ) from None
    return module.make_connector(account, settings, store=store, **kwargs)
