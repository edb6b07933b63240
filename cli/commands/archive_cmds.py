"""The archive's commands: parse, poll, backfill, latest, series, run."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from tqdm import tqdm

from archive import ArchiveError
from archive.detect import parse
from archive.fetch import failure_line, redact_url
from archive.model import Post
from cli.context import CommandWords, add_common, print_json, whole_number
from notifier.bootstrap import App
from notifier.errors import UsageError
from notifier.services import MAX_LATEST, MAX_OFFSET, SeriesMatch
from storage.posts import StoredPost

EMPTY_STORE = "no posts stored yet (run `kexue-notifier poll` or `kexue-notifier backfill` first)"


def format_post(post: Post, link_host: str) -> str:
    """One human-readable line for a post: date, id, title, readers, link."""
    parts = [post.date.shown()]
    if post.id is not None:
        parts.append(f"#{post.id}")
    parts.append(post.title)
    if post.readers is not None:
        parts.append(f"({post.readers}位读者)")
    url = post.url(link_host)
    # A post known only from a text capture has no archive id yet, so no link.
    parts.append(url or "(no link yet: seen only in a text capture)")
    return "  ".join(parts)


def _print_posts(posts: Sequence[Post], app: App, as_json: bool) -> None:
    if as_json:
        print_json([p.to_json(app.config.link_host) for p in posts])
        return
    for post in posts:
        print(format_post(post, app.config.link_host))


async def cmd_parse(args: argparse.Namespace, app: App) -> int:
    """Print the posts of one file or URL."""
    try:
        result = await app.fetcher.fetch(args.source)
        assert result.content is not None
        posts = parse(result.content, tz=app.config.tz)
    except ArchiveError as exc:
        message = str(exc)
        shown = redact_url(args.source)
        raise UsageError(message if shown in message else f"{shown}: {message}") from None
    _print_posts(posts, app, args.json)
    return 0


async def cmd_poll(args: argparse.Namespace, app: App) -> int:
    """Run one poll cycle and report what is new."""
    report = await app.services.blog.poll_once(args.sources)
    errors = [o for o in report.sources if o.error]
    for outcome in errors:
        print(f"kexue-notifier poll: {failure_line(outcome.source, outcome.error or '')}", file=sys.stderr)
    new_posts = [s.post for s in report.new]
    link_host = app.config.link_host
    if args.json:
        print_json(
            {
                "baseline": report.baseline,
                "new": [p.to_json(link_host) for p in new_posts],
                "stored": report.stored,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "errors": [{"source": redact_url(o.source), "error": o.error} for o in errors],
            }
        )
    elif errors and len(errors) == len(report.sources):
        # Every source failed: the lines above say why; a summary of zeros would read like a success.
        pass
    else:
        if report.baseline:
            head = "baseline recorded (a first poll announces nothing)"
            stored = f"{report.stored} stored"
        else:
            head = f"{len(new_posts)} new"
            days = app.config.notify_max_age_days
            stored = f"{report.stored} stored without announcement"
            if report.stored:
                stored += f" (dated over {days} days before the last poll, or without a year)"
        print(f"{head}, {stored}, {report.updated} updated, {report.unchanged} unchanged")
        for post in new_posts:
            print(format_post(post, link_host))
    return 1 if errors and len(errors) == len(report.sources) else 0


async def cmd_backfill(args: argparse.Namespace, app: App) -> int:
    """Read the whole archive once, politely, resuming an interrupted run."""
    bar = tqdm(desc="backfill", unit="page", file=sys.stderr, disable=None)

    def progress(message: str) -> None:
        bar.set_postfix_str(message[-60:], refresh=False)
        bar.update(1)

    try:
        report = await app.services.blog.backfill(progress)
    finally:
        bar.close()
    if args.json:
        print_json(report.to_json())
    else:
        state = "complete" if report.complete else "incomplete (run again to resume)"
        print(
            f"backfill {state}: {report.pages} pages, {report.posts} posts, "
            f"{report.inserted} new to the store, {report.updated} updated"
        )
    for error in report.errors:
        print(f"kexue-notifier backfill: {error}", file=sys.stderr)
    return 0 if report.complete else 1


async def cmd_latest(args: argparse.Namespace, app: App) -> int:
    """The newest stored posts."""
    # The service hands out pages of MAX_LATEST; a local tool may ask for the whole archive at once.
    stored: list[StoredPost] = []
    while len(stored) < args.n:
        page = await app.services.archive.latest(min(MAX_LATEST, args.n - len(stored)), len(stored))
        stored += page
        if len(page) < MAX_LATEST:
            break
    if not stored:
        print(f"kexue-notifier latest: {EMPTY_STORE}", file=sys.stderr)
    _print_posts([s.post for s in stored], app, args.json)
    return 0


async def cmd_series(args: argparse.Namespace, app: App) -> int:
    """List the series, or one series' parts by name or unique prefix."""
    if args.name is None:
        summaries = await app.services.archive.series_index()
        if args.json:
            print_json([{"name": s.name, "parts": s.parts, "latest": s.latest} for s in summaries])
            return 0
        if not summaries and not await app.services.archive.post_count():
            print(f"kexue-notifier series: {EMPTY_STORE}", file=sys.stderr)
        for s in summaries:
            noun = "part" if s.parts == 1 else "parts"
            latest = f", latest {s.latest}" if s.latest else ""
            print(f"{s.name}  ({s.parts} {noun}{latest})")
        return 0
    lookup = await app.services.archive.find_series(args.name)
    if lookup.match is SeriesMatch.NOT_FOUND:
        guess = "; ".join(s.name for s in lookup.suggestions)
        hint = f"; did you mean: {guess}?" if guess else ""
        raise UsageError(f"no series matches {args.name!r}{hint} (`kexue-notifier series` lists them)")
    if lookup.match is SeriesMatch.AMBIGUOUS:
        names = "; ".join(s.name for s in lookup.candidates)
        raise UsageError(f"{args.name!r} is ambiguous: {names}")
    assert lookup.detail is not None
    detail, link_host = lookup.detail, app.config.link_host
    if args.json:
        print_json(
            {
                "name": detail.summary.name,
                "posts": [s.post.to_json(link_host) for s in detail.posts],
                "missing": detail.missing,
            }
        )
        return 0
    print(detail.summary.name)
    for stored in detail.posts:
        part = stored.post.series.part if stored.post.series else "?"
        print(f"  {part:>3}. {format_post(stored.post, link_host)}")
    if detail.missing:
        print(f"  missing parts: {', '.join(map(str, detail.missing))}")
    return 0


