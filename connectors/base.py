"""The connector interface every platform implements, and the error classes every platform's errors map to."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Literal, Protocol

from campaign.manifest import Account
from connectors.redaction import redact


class ErrorKind(str, Enum):
    RETRYABLE = "retryable"          # try the same call again after a backoff
    RATE_LIMITED = "rate_limited"    # try again after the wait the platform asked for
    AUTH_EXPIRED = "auth_expired"    # refresh the token, then try again
    NEEDS_RECONNECT = "needs_reconnect"  # refresh failed: a person must reconnect the account; posts are held
    PERMANENT = "permanent"          # the platform refused this post; retrying will not help
    UNKNOWN_OUTCOME = "unknown_outcome"  # the request may have taken effect; reconcile before sending again


class ConnectorError(Exception):
    """A platform error in words a comms officer understands, with the platform's own reason kept."""

    def __init__(self, kind: ErrorKind, platform: str, message: str, *, reason: str | None = None,
                 retry_after_s: float | None = None, status: int | None = None):
        self.kind = kind
        self.platform = platform
        # A platform can echo a token back in its error body: nothing secret may reach a message.
        self.message = redact(message)
        self.reason = redact(reason) if reason else None
        self.retry_after_s = retry_after_s
        self.status = status
        super().__init__(f"{platform}: {self.message}" + (f" (platform reason: {self.reason})" if self.reason else ""))

    def __reduce__(self):  # picklable (Prefect moves exceptions between processes)
        return (_rebuild_error, (self.kind, self.platform, self.message, self.reason, self.retry_after_s, self.status))


def _rebuild_error(kind, platform, message, reason, retry_after_s, status) -> ConnectorError:
    return ConnectorError(kind, platform, message, reason=reason, retry_after_s=retry_after_s, status=status)


@dataclass(frozen=True)
class PostContent:
    """Everything a connector needs to put one variant on one account."""

    idempotency_key: str
    account: Account
    video_path: Path
    language: str
    title: str
    description: str
    hashtags: tuple[str, ...] = ()
    captions_srt: Path | None = None
    video_url: str | None = None          # a presigned URL when the store is S3 (Instagram can pull from it)
    publish_at: dt.datetime | None = None  # set when the platform schedules natively
    duration_s: float | None = None        # the rendered video's length, when known (per-account limits)

    @property
    def text(self) -> str:
        tags = " ".join(f"#{t}" for t in self.hashtags)
        return "\n\n".join(x for x in (self.description, tags) if x)


@dataclass(frozen=True)
class PublishResult:
    """Where a post stands on the platform.

    published: live; scheduled: accepted with a native publish time (live later without Chorus);
    processing: accepted, the platform is still working on it; call `publish` again with `ref` to go on.
    """

    state: Literal["published", "scheduled", "processing"]
    platform_post_id: str | None
    ref: dict[str, Any] = field(default_factory=dict)
    url: str | None = None
    published_at: dt.datetime | None = None


@dataclass(frozen=True)
class AccountCheck:
    """Whether an account can post now, in words for the comms officer (`chorus accounts`)."""

    account_id: str
    platform: str
    ok: bool
    message: str
    kind: ErrorKind | None = None


@dataclass(frozen=True)
class ScheduleWindow:
    """How far ahead a platform accepts a native publish time (earliest and latest lead from now)."""

    min_lead: dt.timedelta
    max_lead: dt.timedelta

    def accepts(self, when: dt.datetime, now: dt.datetime) -> bool:
        return now + self.min_lead <= when <= now + self.max_lead


@dataclass(frozen=True)
class MetricReading:
    platform_post_id: str
    raw_name: str
    value: float | None
    payload: dict[str, Any] | None = None


SaveRef = Callable[[dict[str, Any]], None]


class Connector(Protocol):
    """One platform account. Optional extras a connector may have (the publishing stage uses getattr):
    `schedule_window: ScheduleWindow` (native scheduling), `daily_post_cap: int | None` (posts per rolling 24 h
    the platform allows through its API), `check() -> AccountCheck`, `reschedule(ref, when) -> PublishResult`."""

    platform: str
    # The vocabulary its metric names come from (the platform, or "sandbox").
    metric_vocabulary: str
    native_scheduling: bool

    def publish(self, content: PostContent, ref: dict[str, Any], save_ref: SaveRef) -> PublishResult:
        """Upload and publish (or schedule natively). `ref` holds handles saved by an earlier attempt, so an
        accepted upload is resumed, never restarted; `save_ref` must be called with every new handle before the
        next side effect."""

    def reconcile(self, content: PostContent, ref: dict[str, Any]) -> PublishResult | None:
        """After an unknown outcome or an interrupted run: the post as the platform has it (published, scheduled,
        or processing when an accepted upload can be resumed with `ref`), or None when it certainly does not
        exist. Raises ConnectorError when the platform cannot tell now (the post stays unknown)."""

    def fetch_metrics(self, posts: list[tuple[str, dt.datetime | None]]) -> list[MetricReading]:
        """Current metrics for (platform_post_id, published_at) pairs; a metric not available yet is left out."""

    def cancel(self, ref: dict[str, Any]) -> None:
        """Withdraw a natively scheduled post."""
