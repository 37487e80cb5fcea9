"""The publishing ledger: one row per variant x account, keyed by an idempotency key, written before any side effect.

Every state change is a compare-and-set on the current state inside a transaction, and is appended to
post_events, so two workers cannot both move a post forward and the history of each post can be audited.

States: planned -> uploading -> processing -> published | scheduled (natively, live later) | failed;
unknown (a request whose answer was lost: reconciled with the platform before anything is sent again);
held (the account must be reconnected; nothing is sent until it is); cancelled.
`platform_ref` holds the handles a platform gave (publish id, session URI, container id) and is saved
with `save_ref` before the next side effect, so an accepted upload is resumed, never restarted.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Iterable

import duckdb

from warehouse.records import fetch_dicts

STATES = ("planned", "uploading", "processing", "scheduled", "published", "failed", "unknown", "held", "cancelled")
# States from which nothing more will happen without a person.
TERMINAL = {"published", "failed", "cancelled"}
# Posts that are on the platform and have metrics to pull.
LIVE = {"published", "scheduled"}
# Posts Chorus was acting on when it stopped: they are reconciled with the platform before anything else.
IN_FLIGHT = ("uploading", "processing", "unknown")
# Posts an account hold stops (and a reconnect releases).
HOLDABLE = ("planned", "uploading", "processing", "unknown")


class StaleTransition(Exception):
    """The post was not in the expected state: another worker moved it, so this one must not act."""


@dataclass(frozen=True)
class PlannedPost:
    idempotency_key: str
    campaign_id: str
    asset_id: str
    variant_id: str
    language: str
    format: str
    account_id: str
    platform: str
    organisation_id: str
    country: str
    sandbox: bool
    scheduled_at: dt.datetime


class Ledger:
    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def plan(self, posts: Iterable[PlannedPost]) -> int:
        """Insert posts not yet in the ledger; an existing key is left exactly as it is. Returns how many were new."""
        new = 0
        for p in posts:
            cur = self.con.execute(
                """INSERT INTO posts (idempotency_key, campaign_id, asset_id, variant_id, language, format, account_id,
                       platform, organisation_id, country, sandbox, scheduled_at, state)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'planned')
                   ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key""",
                [p.idempotency_key, p.campaign_id, p.asset_id, p.variant_id, p.language, p.format, p.account_id,
                 p.platform, p.organisation_id, p.country, p.sandbox, p.scheduled_at],
            )
            if cur.fetchall():
                new += 1
                self._event(p.idempotency_key, None, "planned", f"scheduled for {p.scheduled_at.isoformat()}")
        return new

    def get(self, key: str) -> dict[str, Any] | None:
        rows = fetch_dicts(self.con, "SELECT * FROM posts WHERE idempotency_key = ?", [key])
        if not rows:
            return None
        row = rows[0]
        if isinstance(row.get("platform_ref"), str):
            row["platform_ref"] = json.loads(row["platform_ref"])
        return row

    def transition(self, key: str, to_state: str, *, expect: Iterable[str], detail: str | None = None,
                   **fields: Any) -> dict[str, Any]:
        """Move a post to `to_state` only if it is in one of `expect`; other columns in `fields` are set too."""
        if to_state not in STATES:
            raise ValueError(f"unknown post state {to_state!r}")
        expect = list(expect)
        allowed = {"platform_post_id", "platform_ref", "post_url", "error_kind", "last_error", "published_at",
                   "scheduled_at", "attempts", "next_attempt_at", "started_at"}
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"cannot set {sorted(bad)} on a post")
        sets = ["state = ?", "updated_at = now()"]
        params: list[Any] = [to_state]
        for name, value in fields.items():
            if name == "platform_ref" and value is not None and not isinstance(value, str):
                value = json.dumps(value)
            sets.append(f"{name} = ?")
            params.append(value)
        self.con.execute("BEGIN TRANSACTION")
        try:
            current = self.con.execute("SELECT state FROM posts WHERE idempotency_key = ?", [key]).fetchone()
            if current is None:
                raise KeyError(key)
            if current[0] not in expect:
                raise StaleTransition(f"post {key} is {current[0]}, expected one of {expect}")
            self.con.execute(f"UPDATE posts SET {', '.join(sets)} WHERE idempotency_key = ?", params + [key])
            self._event(key, current[0], to_state, detail)
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        return self.get(key)  # type: ignore[return-value]

    def bump_attempts(self, key: str) -> None:
        self.con.execute("UPDATE posts SET attempts = attempts + 1, updated_at = now() WHERE idempotency_key = ?", [key])

    def save_ref(self, key: str, ref: dict[str, Any], *, expect: Iterable[str] = IN_FLIGHT) -> None:
        """Persist the platform handles of a post that is being worked on (no state change, no event)."""
        expect = list(expect)
        marks = ", ".join("?" for _ in expect)
        rows = self.con.execute(
            f"UPDATE posts SET platform_ref = ?, updated_at = now() WHERE idempotency_key = ? AND state IN ({marks}) "
            "RETURNING idempotency_key", [json.dumps(ref), key, *expect]).fetchall()
        if not rows:
            raise StaleTransition(f"post {key} is no longer in {expect}; its handles were not saved")

    def due(self, now: dt.datetime, campaign_id: str | None = None) -> list[dict[str, Any]]:
        """Posts that Chorus must act on now: planned and due, or interrupted mid-way (uploading, processing,
        unknown), each unless it was told to wait (`next_attempt_at`, after a rate limit or a temporary fault)."""
        sql = """SELECT * FROM posts WHERE (
                     (state = 'planned' AND scheduled_at <= ?)
                     OR state IN ('uploading', 'processing', 'unknown'))
                   AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"""
        params: list[Any] = [now, now]
        if campaign_id:
            sql += " AND campaign_id = ?"
            params.append(campaign_id)
        return self._rows(sql + " ORDER BY scheduled_at, idempotency_key", params)

    def planned_between(self, start: dt.datetime, end: dt.datetime, campaign_id: str | None = None,
                        platforms: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Planned posts whose slot lies in (start, end]: what native scheduling can hand to a platform now."""
        sql = """SELECT * FROM posts WHERE state = 'planned' AND scheduled_at > ? AND scheduled_at <= ?
                   AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"""
        params: list[Any] = [start, end, start]
        if campaign_id:
            sql += " AND campaign_id = ?"
            params.append(campaign_id)
        if platforms is not None:
            names = list(platforms)
            if not names:
                return []
            sql += f" AND platform IN ({', '.join('?' for _ in names)})"
            params.extend(names)
        return self._rows(sql + " ORDER BY scheduled_at, idempotency_key", params)

    def planned_natively_schedulable(self, campaign_id: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM posts WHERE state = 'planned'"
        params: list[Any] = []
        if campaign_id:
            sql += " AND campaign_id = ?"
            params.append(campaign_id)
        return self._rows(sql + " ORDER BY scheduled_at", params)

    def scheduled_due(self, now: dt.datetime, campaign_id: str | None = None) -> list[dict[str, Any]]:
        """Natively scheduled posts whose time has come: to be confirmed as published with the platform."""
        sql = "SELECT * FROM posts WHERE state = 'scheduled' AND scheduled_at <= ?"
        params: list[Any] = [now]
        if campaign_id:
            sql += " AND campaign_id = ?"
            params.append(campaign_id)
        return self._rows(sql + " ORDER BY scheduled_at, idempotency_key", params)

    def started_since(self, account_id: str, platform: str, since: dt.datetime) -> int:
        """Posts of an account Chorus started sending since `since` (what a rolling daily cap counts)."""
        return int(self.con.execute(
            "SELECT count(*) FROM posts WHERE account_id = ? AND platform = ? AND started_at > ? AND state <> 'cancelled'",
            [account_id, platform, since]).fetchone()[0])

    def oldest_started_since(self, account_id: str, platform: str, since: dt.datetime) -> dt.datetime | None:
        row = self.con.execute(
            "SELECT min(started_at) FROM posts WHERE account_id = ? AND platform = ? AND started_at > ? "
            "AND state <> 'cancelled'", [account_id, platform, since]).fetchone()
        return row[0] if row else None

    def hold_account(self, account_id: str, platform: str, reason: str) -> int:
        """Hold every post of the account that is not finished: nothing is sent until it is reconnected."""
        held = 0
        for row in self._rows("SELECT idempotency_key, state FROM posts WHERE account_id = ? AND platform = ? AND "
                              f"state IN ({', '.join('?' for _ in HOLDABLE)})", [account_id, platform, *HOLDABLE]):
            try:
                self.transition(row["idempotency_key"], "held", expect=[row["state"]], detail=reason,
                                error_kind="needs_reconnect", last_error=reason)
                held += 1
            except StaleTransition:
                continue
        return held

    def release_account(self, account_id: str, platform: str) -> int:
        """After a reconnect: held posts go back to planned, or to unknown when they had started (so the
        platform is asked what became of them before anything is sent)."""
        released = 0
        for row in self._rows("SELECT idempotency_key, platform_ref, started_at FROM posts WHERE account_id = ? "
                              "AND platform = ? AND state = 'held'", [account_id, platform]):
            to = "unknown" if (row.get("platform_ref") or row.get("started_at")) else "planned"
            try:
                self.transition(row["idempotency_key"], to, expect=["held"], detail="account reconnected",
                                error_kind=None, last_error=None, next_attempt_at=None)
                released += 1
            except StaleTransition:
                continue
        return released

    def set_account_status(self, account_id: str, platform: str, status: str, message: str | None) -> None:
        self.con.execute(
            "INSERT OR REPLACE INTO account_status (account_id, platform, status, message, checked_at) "
            "VALUES (?, ?, ?, ?, now())", [account_id, platform, status, message])

    def account_status(self, account_id: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM account_status"
        params: list[Any] = []
        if account_id:
            sql += " WHERE account_id = ?"
            params.append(account_id)
        return fetch_dicts(self.con, sql + " ORDER BY account_id, platform", params)

    def counts(self, campaign_id: str | None = None) -> dict[str, int]:
        sql = "SELECT state, count(*) FROM posts"
        params: list[Any] = []
        if campaign_id:
            sql += " WHERE campaign_id = ?"
            params.append(campaign_id)
        return dict(self.con.execute(sql + " GROUP BY state", params).fetchall())

    def query(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        """Rows of a SELECT on the ledger, with platform_ref decoded."""
        return self._rows(sql, params)

    def _rows(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        rows = fetch_dicts(self.con, sql, params)
        for row in rows:
            if isinstance(row.get("platform_ref"), str):
                row["platform_ref"] = json.loads(row["platform_ref"])
        return rows

    def live(self, campaign_id: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM posts WHERE state IN ('published', 'scheduled') AND platform_post_id IS NOT NULL"
        params: list[Any] = []
        if campaign_id:
            sql += " AND campaign_id = ?"
            params.append(campaign_id)
        return fetch_dicts(self.con, sql + " ORDER BY published_at", params)

    def history(self, key: str) -> list[dict[str, Any]]:
        return fetch_dicts(self.con, "SELECT * FROM post_events WHERE idempotency_key = ? ORDER BY occurred_at", [key])

    def _event(self, key: str, from_state: str | None, to_state: str, detail: str | None) -> None:
        self.con.execute(
            "INSERT INTO post_events (idempotency_key, occurred_at, from_state, to_state, detail) VALUES (?, now(), ?, ?, ?)",
            [key, from_state, to_state, detail],
        )
