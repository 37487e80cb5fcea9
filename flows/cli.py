"""The `chorus` command: the contract users and tests rely on (see DESIGN.md). One clear line on failure, progress for long work."""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from campaign.errors import ChorusError, ManifestError

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "first-vote" / "campaign.yaml"


def _prepare_prefect(verbose: bool) -> None:
    """Embedded defaults for Prefect, set before it is imported: state under CHORUS_HOME, no telemetry, quiet logs."""
    home = Path(os.environ.get("CHORUS_HOME", ".chorus")).expanduser().resolve()
    os.environ.setdefault("PREFECT_HOME", str(home / "prefect"))
    Path(os.environ["PREFECT_HOME"]).expanduser().mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    os.environ.setdefault("PREFECT_LOGGING_LOG_PRINTS", "false")
    # Prefect's temporary API takes ~10 s to start on an idle 2-core machine and several times that under load;
    # its own default gives up too early there.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")


@contextmanager
def _progress(enabled: bool) -> Iterator[None]:
    """A progress bar for long stages, fed by the stages' progress hook."""
    from flows import prefect_flows

    if not enabled:
        yield
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=False) as bar:
        tasks: dict[str, int] = {}

        def hook(label: str, done: int, total: int) -> None:
            group = label.split(" ")[0]
            if group not in tasks:
                tasks[group] = bar.add_task(label, total=total)
            bar.update(tasks[group], completed=done, total=total, description=label)

        prefect_flows.PROGRESS["hook"] = hook
        try:
            yield
        finally:
            prefect_flows.PROGRESS["hook"] = lambda *a: None


def cmd_validate(args: argparse.Namespace) -> int:
    from campaign.manifest import load_manifest
    from campaign.plan import variants_for

    m = load_manifest(args.manifest)
    variants = sum(len(variants_for(m, a)) for a in m.assets)
    print(f"{args.manifest}: valid — campaign {m.id!r}, {len(m.assets)} asset(s), {len(m.languages)} language(s), "
          f"{len(m.countries)} countr{'y' if len(m.countries) == 1 else 'ies'}, {len(m.accounts)} account(s), "
          f"{variants} variant(s) to render")
    from media.fonts import check_languages

    check_languages(m.languages)  # a language no caption font covers fails here, before anything is rendered
    missing = [str(m.asset_path(a)) for a in m.assets if not m.asset_path(a).is_file()]
    for path in missing:
        print(f"warning: video file not found yet: {path}", file=sys.stderr)
    return 0


def _run_campaign(manifest_path: Path, post_now: bool, quiet: bool) -> list[dict]:
    from flows import prefect_flows

    with _progress(not quiet):
        return prefect_flows.campaign_flow(str(manifest_path), post_now=post_now)


def _print_outcomes(outcomes: list[dict]) -> int:
    failed = 0
    for o in outcomes:
        if o.get("status") == "failed":
            failed += 1
            print(f"✗ {o['asset']}: failed — {o['error']}")
        else:
            print(f"✓ {o['asset']}: {len(o.get('rendered', []))} variant(s) rendered, {o.get('posts_planned', 0)} post(s) planned")
            for f in o.get("failed", []):
                print(f"  ✗ variant {f['variant']}: {f['error']}")
            if (o.get("approval") or {}).get("decision") == "awaiting":
                print(f"  … awaiting approval before any post is planned: {o['approval']['how']}")
            for hold in o.get("holds", []):
                print(f"  … held: {hold}")
    return failed


def cmd_run(args: argparse.Namespace) -> int:
    from campaign.manifest import load_manifest

    load_manifest(args.manifest)  # fail fast, before Prefect starts, on an invalid manifest
    _prepare_prefect(args.verbose)
    outcomes = _run_campaign(Path(args.manifest), args.post_now, args.quiet)
    failed = _print_outcomes(outcomes)
    if failed:
        print(f"{failed} of {len(outcomes)} asset(s) failed; fix them and run `chorus run` again "
              "(finished assets are not redone, posts are never planned twice)", file=sys.stderr)
        return 1
    return 0


