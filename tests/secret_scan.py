"""Secret scans for tests: a failure says how many secrets were found and where, never the secrets themselves."""
from __future__ import annotations

from typing import Iterable


def assert_no_secrets(secrets: Iterable[str], haystack: str, where: str = "the output") -> None:
    found = sum(1 for secret in secrets if secret and secret in haystack)
    assert found == 0, f"{found} secret(s) found in {where}"
