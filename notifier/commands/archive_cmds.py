"""The spine's commands: parse, poll, backfill, latest, series, run."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from tqdm import tqdm

from archive.crawl import Crawler
from archive.detect import parse
from archive.fetch import Fetcher, failure_line, redact_url
from archive.identity import series_lookup_key
from archive.model import Post
from archive.poll import Poller, site_root
from notifier.context import CommandWords, Context, UsageError, add_common, print_json, whole_number
from storage.db import Database, database
from storage.meta import MetaStore
from storage.posts import PostStore, StoredPost
from storage.sources import SourceStore


def format_post(post: Post, link_host: str) -> str:
    """One human-readable line for a post."""
    parts = [post.date.iso(), f"#{post.id}" if post.id is not None else "#?", post.title]
    if post.readers is not None:
        parts.append(f"({post.readers}位读者)")
    url = post.url(link_host)
    if url:
        parts.append(url)
    return "  ".join(parts)


def _print_posts(posts: Sequence[Post], ctx: Context, as_json: bool) -> None:
    if as_json:
        print_json([p.to_json(ctx.link_host) for p in posts])
        return
    for post in posts:
        print(format_post(post, ctx.link_host))


def make_poller(db: Database, fetcher: Fetcher, ctx: Context) -> Poller:
    """A poller over `db` configured from the settings."""
    return Poller(
        fetcher=fetcher,
        posts=PostStore(db),
        sources=SourceStore(db),
        tz=ctx.tz,
        max_age_days=ctx.settings.notify_max_age_days,
        backoff_base=timedelta(seconds=ctx.settings.poll_interval),
    )


def crawl_root(ctx: Context) -> str:
    """The site the crawls read: the host of the first URL among the sources, else the live site."""
    for source in ctx.settings.kexue_sources:
        root = site_root(source)
        if root is not None:
            return root
    return "https://kexue.fm"


async def cmd_parse(args: argparse.Namespace, ctx: Context) -> int:
    """Print the posts of one file or URL."""
    async with Fetcher() as fetcher:
        result = await fetcher.fetch(args.source)
    assert result.content is not None
    _print_posts(parse(result.content, tz=ctx.tz), ctx, args.json)
    return 0


async def cmd_poll(args: argparse.Namespace, ctx: Context) -> int:
    """Run one poll cycle and report what is new."""
    sources = args.sources or ctx.settings.kexue_sources
    async with database(ctx.db_path) as db, Fetcher() as fetcher:
        report = await make_poller(db, fetcher, ctx).poll(sources, now=ctx.now)
    errors = [o for o in report.sources if o.error]
    for outcome in errors:
        print(f"kexue-notifier poll: {failure_line(outcome.source, outcome.error or '')}", file=sys.stderr)
    new_posts = [s.post for s in report.new]
    if args.json:
        print_json(
            {
                "baseline": report.baseline,
                "new": [p.to_json(ctx.link_host) for p in new_posts],
                "updated": report.updated,
                "unchanged": report.unchanged,
                "errors": [{"source": redact_url(o.source), "error": o.error} for o in errors],
            }
        )
    else:
        head = "baseline recorded" if report.baseline else f"{len(new_posts)} new"
        print(f"{head}, {report.updated} updated, {report.unchanged} unchanged")
        for post in new_posts:
            print(format_post(post, ctx.link_host))
    return 1 if errors and len(errors) == len(report.sources) else 0


async def cmd_backfill(args: argparse.Namespace, ctx: Context) -> int:
    """Read the whole archive once, politely, resuming an interrupted run."""
    root = crawl_root(ctx)
    bar = tqdm(desc="backfill", unit="page", file=sys.stderr, disable=None)

    def progress(message: str) -> None:
        bar.set_postfix_str(message[-60:], refresh=False)
        bar.update(1)

    async with database(ctx.db_path) as db, Fetcher(min_interval=ctx.settings.crawl_delay) as fetcher:
        crawler = Crawler(
            fetcher=fetcher,
            posts=PostStore(db),
            meta=MetaStore(db),
            root=root,
            clock=ctx.settings.now,
            progress=progress,
        )
        report = await crawler.run("backfill")
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


async def cmd_latest(args: argparse.Namespace, ctx: Context) -> int:
    """The newest stored posts."""
    async with database(ctx.db_path) as db:
        stored = await PostStore(db).latest(args.n)
    _print_posts([s.post for s in stored], ctx, args.json)
    return 0


def missing_parts(posts: Sequence[StoredPost]) -> list[int]:
    """The part numbers from 1 to the highest stored part that no stored post holds."""
    parts = {s.post.series.part for s in posts if s.post.series is not None}
    return [n for n in range(1, max(parts, default=0) + 1) if n not in parts]


def lookup_key(name: str) -> str:
    """The key a typed series name is matched by (see `archive.identity.series_lookup_key`)."""
    return series_lookup_key(name)


async def cmd_series(args: argparse.Namespace, ctx: Context) -> int:
    """List the series, or one series' parts by name or unique prefix."""
    async with database(ctx.db_path) as db:
        store = PostStore(db)
        summaries = await store.series_summaries()
        if args.name is None:
            if args.json:
                print_json([{"name": s.name, "parts": s.parts, "latest": s.latest} for s in summaries])
            else:
                for s in summaries:
                    noun = "part" if s.parts == 1 else "parts"
                    print(f"{s.name}  ({s.parts} {noun}, latest {s.latest or '?'})")
            return 0
        wanted = lookup_key(args.name)
        if not wanted:
            raise UsageError("the series name is empty")
        keys = {s.key: lookup_key(s.key) for s in summaries}
        exact = [s for s in summaries if keys[s.key] == wanted]
        matches = exact or [s for s in summaries if keys[s.key].startswith(wanted)]
        if not matches:
            raise UsageError(f"no series matches {args.name!r}; `kexue-notifier series` lists them")
        if len(matches) > 1:
            names = "; ".join(s.name for s in matches)
            raise UsageError(f"{args.name!r} is ambiguous: {names}")
        chosen = matches[0]
        posts = await store.series_posts(chosen.key)
    missing = missing_parts(posts)
    if args.json:
        print_json(
            {
                "name": chosen.name,
                "posts": [s.post.to_json(ctx.link_host) for s in posts],
                "missing": missing,
            }
        )
    else:
        print(chosen.name)
        for stored in posts:
            part = stored.post.series.part if stored.post.series else "?"
            print(f"  {part:>3}. {format_post(stored.post, ctx.link_host)}")
        if missing:
            print(f"  missing parts: {', '.join(map(str, missing))}")
    return 0