def cmd_publish_due(args: argparse.Namespace) -> int:
    _prepare_prefect(args.verbose)
    from flows import prefect_flows

    with _progress(not args.quiet):
        result = prefect_flows.publish_due_flow(args.campaign)
    print(f"published {result['published']}, scheduled on the platform {result['scheduled']}, "
          f"waiting for a cap or processing {result['waiting'] + result['processing']}, held {result['held']}, "
          f"failed {result['failed']}, outcome unknown {result['unknown']}")
    for d in result["details"]:
        if d["state"] in {"failed", "unknown", "held"}:
            print(f"  ✗ {d['account']} ({d['state']}): {d.get('error')}")
    if result["held"]:
        print("held posts wait for their account to be reconnected: see `chorus accounts`", file=sys.stderr)
    return 0 if result["failed"] == 0 and result["unknown"] == 0 and result["held"] == 0 else 1


def cmd_caption(args: argparse.Namespace) -> int:
    from campaign.settings import Settings
    from flows.stage_caption import caption_file

    out_dir = Path(args.out) if args.out else Path(args.video).resolve().parent
    result = caption_file(Path(args.video), args.lang, out_dir, Settings.from_env(), format=args.format)
    detected = ""
    if result.get("detected_language"):
        detected = f" (detected {result['detected_language']}, p={result['language_probability']:.2f})"
    print(f"{result['cue_count']} cue(s) in {result['language']}{detected} from {result['provider']}")
    for key in ("srt", "vtt", "json"):
        if result.get(key):
            print(f"  {key}: {result[key]}")
    for warning in result.get("warnings", []):
        print(f"  ! {warning}")
    return 0


def cmd_captions_import(args: argparse.Namespace) -> int:
    from campaign.manifest import load_manifest
    from flows.runtime import make_runtime
    from flows.stage_caption import import_reviewed_captions

    manifest = load_manifest(args.manifest)
    result = import_reviewed_captions(make_runtime(), manifest, args.asset, args.lang, Path(args.file),
                                      reviewed_by=args.by)
    print(f"reviewed captions for {manifest.id}/{args.asset} in {result.language}: {result.cue_count} cue(s), "
          "they replace the automatic ones; run `chorus run` again to render and plan with them")
    for warning in result.warnings:
        print(f"  ! {warning}")
    return 0


def cmd_translations_approve(args: argparse.Namespace) -> int:
    from campaign import languages
    from flows.runtime import make_runtime
    from flows.stage_variants import approve_translation

    try:
        lang = languages.normalise(args.lang)
    except ValueError as err:
        raise ChorusError(str(err), "give the language as a BCP-47 tag, e.g. de, es, ar") from None
    approve_translation(make_runtime(), args.campaign, args.asset, lang, args.by,
                        Path(args.corrected) if args.corrected else None)
    if args.corrected:
        print(f"corrected {lang} translation of {args.campaign}/{args.asset} approved by {args.by}; "
              "run `chorus run` again to render it and plan its posts")
    else:
        print(f"{lang} translation of {args.campaign}/{args.asset} approved by {args.by}; its variants are publishable; "
              "run `chorus run` again to plan their posts")
    return 0


def cmd_accounts(args: argparse.Namespace) -> int:
    from flows.runtime import make_runtime
    from flows.stage_publish import check_accounts

    rows = check_accounts(make_runtime(), campaign_id=args.campaign, probe=not args.no_probe)
    bad = 0
    for r in rows:
        mark = "✓" if r["status"] == "ok" else "✗"
        bad += r["status"] != "ok"
        held = f", {r['held_posts']} post(s) held" if r["held_posts"] else ""
        print(f"{mark} {r['campaign']}/{r['account']} ({r['platform']}): {r['status']} — {r.get('message', '')}{held}")
    if not rows:
        print("no accounts yet: run `chorus run CAMPAIGN.yaml` first")
    return 1 if bad else 0


