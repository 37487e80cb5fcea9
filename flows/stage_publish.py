"""Schedule and publish exactly once: plan one ledger row per variant x account at a local slot, then move each
post through the ledger (planned, uploading, processing, scheduled, published, failed, unknown, held, cancelled).

The rules that make a post go out exactly once:

* the ledger row exists before anything is sent, and every move is a compare-and-set on its state;
* the platform's handles (publish id, session URI, media key...) are saved to the row before the next call;
* a post found mid-way (uploading, processing, unknown) is first reconciled with the platform, which says whether
  it is there, resumable, or certainly absent; only then is anything sent again, and an accepted upload is
  resumed, never restarted;
* a call whose answer was lost is never retried blindly: the post goes to `unknown` and is reconciled;
* one publisher runs at a time (a lock file under CHORUS_HOME that the OS releases if the process dies).

Platforms with native scheduling (YouTube publishAt, Facebook scheduled_publish_time) get a post ahead of time when
its slot lies within their window; every other post is published by Chorus when due (`chorus publish-due`).
"""
from __future__ import annotations

import datetime as dt
import os
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import duckdb

from campaign.errors import ChorusError
from campaign.manifest import Account, Asset, Manifest
from campaign.plan import plan_posts
from campaign.platforms import Platform
from connectors.base import AccountCheck, Connector, ConnectorError, ErrorKind, PostContent, PublishResult
from flows.runtime import Progress, Runtime, default_connectors, manifest_from_warehouse, no_progress
from warehouse.ledger import Ledger, PlannedPost, StaleTransition

# A post that keeps failing for temporary reasons is given up after this many attempts (with growing waits).
MAX_ATTEMPTS = 8
# How many reconcile/publish steps one post may take in one run (a lost answer is reconciled at once).
MAX_STEPS = 4
LOCK_WAIT_S = 60.0
# A run keeps its warehouse connection this long before letting go of it, so other commands (metrics pull, query)
# get a turn while a long run goes on, without paying DuckDB's open-and-checkpoint for every post.
HOLD_WAREHOUSE_S = 2.0

ConnectorFactory = Callable[[Account], Connector]


@dataclass(frozen=True)
class PublishReport:
    published: int
    failed: int
    unknown: int
    details: list[dict]
    scheduled: int = 0
    held: int = 0
    waiting: int = 0
    processing: int = 0


def publishing_holds(con: duckdb.DuckDBPyConnection, manifest: Manifest, asset: Asset) -> list[str]:
    """Why an asset's posts may not be planned yet: a review the manifest asks for that no person has done."""
    from flows.stage_caption import captions_reviewed

    holds = []
    if manifest.review.captions and not captions_reviewed(con, manifest.id, asset.id, asset.language):
        holds.append(f"captions in {asset.language} await review (review.captions is on): import the reviewed file "
                     f"with `chorus captions import`")
    for variant_id, reason in con.execute(
            "SELECT variant_id, hold_reason FROM variants WHERE campaign_id = ? AND asset_id = ? AND status = 'rendered'"
            " AND NOT coalesce(publishable, true) ORDER BY 1", [manifest.id, asset.id]).fetchall():
        holds.append(f"{variant_id}: {reason or 'not publishable yet'}")
    return holds


def schedule_asset_posts(rt: Runtime, manifest: Manifest, asset: Asset, now: dt.datetime,
                         *, post_now: bool = False) -> int:
    """Write the asset's posts to the ledger (before anything is sent); returns how many were new.

    Only rendered, publishable variants get posts; while the captions await a review the manifest asks for, no
    post is planned at all (a later run plans them once the review is in)."""
    with rt.warehouse() as con:
        if manifest.review.captions and any(h.startswith("captions ") for h in publishing_holds(con, manifest, asset)):
            return 0
        rendered = {r[0] for r in con.execute(
            "SELECT variant_id FROM variants WHERE campaign_id = ? AND asset_id = ? AND status = 'rendered'"
            " AND coalesce(publishable, true)",
            [manifest.id, asset.id]).fetchall()}
        taken = dict(con.execute(
            "SELECT account_id, count(*) FROM posts WHERE campaign_id = ? AND asset_id <> ? GROUP BY 1",
            [manifest.id, asset.id]).fetchall())
        specs = plan_posts(manifest, asset, now, taken)
        rows = [
            PlannedPost(s.idempotency_key, manifest.id, asset.id, s.variant.id, s.variant.language, s.variant.format.name,
                        s.account.id, s.account.platform.value, s.account.organisation, s.country,
                        s.account.sandbox or rt.settings.force_sandbox, now if post_now else s.scheduled_at)
            for s in specs if s.variant.id in rendered
        ]
        return Ledger(con).plan(rows)


