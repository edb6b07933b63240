"""Spine figures: parse throughput of /content.html (1× and 10×); an unchanged poll against a changed one."""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from archive.fetch import Fetcher
from archive.formats.content import parse_content
from bench.timing import best_of
from notifier.ingest.polling import Poller
from storage.db import database
from tests.support.blog_server import BlogServer
from tests.support.fixtures import make_content_html, make_feed_xml

TZ = ZoneInfo("Asia/Shanghai")
REAL_SIZE = 1330
POLLS = 60


def bench_parse() -> None:
    """Per-post cost of parsing the archive page at the real size and ten times it."""
    print("parse /content.html (best of 5; cost per post should not grow with size)")
    per_post: dict[int, float] = {}
    for size in (REAL_SIZE, 10 * REAL_SIZE):
        page = make_content_html(size)
        seconds = best_of(partial(parse_content, page))
        count = len(parse_content(page))
        assert count == size, (count, size)
        per_post[size] = seconds / size
        print(
            f"  {size:>6} posts, {len(page) / 1e6:5.2f} MB: {seconds * 1e3:8.1f} ms, "
            f"{size / seconds:10,.0f} posts/s"
        )
    ratio = per_post[10 * REAL_SIZE] / per_post[REAL_SIZE]
    print(f"  per-post cost at 10x / at 1x: {ratio:.2f} (1.00 = linear)")


async def _polls(server: BlogServer, db_path: Path, *, changing: bool) -> tuple[float, int, int]:
    """Mean seconds per poll, rows written, requests made over POLLS polls of one feed."""
    now = datetime(2025, 5, 10, 12, tzinfo=TZ)
    base = [(11000 - i, f"文章{i}", now - timedelta(days=3 * i), "摘要 $x^2$") for i in range(10)]
    server.set("/feed", make_feed_xml(base), content_type="application/rss+xml", etag='"0"')
    async with database(db_path) as db, Fetcher() as fetcher:
        poller = Poller(
            fetcher=fetcher,
            db=db,
            tz=TZ,
            max_age_days=14,
            backoff_base=timedelta(seconds=900),
        )
        await poller.poll([server.url("/feed")], now=now)
        changes, asked = db.total_changes, len(server.requests)
        start = time.perf_counter()
        for n in range(1, POLLS + 1):
            if changing:
                fresh = [(11000 + n, f"新文章{n}", now + timedelta(minutes=n), "摘要")]
                items = (fresh + base)[:10]
                server.set("/feed", make_feed_xml(items), content_type="application/rss+xml", etag=f'"{n}"')
            await poller.poll([server.url("/feed")], now=now + timedelta(minutes=n))
        elapsed = (time.perf_counter() - start) / POLLS
        return elapsed, db.total_changes - changes, len(server.requests) - asked


async def bench_poll() -> None:
    """An unchanged feed (304, no parse, no write) against a feed that changes every poll."""
    with tempfile.TemporaryDirectory() as tmp:
        async with BlogServer() as server:
            unchanged = await _polls(server, Path(tmp) / "a.sqlite3", changing=False)
            changed = await _polls(server, Path(tmp) / "b.sqlite3", changing=True)
    print(f"poll one feed, {POLLS} polls each, local server")
    print(
        f"  changed feed:   {changed[0] * 1e3:7.2f} ms/poll, {changed[1]:5d} rows written, "
        f"{changed[2]} requests"
    )
    print(
        f"  unchanged feed: {unchanged[0] * 1e3:7.2f} ms/poll, {unchanged[1]:5d} rows written, "
        f"{unchanged[2]} requests (all 304)"
    )
    print(f"  unchanged / changed cost: {unchanged[0] / changed[0]:.2f}")


def main() -> None:
    """Print the spine's figures."""
    bench_parse()
    asyncio.run(bench_poll())