def _parse_when(text: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ChorusError(f"{text!r} is not a date and time", "write it as ISO 8601 with an offset, e.g. 2027-03-01T18:00+01:00") from None
    if when.tzinfo is None:
        raise ChorusError(f"{text!r} has no time zone", "add the UTC offset, e.g. 2027-03-01T18:00+01:00")
    return when


def cmd_reschedule(args: argparse.Namespace) -> int:
    from flows.runtime import make_runtime
    from flows.stage_publish import reschedule

    post = reschedule(make_runtime(), args.post, _parse_when(args.when))
    print(f"post {args.post} is {post['state']}, now at {post['scheduled_at']}")
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    from flows.runtime import make_runtime
    from flows.stage_publish import cancel

    post = cancel(make_runtime(), args.post)
    print(f"post {args.post} is {post['state']}")
    return 0


def cmd_metrics_pull(args: argparse.Namespace) -> int:
    _prepare_prefect(args.verbose)
    from flows import prefect_flows

    result = prefect_flows.metrics_pull_flow(args.campaign, args.force)
    print(f"pulled {result['snapshots']} new metric value(s) for {result['posts_answered']} of {result['posts']} "
          f"post(s) due; {result['posts_empty']} had no figures yet (asked again on schedule)")
    for e in result["errors"]:
        print(f"  ✗ {e}", file=sys.stderr)
    return 0 if not result["errors"] else 1


def _render_report(campaign_id: str, formats: str, html: str | None = None) -> str:
    from campaign.settings import Settings
    from flows.stage_report import render_report

    return render_report(Settings.from_env().warehouse_path, campaign_id, formats=formats, html=html)


def cmd_report(args: argparse.Namespace) -> int:
    for fmt in args.format.split(","):
        if fmt.strip() not in {"table", "csv", "json"}:
            raise ChorusError(f"unknown report format {fmt!r}", "use --format table, csv or json (comma-separated)")
    print(_render_report(args.campaign, args.format, args.html))
    if args.html:
        print(f"HTML report written to {Path(args.html).resolve()}", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from campaign.settings import Settings
    from flows.stage_report import export_parquet

    written = export_parquet(Settings.from_env().warehouse_path, args.out, args.campaign)
    for name, path in written.items():
        print(f"{name}: {path}")
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    import duckdb

    from campaign.settings import Settings
    from warehouse import db

    con = db.connect(Settings.from_env().warehouse_path, read_only=True)
    try:
        try:
            cur = con.execute(args.sql)
        except duckdb.Error as err:
            text = str(err)
            if "read-only" in text or "read only" in text:
                raise ChorusError("`chorus query` is read-only: the statement would change the warehouse",
                                  "use SELECT (or DESCRIBE/SHOW); the warehouse is written only by Chorus's stages") from None
            raise ChorusError(f"query failed: {text.splitlines()[0]}", "check the SQL; `chorus query \"show tables\"` lists the tables") from None
        if cur.description is None:
            return 0
        cols = [d[0] for d in cur.description]
        rows = cur.fetchall()
    finally:
        con.close()
    if args.csv:
        import csv

        w = csv.writer(sys.stdout)
        w.writerow(cols)
        w.writerows(rows)
    else:
        from rich.console import Console
        from rich.table import Table

        t = Table(*cols)
        for r in rows:
            t.add_row(*("" if v is None else str(v) for v in r))
        Console(width=max(120, Console().width)).print(t)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from campaign.manifest import load_manifest

    for manifest in args.manifest:
        load_manifest(manifest)  # fail fast on an invalid manifest, before a server starts
    _prepare_prefect(args.verbose)
    from flows.serve import ServeOptions, serve

    home = Path(os.environ.get("CHORUS_HOME", ".chorus")).expanduser()
    inbox = Path(args.inbox or os.environ.get("CHORUS_INBOX") or home / "inbox").expanduser().resolve()
    return serve(ServeOptions(manifests=args.manifest, inbox=inbox, s3_inbox=args.s3_inbox or os.environ.get("CHORUS_S3_INBOX"),
                              s3_queue=args.s3_queue or os.environ.get("CHORUS_S3_INBOX_QUEUE"), poll_s=args.poll,
                              port=args.port, only=tuple(x for x in (args.only or "").split(",") if x),
                              watch_only=args.watch_only))


def cmd_approve(args: argparse.Namespace) -> int:
    _prepare_prefect(args.verbose)
    from flows.approval import approve

    got = approve(args.campaign, args.asset, by=args.by, reject=args.reject, note=args.note)
    verb = "rejected" if args.reject else "approved"
    where = f"resumed the waiting schedule run {got.flow_run}" if got.how == "resumed" else "recorded in the warehouse"
    print(f"{args.campaign}/{args.asset}: {verb} by {args.by} ({len(got.variants)} variant(s)); {where}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from campaign.settings import Settings

    os.environ.setdefault("CHORUS_SANDBOX_SPEED", "3600")
    settings = Settings.from_env()
    print(f"Chorus demo: the example campaign {EXAMPLE.relative_to(EXAMPLE.parents[2])} on sandbox accounts "
          "(simulated platforms: nothing is posted anywhere).")
    _prepare_prefect(args.verbose)
    t0 = time.monotonic()
    outcomes = _run_campaign(EXAMPLE, True, args.quiet)
    failed = _print_outcomes(outcomes)
    from flows import prefect_flows

    with _progress(not args.quiet):
        published = prefect_flows.publish_due_flow("first-vote")
    print(f"published {published['published']} sandbox post(s)")
    # Sandbox time runs at CHORUS_SANDBOX_SPEED: a few real seconds are a few simulated hours of engagement.
    time.sleep(2)
    pulled = prefect_flows.metrics_pull_flow("first-vote")
    print(f"pulled {pulled['snapshots']} metric value(s)")
    html = settings.outputs_dir / "first-vote-report.html"
    print(_render_report("first-vote", "table", str(html)))
    print("Where things are:")
    print(f"  variants and captions: {Path(settings.store_url).resolve() / 'campaigns' / 'first-vote'}")
    print(f"  warehouse (DuckDB):    {settings.warehouse_path.resolve()}")
    print(f"  impact report (HTML):  {html.resolve()}")
    print("  try: chorus query \"select platform, language, state, post_url from posts\"")
    print(f"finished in {time.monotonic() - t0:.0f} s")
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chorus", description="Captions, language variants, exactly-once publishing and impact metrics for campaign videos.")
    p.add_argument("-v", "--verbose", action="store_true", help="show Prefect's logs")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("demo", help="the whole pipeline on the bundled example campaign (sandbox accounts)")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("validate", help="check a campaign manifest; every error names the field and what is allowed")
    s.add_argument("manifest")
    s.set_defaults(func=cmd_validate)

    s = sub.add_parser("run", help="caption -> variants -> schedule for every asset of a campaign")
    s.add_argument("manifest")
    s.add_argument("--post-now", action="store_true", help="make every post due now instead of at its local slot")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("caption", help="caption one video: writes SRT, WebVTT and JSON next to it (or to --out)")
    s.add_argument("video")
    s.add_argument("--lang", default=None, help="the spoken language (BCP-47); detected when left out")
    s.add_argument("--out", default=None, help="folder for the caption files (default: next to the video)")
    s.add_argument("--format", default=None, help="the frame the captions are for (9:16, 1:1, 4:5, 16:9): sets the line length")
    s.set_defaults(func=cmd_caption)

    s = sub.add_parser("captions", help="captions reviewed by a person")
    csub = s.add_subparsers(dest="captions_command", required=True, metavar="ACTION")
    c = csub.add_parser("import", help="import a reviewed SRT/WebVTT file; it replaces the automatic captions")
    c.add_argument("manifest")
    c.add_argument("asset")
    c.add_argument("lang")
    c.add_argument("file")
    c.add_argument("--by", default=None, help="who reviewed it (recorded in the warehouse)")
    c.set_defaults(func=cmd_captions_import)

    s = sub.add_parser("translations", help="machine translations reviewed by a person")
    tsub = s.add_subparsers(dest="translations_command", required=True, metavar="ACTION")
    t = tsub.add_parser("approve", help="approve a machine translation (optionally with a corrected SRT/WebVTT)")
    t.add_argument("campaign")
    t.add_argument("asset")
    t.add_argument("lang")
    t.add_argument("--by", required=True, help="who reviewed it (recorded in the warehouse)")
    t.add_argument("--corrected", default=None, help="a corrected SRT or WebVTT file that replaces the translation")
    t.set_defaults(func=cmd_translations_approve)

    s = sub.add_parser("publish-due", help="publish the posts that are due now")
    s.add_argument("--campaign", default=None)
    s.set_defaults(func=cmd_publish_due)

    s = sub.add_parser("accounts", help="each account's connection: can it post, are posts held for reconnection")
    s.add_argument("--campaign", default=None)
    s.add_argument("--no-probe", action="store_true", help="do not ask the platforms, show what the ledger knows")
    s.set_defaults(func=cmd_accounts)

    s = sub.add_parser("reschedule", help="move a planned or natively scheduled post to another time")
    s.add_argument("post", help="the post's idempotency key (see `chorus query \"select idempotency_key, account_id, scheduled_at from posts\"`)")
    s.add_argument("when", help="ISO 8601 with an offset, e.g. 2027-03-01T18:00+01:00")
    s.set_defaults(func=cmd_reschedule)

    s = sub.add_parser("cancel", help="cancel a post that has not gone out (withdrawn from the platform's schedule)")
    s.add_argument("post", help="the post's idempotency key")
    s.set_defaults(func=cmd_cancel)

    s = sub.add_parser("metrics", help="metric pulls")
    msub = s.add_subparsers(dest="metrics_command", required=True, metavar="ACTION")
    m = msub.add_parser("pull", help="pull metrics for every live post into the warehouse")
    m.add_argument("--campaign", default=None)
    m.add_argument("--force", action="store_true", help="pull every live post now, not only those the cadence says are due")
    m.set_defaults(func=cmd_metrics_pull)

    s = sub.add_parser("report", help="impact against objectives")
    s.add_argument("campaign")
    s.add_argument("--format", default="table", help="table, csv or json (comma-separated for several)")
    s.add_argument("--html", default=None, help="also write a self-contained HTML page")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("export", help="Parquet files of the tables and impact views, for analysts")
    s.add_argument("out", help="folder to write to")
    s.add_argument("--campaign", default=None)
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("query", help="read-only SQL on the warehouse")
    s.add_argument("sql")
    s.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    s.set_defaults(func=cmd_query)

    s = sub.add_parser("serve", help="event-driven mode: a Prefect server, the stage deployments and the inbox watcher")
    s.add_argument("manifest", nargs="*", help="campaign manifests whose videos the inbox takes (inbox/<campaign-id>/)")
    s.add_argument("--inbox", default=None, help="the inbox folder (default: $CHORUS_INBOX or .chorus/inbox)")
    s.add_argument("--s3-inbox", default=None, help="also watch s3://bucket/prefix/ (default: $CHORUS_S3_INBOX)")
    s.add_argument("--s3-queue", default=None, help="SQS queue URL receiving the bucket's S3 event notifications "
                   "(default: $CHORUS_S3_INBOX_QUEUE); without it the prefix is listed")
    s.add_argument("--port", type=int, default=None, help="port of the Prefect server started when PREFECT_API_URL is unset")
    s.add_argument("--poll", type=float, default=1.0, help="seconds between the runner's polls for triggered runs")
    s.add_argument("--only", default=None, help="serve only these stages (comma-separated flow names, e.g. "
                   "caption,variants), to split the stages across machines")
    s.add_argument("--watch-only", action="store_true", help="only watch the inbox; the deployments run on a work pool "
                   "(`prefect deploy --all` + `prefect worker start`) of the server in PREFECT_API_URL")
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("approve", help="approve (or reject) an asset's variants before they are published")
    s.add_argument("campaign")
    s.add_argument("asset")
    s.add_argument("--by", required=True, help="your name, recorded in the warehouse with the decision")
    s.add_argument("--reject", action="store_true", help="reject: nothing of this asset is posted")
    s.add_argument("--note", default=None)
    s.set_defaults(func=cmd_approve)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ManifestError as err:
        print(f"error: {err.line}", file=sys.stderr)
        for issue in err.issues:
            print(f"  - {issue}", file=sys.stderr)
        return 2
    except ChorusError as err:
        print(f"error: {err.line}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`chorus report X | head`): not an error worth a traceback.
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
