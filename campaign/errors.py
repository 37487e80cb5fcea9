"""Error types shared by every layer, each carrying a message a comms officer can act on."""
from __future__ import annotations


class ChorusError(Exception):
    """An error with one clear line for the user: what went wrong and how to fix it."""

    def __init__(self, problem: str, fix: str | None = None):
        self.problem = problem
        self.fix = fix
        super().__init__(self.line)

    @property
    def line(self) -> str:
        return f"{self.problem} — {self.fix}" if self.fix else self.problem


class ManifestError(ChorusError):
    """A campaign manifest that does not validate; `issues` lists every problem found."""

    def __init__(self, path: str, issues: list[str]):
        self.path = path
        self.issues = issues
        count = len(issues)
        super().__init__(
            f"{path}: {count} problem{'s' if count != 1 else ''} in the campaign manifest",
            "fix the fields listed and run `chorus validate` again",
        )


class MediaError(ChorusError):
    """A video, audio or caption file that cannot be used as it is."""


class StoreError(ChorusError):
    """An asset store operation that failed or was refused (bad key, missing object)."""
