"""A minimal stand-in for the publishing stage's loop, for connector-level fault tests: publish; on an unknown outcome
reconcile before anything is sent again; on a retryable or rate-limited error wait (fake clock) and go on with the
handles saved so far. It keeps only what the stage keeps between attempts: the last saved ref."""
from __future__ import annotations

from typing import Any

from connectors.base import ConnectorError, ErrorKind, PostContent, PublishResult
from connectors.common import FakeClock


def publish_until_settled(conn: Any, post: PostContent, clock: FakeClock, *, rounds: int = 40
                          ) -> tuple[PublishResult, list[ErrorKind]]:
    saved: list[dict[str, Any]] = []
    ref: dict[str, Any] = {}
    seen: list[ErrorKind] = []
    for _ in range(rounds):
        try:
            result = conn.publish(post, ref, lambda r: saved.append(dict(r)))
        except ConnectorError as err:
            seen.append(err.kind)
            ref = saved[-1] if saved else ref
            if err.kind is ErrorKind.UNKNOWN_OUTCOME:
                try:
                    found = conn.reconcile(post, ref)
                except ConnectorError:
                    continue  # the platform cannot tell now: the post stays unknown, nothing is sent
                if found is not None and found.state in ("published", "scheduled"):
                    return found, seen
                if found is not None:
                    ref = found.ref
            elif err.kind in (ErrorKind.RETRYABLE, ErrorKind.RATE_LIMITED):
                clock.sleep(min(err.retry_after_s or 1.0, 3600.0))
            else:
                raise
            continue
        if result.state != "processing":
            return result, seen
        ref = result.ref
    raise AssertionError(f"{post.idempotency_key} did not settle in {rounds} rounds: {seen}")