async def cmd_run(args: argparse.Namespace, app: App) -> int:
    """The service: the scheduler and everything it drives, until SIGINT or SIGTERM."""
    from cli.run import serve

    await serve(app)
    return 0


# Sources may follow `--db PATH` or `--json`: `poll a.xml --db X b.xml` reads both files.
WORDS = (
    CommandWords("poll", frozenset({"--json", "-h", "--help"}), frozenset({"--db"})),
    # A series name is one value however many words it is typed in: `series 升级 之路`.
    CommandWords("series", frozenset({"--json", "-h", "--help"}), frozenset({"--db"}), join=True),
)

# What each command needs of the store: none (an in-memory one), read (an existing file) or write.
Store = str


def register(subparsers: Any) -> None:
    """Add the archive's subcommands."""
    commands: list[tuple[str, str, Callable[..., Any], bool, Store]] = [
        ("parse", "print the posts of one file or URL (no store)", cmd_parse, True, "none"),
        ("poll", "one poll cycle against the store", cmd_poll, True, "write"),
        ("backfill", "read the whole archive into the store (resumable)", cmd_backfill, True, "write"),
        ("latest", "the newest stored posts", cmd_latest, True, "read"),
        ("series", "list series, or the parts of one", cmd_series, True, "read"),
        ("run", "run the service (poll on a schedule)", cmd_run, False, "write"),
    ]
    for name, help_text, handler, json_flag, store in commands:
        parser = subparsers.add_parser(name, help=help_text, description=help_text)
        add_common(parser, json_flag=json_flag)
        parser.set_defaults(handler=handler, store=store)
        if name == "parse":
            parser.add_argument("source", help="a file path or an http(s) URL")
        elif name == "poll":
            parser.add_argument("sources", nargs="*", metavar="SOURCE", help="default: KEXUE_SOURCES")
        elif name == "latest":
            parser.add_argument(
                "-n",
                type=whole_number(1, MAX_OFFSET + MAX_LATEST),
                default=10,
                help="how many (default 10)",
            )
        elif name == "series":
            parser.add_argument("name", nargs="?", help="any part of a series name, in any spelling")