# --- the run ------------------------------------------------------------------------------------------------------

@contextmanager
def publish_lock(home: Path, wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
    """One publisher at a time. An flock is released by the OS when its process dies, so a crash never leaves
    a stale lock behind."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: rely on the ledger's compare-and-set alone
        yield
        return
    home.mkdir(parents=True, exist_ok=True)
    fd = os.open(home / "publish.lock", os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + wait_s
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ChorusError("another `chorus publish-due` is still running",
                                      "wait for it to finish; posts it has not reached are published next time") from None
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@dataclass
class _Run:
    rt: Runtime
    now: dt.datetime
    factory: ConnectorFactory
    manifests: dict[str, Manifest] = field(default_factory=dict)
    connectors: dict[tuple[str, str], Connector] = field(default_factory=dict)
    details: list[dict] = field(default_factory=list)
    held_accounts: set[tuple[str, str]] = field(default_factory=set)
    _held: ExitStack | None = None
    _con: duckdb.DuckDBPyConnection | None = None
    _since: float = 0.0

    @contextmanager
    def warehouse(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The run's connection, let go every HOLD_WAREHOUSE_S seconds or as soon as another writer waits."""
        path = self.rt.settings.warehouse_path
        if self._held is not None and (time.monotonic() - self._since > HOLD_WAREHOUSE_S or _writer_waiting(path)):
            self.release()
            # Give a waiting writer (a metrics pull) the file before taking it back: it polls every 0.25 s.
            deadline = time.monotonic() + 1.0
            while _writer_waiting(path) and time.monotonic() < deadline:
                time.sleep(0.05)
        if self._held is None:
            self._held = ExitStack()
            self._con = self._held.enter_context(self.rt.warehouse())
            self._since = time.monotonic()
        yield self._con  # type: ignore[misc]

    def release(self) -> None:
        if self._held is not None:
            held, self._held, self._con = self._held, None, None
            held.close()

    def manifest(self, con: duckdb.DuckDBPyConnection, campaign_id: str) -> Manifest:
        if campaign_id not in self.manifests:
            self.manifests[campaign_id] = manifest_from_warehouse(con, campaign_id)
        return self.manifests[campaign_id]

    def connector(self, manifest: Manifest, account_id: str) -> Connector:
        key = (manifest.id, account_id)
        if key not in self.connectors:
            self.connectors[key] = self.factory(manifest.account(account_id))
        return self.connectors[key]


def publish_due(rt: Runtime, now: dt.datetime, *, campaign_id: str | None = None,
                progress: Progress = no_progress, connectors: ConnectorFactory | None = None) -> PublishReport:
    """Publish every post that is due now, hand natively schedulable posts to their platform ahead of time,
    confirm natively scheduled posts whose time has come, and release accounts that were reconnected."""
    with publish_lock(rt.settings.home):
        run = _Run(rt, now, connectors or default_connectors(rt))
        try:
            _publish_run(run, now, campaign_id, progress)
        finally:
            run.release()
    return _report(run.details)


def _writer_waiting(path: Path) -> bool:
    """Whether another process waits to write the warehouse (warehouse/db.py leaves a marker while it waits)."""
    from warehouse import db

    check = getattr(db, "_writer_waiting", None)
    return bool(check and Path(path).exists() and check(Path(path)))


def _publish_run(run: _Run, now: dt.datetime, campaign_id: str | None, progress: Progress) -> None:
    with run.warehouse() as con:
        held = _rows(con, "SELECT DISTINCT campaign_id, account_id, platform FROM posts WHERE state = 'held'"
                     + (" AND campaign_id = ?" if campaign_id else ""), [campaign_id] if campaign_id else [])
    for row in held:
        _try_release(run, row)
    with run.warehouse() as con:
        ledger = Ledger(con)
        due = ledger.due(now, campaign_id)
        confirm = ledger.scheduled_due(now, campaign_id)
        # Candidates for native scheduling: each account's connector says whether its window accepts the slot.
        ahead = []
        for p in ledger.planned_between(now, now + dt.timedelta(days=400), campaign_id):
            try:
                conn = run.connector(run.manifest(con, p["campaign_id"]), p["account_id"])
            except (ChorusError, ConnectorError, StopIteration, ValueError):
                continue
            window = getattr(conn, "schedule_window", None)
            if getattr(conn, "native_scheduling", False) and window is not None and \
                    window.accepts(p["scheduled_at"], now):
                ahead.append(p)
    work = [(p, False) for p in due] + [(p, True) for p in ahead]
    total = len(work) + len(confirm)
    for i, (post, native) in enumerate(work):
        progress(f"publishing {post['account_id']} {post['language']}", i, total)
        _advance(run, post, native=native)
    for j, post in enumerate(confirm):
        progress(f"confirming {post['account_id']} {post['language']}", len(work) + j, total)
        _confirm(run, post)
    _fill_missing_ids(run, campaign_id)
    progress("publishing", total, total)


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def _report(details: list[dict]) -> PublishReport:
    count = lambda s: sum(1 for d in details if d["state"] == s)  # noqa: E731
    return PublishReport(count("published"), count("failed"), count("unknown"), details, scheduled=count("scheduled"),
                         held=count("held"), waiting=count("waiting"), processing=count("processing"))


@contextmanager
def _content(run: _Run, con: duckdb.DuckDBPyConnection, manifest: Manifest, post: dict,
             publish_at: dt.datetime | None) -> Iterator[PostContent]:
    """The post's content with local copies of its video (and caption file when there is one)."""
    account = manifest.account(post["account_id"])
    platform = Platform(post["platform"])
    text = manifest.post_text(post["language"], platform)
    row = con.execute("SELECT key, duration_s FROM variants WHERE variant_id = ?", [post["variant_id"]]).fetchone()
    if row is None or not row[0]:
        raise ChorusError(f"the rendered video {post['variant_id']} is missing", "run `chorus run` again to render it")
    srt = con.execute("SELECT srt_key FROM captions WHERE campaign_id = ? AND asset_id = ? AND language = ?",
                      [post["campaign_id"], post["asset_id"], post["language"]]).fetchone()
    title = text.title
    if not title:
        try:
            title = manifest.asset(post["asset_id"]).title
        except KeyError:
            title = ""
    with ExitStack() as stack:
        video = stack.enter_context(run.rt.store.local_copy(row[0]))
        captions = None
        if srt and srt[0] and run.rt.store.exists(srt[0]):
            captions = Path(stack.enter_context(run.rt.store.local_copy(srt[0])))
        yield PostContent(
            idempotency_key=post["idempotency_key"], account=account, video_path=Path(video),
            language=post["language"], title=title, description=text.description, hashtags=tuple(text.hashtags),
            captions_srt=captions, video_url=run.rt.store.presigned_url(row[0]), publish_at=publish_at,
            duration_s=row[1])


def _advance(run: _Run, post: dict, *, native: bool = False) -> None:
    """Take one post as far as it can go in this run."""
    key = post["idempotency_key"]
    with run.warehouse() as con:
        ledger = Ledger(con)
        current = ledger.get(key)
        if current is None or current["state"] != post["state"]:
            return  # moved since the list was read
        try:
            manifest = run.manifest(con, post["campaign_id"])
            connector = run.connector(manifest, post["account_id"])
        except StopIteration:
            _fail(ledger, run, current, f"account {post['account_id']!r} is no longer in the campaign manifest; "
                  "put it back to publish this post, or cancel the post")
            return
        except (ChorusError, ConnectorError, ValueError) as err:
            _fail(ledger, run, current, getattr(err, "line", None) or str(err))
            return
        account_key = (post["account_id"], post["platform"])
        if account_key in run.held_accounts:
            _hold(ledger, run, current, "the account must be reconnected")
            return
        publish_at = None
        if native:
            window = getattr(connector, "schedule_window", None)
            if not getattr(connector, "native_scheduling", False) or window is None or \
                    not window.accepts(post["scheduled_at"], run.now):
                return
            publish_at = post["scheduled_at"]
        state = current["state"]
        if state == "planned":
            wait = _cap_wait(ledger, connector, current, run.now)
            if wait is not None:
                ledger.transition(key, "planned", expect=["planned"], next_attempt_at=wait,
                                  detail=f"daily post limit of {connector.daily_post_cap} reached for the account")
                run.details.append(_detail(current, "waiting", error=f"daily post limit reached; next try {wait:%Y-%m-%d %H:%M} UTC"))
                return
            try:
                current = ledger.transition(key, "uploading", expect=["planned"], detail="publishing started",
                                            started_at=run.now, attempts=current["attempts"] + 1,
                                            next_attempt_at=None)
            except StaleTransition:
                return
        fresh = state == "planned"
        try:
            with _content(run, con, manifest, current, publish_at) as content:
                _steps(run, ledger, connector, current, content, reconcile_first=not fresh)
        except ChorusError as err:
            _fail(ledger, run, ledger.get(key), err.line)


def _steps(run: _Run, ledger: Ledger, connector: Connector, post: dict, content: PostContent, *,
           reconcile_first: bool) -> None:
    """Reconcile (when the post was found mid-way or an answer was lost) and publish, a few steps at most."""
    key = post["idempotency_key"]
    for _ in range(MAX_STEPS):
        post = ledger.get(key)
        state, ref = post["state"], dict(post.get("platform_ref") or {})
        if reconcile_first:
            reconcile_first = False
            try:
                found = connector.reconcile(content, ref)
            except ConnectorError as err:
                _error(ledger, run, post, err)
                return
            if found is not None and found.state in ("published", "scheduled"):
                _done(ledger, run, post, found)
                return
            ref = dict(found.ref) if found is not None and found.ref else ref
            if state != "uploading":
                post = ledger.transition(key, "uploading", expect=[state], platform_ref=ref,
                                         detail="the platform has it in progress: resuming" if found else
                                         "the platform does not have it: sending")
            elif found is not None:
                ledger.save_ref(key, ref, expect=["uploading"])

        def save_ref(new: dict[str, Any], _key: str = key) -> None:
            ledger.save_ref(_key, new, expect=["uploading", "processing"])

        try:
            if post["state"] == "processing":
                post = ledger.transition(key, "uploading", expect=["processing"], detail="checking processing")
            result = connector.publish(content, ref, save_ref)
        except ConnectorError as err:
            if err.kind == ErrorKind.UNKNOWN_OUTCOME:
                post = ledger.get(key)
                ledger.transition(key, "unknown", expect=[post["state"]], error_kind=err.kind.value,
                                  last_error=str(err), detail="answer lost: reconciling before anything is sent again")
                reconcile_first = True
                continue
            _error(ledger, run, ledger.get(key), err)
            return
        if result.state in ("published", "scheduled"):
            _done(ledger, run, ledger.get(key), result)
        else:
            wait = run.now + dt.timedelta(seconds=max(run.rt.settings.poll_interval_s, 1.0) * 6)
            post = ledger.get(key)
            ledger.transition(key, "processing", expect=[post["state"]], platform_ref=result.ref,
                              platform_post_id=result.platform_post_id, next_attempt_at=wait,
                              detail="the platform is still processing the video")
            run.details.append(_detail(post, "processing", error="the platform is still processing the video; "
                                       "the next run goes on"))
        return
    post = ledger.get(key)
    run.details.append(_detail(post, post["state"], error=post.get("last_error")))


def _done(ledger: Ledger, run: _Run, post: dict, result: PublishResult) -> None:
    when = result.published_at or (post["scheduled_at"] if result.state == "scheduled" else run.now)
    updated = ledger.transition(
        post["idempotency_key"], result.state, expect=[post["state"]], platform_post_id=result.platform_post_id,
        platform_ref=result.ref, post_url=result.url, published_at=when, error_kind=None, last_error=None,
        next_attempt_at=None,
        detail=f"{result.state} as {result.platform_post_id}" if result.platform_post_id else result.state)
    run.details.append(_detail(updated, result.state, url=result.url))


def _error(ledger: Ledger, run: _Run, post: dict, err: ConnectorError) -> None:
    """Where a post goes after an error the connector could not handle itself."""
    key, state = post["idempotency_key"], post["state"]
    if err.kind in (ErrorKind.NEEDS_RECONNECT, ErrorKind.AUTH_EXPIRED):
        run.held_accounts.add((post["account_id"], post["platform"]))
        ledger.set_account_status(post["account_id"], post["platform"], "needs_reconnect", str(err))
        _hold(ledger, run, post, str(err))
        # Every other unfinished post of the account waits too, rather than failing one by one.
        ledger.hold_account(post["account_id"], post["platform"], str(err))
        return
    if err.kind == ErrorKind.PERMANENT:
        _fail(ledger, run, post, str(err), kind=err.kind.value)
        return
    attempts = int(post.get("attempts") or 0)
    if err.kind == ErrorKind.RETRYABLE and attempts >= MAX_ATTEMPTS:
        _fail(ledger, run, post, f"gave up after {attempts} attempts: {err}", kind=err.kind.value)
        return
    if err.kind == ErrorKind.RATE_LIMITED:
        wait = err.retry_after_s or 60.0
    else:
        base = max(run.rt.settings.http_backoff_s, 0.001) * 30
        wait = min(base * 2 ** max(attempts - 1, 0), 3600.0)
    next_at = run.now + dt.timedelta(seconds=wait)
    # A post stays where it is (its handles kept): the next run reconciles and goes on from there.
    ledger.transition(key, state, expect=[state], error_kind=err.kind.value, last_error=str(err),
                      next_attempt_at=next_at, attempts=attempts + (1 if state != "planned" else 0),
                      detail=f"will try again after {next_at:%Y-%m-%d %H:%M:%S} UTC")
    run.details.append(_detail(post, "waiting", error=str(err)))


def _fail(ledger: Ledger, run: _Run, post: dict, message: str, kind: str = "permanent") -> None:
    try:
        ledger.transition(post["idempotency_key"], "failed", expect=[post["state"]], error_kind=kind,
                          last_error=message, detail=message)
    except StaleTransition:
        return
    run.details.append(_detail(post, "failed", error=message))


def _hold(ledger: Ledger, run: _Run, post: dict, reason: str) -> None:
    try:
        ledger.transition(post["idempotency_key"], "held", expect=[post["state"]], error_kind="needs_reconnect",
                          last_error=reason, detail=reason)
    except StaleTransition:
        return
    run.details.append(_detail(post, "held", error=reason))


def _detail(post: dict, state: str, *, url: str | None = None, error: str | None = None) -> dict:
    out = {"post": post["idempotency_key"], "account": post["account_id"], "platform": post["platform"],
           "language": post["language"], "state": state}
    if url:
        out["url"] = url
    if error:
        out["error"] = error
    return out


def _cap_wait(ledger: Ledger, connector: Connector, post: dict, now: dt.datetime) -> dt.datetime | None:
    """When the account's rolling 24-hour post cap is reached, the time a slot frees up; else None."""
    cap = getattr(connector, "daily_post_cap", None)
    if not cap:
        return None
    since = now - dt.timedelta(hours=24)
    if ledger.started_since(post["account_id"], post["platform"], since) < cap:
        return None
    oldest = ledger.oldest_started_since(post["account_id"], post["platform"], since)
    return (oldest or now) + dt.timedelta(hours=24, seconds=1)


def _confirm(run: _Run, post: dict) -> None:
    """A natively scheduled post whose time has come: ask the platform whether it is live."""
    with run.warehouse() as con:
        ledger = Ledger(con)
        manifest = run.manifest(con, post["campaign_id"])
        connector = run.connector(manifest, post["account_id"])
        try:
            with _content(run, con, manifest, post, None) as content:
                found = connector.reconcile(content, dict(post.get("platform_ref") or {}))
        except (ConnectorError, ChorusError) as err:
            run.details.append(_detail(post, "scheduled", error=str(err)))
            return
        if found is not None and found.state == "published":
            _done(ledger, run, post, PublishResult("published", found.platform_post_id or post["platform_post_id"],
                                                   found.ref, found.url or post["post_url"],
                                                   published_at=post["scheduled_at"]))


def _fill_missing_ids(run: _Run, campaign_id: str | None) -> None:
    """Published posts whose platform gave no post id yet (TikTok names a post only after moderation): ask again
    for a week, so their metrics can be pulled."""
    with run.warehouse() as con:
        ledger = Ledger(con)
        rows = ledger.query(
            "SELECT * FROM posts WHERE state = 'published' AND platform_post_id IS NULL AND NOT sandbox "
            "AND published_at > ?" + (" AND campaign_id = ?" if campaign_id else "") + " LIMIT 50",
            [run.now - dt.timedelta(days=7)] + ([campaign_id] if campaign_id else []))
        for post in rows:
            try:
                manifest = run.manifest(con, post["campaign_id"])
                connector = run.connector(manifest, post["account_id"])
                with _content(run, con, manifest, post, None) as content:
                    found = connector.reconcile(content, dict(post.get("platform_ref") or {}))
            except (ConnectorError, ChorusError, StopIteration):
                continue
            if found is not None and found.platform_post_id:
                ledger.transition(post["idempotency_key"], "published", expect=["published"],
                                  platform_post_id=found.platform_post_id, post_url=found.url or post["post_url"],
                                  detail=f"the platform named the post {found.platform_post_id}")


def _try_release(run: _Run, row: dict) -> None:
    """An account with held posts whose connection works again (someone reconnected it): release its posts."""
    with run.warehouse() as con:
        ledger = Ledger(con)
        try:
            manifest = run.manifest(con, row["campaign_id"])
            connector = run.connector(manifest, row["account_id"])
        except (ChorusError, ConnectorError, StopIteration):
            return
        check = getattr(connector, "check", None)
        result = check() if check else AccountCheck(row["account_id"], row["platform"], True, "connected")
        if result.ok:
            ledger.set_account_status(row["account_id"], row["platform"], "ok", result.message)
            ledger.release_account(row["account_id"], row["platform"])
        else:
            run.held_accounts.add((row["account_id"], row["platform"]))
            ledger.set_account_status(row["account_id"], row["platform"], "needs_reconnect", result.message)


# --- people's actions ---------------------------------------------------------------------------------------------

def reschedule(rt: Runtime, key: str, when: dt.datetime, *, connectors: ConnectorFactory | None = None) -> dict:
    """Move a post to another time. A planned or held post just gets the new slot; a natively scheduled post is
    moved on the platform (or withdrawn there and planned again when the platform cannot move it)."""
    if when.tzinfo is None:
        raise ChorusError(f"the new time {when} has no time zone", "give it with a UTC offset, e.g. 2027-03-01T18:00+01:00")
    when = when.astimezone(dt.timezone.utc)
    with publish_lock(rt.settings.home), rt.warehouse() as con:
        ledger = Ledger(con)
        post = _post_or_error(ledger, key)
        state = post["state"]
        if state in ("planned", "held", "failed"):
            to = "planned" if state == "failed" else state
            return ledger.transition(key, to, expect=[state], scheduled_at=when, next_attempt_at=None,
                                     detail=f"rescheduled to {when.isoformat()}")
        if state == "scheduled":
            manifest = manifest_from_warehouse(con, post["campaign_id"])
            connector = (connectors or default_connectors(rt))(manifest.account(post["account_id"]))
            ref = dict(post.get("platform_ref") or {})
            move = getattr(connector, "reschedule", None)
            if move is not None:
                result = move(ref, when)
                return ledger.transition(key, "scheduled", expect=["scheduled"], scheduled_at=when,
                                         published_at=result.published_at or when, platform_ref=result.ref,
                                         detail=f"rescheduled on the platform to {when.isoformat()}")
            connector.cancel(ref)
            return ledger.transition(key, "planned", expect=["scheduled"], scheduled_at=when, platform_post_id=None,
                                     platform_ref={}, post_url=None, published_at=None,
                                     detail=f"withdrawn from the platform's schedule; planned again for {when.isoformat()}")
        raise _cannot(post, "rescheduled")


def cancel(rt: Runtime, key: str, *, connectors: ConnectorFactory | None = None) -> dict:
    """Cancel a post that has not gone out: planned or held posts are cancelled; a natively scheduled post is
    withdrawn from the platform's schedule first."""
    with publish_lock(rt.settings.home), rt.warehouse() as con:
        ledger = Ledger(con)
        post = _post_or_error(ledger, key)
        state = post["state"]
        if state in ("planned", "held", "failed"):
            return ledger.transition(key, "cancelled", expect=[state], detail="cancelled by a person")
        if state == "scheduled":
            manifest = manifest_from_warehouse(con, post["campaign_id"])
            connector = (connectors or default_connectors(rt))(manifest.account(post["account_id"]))
            connector.cancel(dict(post.get("platform_ref") or {}))
            return ledger.transition(key, "cancelled", expect=["scheduled"],
                                     detail="withdrawn from the platform's schedule by a person")
        raise _cannot(post, "cancelled")


def _post_or_error(ledger: Ledger, key: str) -> dict:
    post = ledger.get(key)
    if post is None:
        raise ChorusError(f"no post with key {key!r}", "list posts with `chorus query \"SELECT idempotency_key, "
                          "account_id, language, state, scheduled_at FROM posts\"`")
    return post


def _cannot(post: dict, verb: str) -> ChorusError:
    state = post["state"]
    if state == "published":
        return ChorusError(f"post {post['idempotency_key']} is already published and cannot be {verb}",
                           f"remove it on {post['platform']} itself if it must go")
    if state == "cancelled":
        return ChorusError(f"post {post['idempotency_key']} was cancelled", "plan the asset again to post it")
    return ChorusError(f"post {post['idempotency_key']} is being published right now ({state})",
                       "run `chorus publish-due` so Chorus finishes or reconciles it, then try again")


def check_accounts(rt: Runtime, *, campaign_id: str | None = None, probe: bool = True,
                   connectors: ConnectorFactory | None = None) -> list[dict]:
    """Each account's connection for `chorus accounts`: whether it can post (asking the platform when `probe`),
    and how many of its posts are held."""
    with rt.warehouse() as con:
        ledger = Ledger(con)
        accounts = _rows(con, "SELECT campaign_id, account_id, platform, sandbox FROM accounts"
                         + (" WHERE campaign_id = ?" if campaign_id else "") + " ORDER BY campaign_id, account_id",
                         [campaign_id] if campaign_id else [])
        held = dict(((r[0], r[1]), r[2]) for r in con.execute(
            "SELECT account_id, platform, count(*) FROM posts WHERE state = 'held' GROUP BY 1, 2").fetchall())
        known = {(r["account_id"], r["platform"]): r for r in ledger.account_status()}
        factory = connectors or default_connectors(rt)
        out = []
        for acc in accounts:
            k = (acc["account_id"], acc["platform"])
            row = {"campaign": acc["campaign_id"], "account": acc["account_id"], "platform": acc["platform"],
                   "sandbox": acc["sandbox"] or rt.settings.force_sandbox, "held_posts": held.get(k, 0)}
            if row["sandbox"]:
                row.update(status="ok", message="sandbox account (nothing is posted)")
            elif probe:
                try:
                    manifest = manifest_from_warehouse(con, acc["campaign_id"])
                    connector = factory(manifest.account(acc["account_id"]))
                    check = getattr(connector, "check", None)
                    result = check() if check else AccountCheck(acc["account_id"], acc["platform"], True, "connected")
                except (ConnectorError, ChorusError) as err:
                    result = AccountCheck(acc["account_id"], acc["platform"], False, str(err),
                                          getattr(err, "kind", None))
                status = "ok" if result.ok else ("needs_reconnect" if result.kind in
                                                 (ErrorKind.NEEDS_RECONNECT, ErrorKind.AUTH_EXPIRED) else "error")
                ledger.set_account_status(acc["account_id"], acc["platform"], status, result.message)
                row.update(status=status, message=result.message)
            else:
                last = known.get(k)
                row.update(status=last["status"] if last else "unchecked", message=last["message"] if last else "")
            out.append(row)
        return out