async def cmd_run(args: argparse.Namespace, ctx: Context) -> int:
    """The service: the scheduler and everything it drives, until SIGINT or SIGTERM."""
    from notifier.service import serve

    await serve(ctx)
    return 0


# Sources may follow `--db PATH` or `--json`: `poll a.xml --db X b.xml` reads both files.
WORDS = (CommandWords("poll", frozenset({"--json", "-h", "--help"}), frozenset({"--db"})),)


def register(subparsers: Any) -> None:
    """Add the spine's subcommands."""
    commands: list[tuple[str, str, Callable[..., Any], bool]] = [
        ("parse", "print the posts of one file or URL (no store)", cmd_parse, True),
        ("poll", "one poll cycle against the store", cmd_poll, True),
        ("backfill", "read the whole archive into the store (resumable)", cmd_backfill, True),
        ("latest", "the newest stored posts", cmd_latest, True),
        ("series", "list series, or the parts of one", cmd_series, True),
        ("run", "run the service (poll on a schedule)", cmd_run, False),
    ]
    for name, help_text, handler, json_flag in commands:
        parser = subparsers.add_parser(name, help=help_text, description=help_text)
        add_common(parser, json_flag=json_flag)
        parser.set_defaults(handler=handler)
        if name == "parse":
            parser.add_argument("source", help="a file path or an http(s) URL")
        elif name == "poll":
            parser.add_argument("sources", nargs="*", metavar="SOURCE", help="default: KEXUE_SOURCES")
        elif name == "latest":
            parser.add_argument("-n", type=whole_number(1), default=10, help="how many (default 10)")
        elif name == "series":
            parser.add_argument("name", nargs="?", help="a series name in any spelling, or a unique prefix")
