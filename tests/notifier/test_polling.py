"""One poll cycle against a real local blog server and a real SQLite file."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from archive.fetch import Fetcher
from archive.model import Post, PostDate
from archive.site import feed_has_gap, site_root
from notifier.ingest.polling import Poller
from storage.db import Database, database
from tests.support.blog_server import BlogServer
from tests.support.fixtures import make_content_html, make_feed_xml, make_homepage_html, read_fixture
from tests.support.store import reads

TZ = ZoneInfo("Asia/Shanghai")
UTC = ZoneInfo("UTC")
NOW = datetime(2025, 5, 10, 12, 0, tzinfo=TZ)
RSS = "application/rss+xml; charset=UTF-8"

Item = tuple[int, str, datetime, str]


def items(*specs: tuple[int, str, str]) -> list[Item]:
    """Feed items from (id, title, Beijing date) with a noon publication time."""
    return [
        (ident, title, datetime.fromisoformat(day).replace(hour=12, tzinfo=TZ), f"摘要 {ident}")
        for ident, title, day in specs
    ]


BASE = items(
    (10900, "旧文一", "2025-04-20"),
    (10890, "旧文二", "2025-04-10"),
)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A store in a real file."""
    async with database(tmp_path / "poll.sqlite3") as opened:
        yield opened


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    """A fetcher with short timeouts for loopback."""
    async with Fetcher(timeout=5.0) as opened:
        yield opened


def make_poller(db: Database, fetcher: Fetcher) -> Poller:
    """A poller with the service's defaults."""
    return Poller(
        fetcher=fetcher,
        db=db,
        tz=TZ,
        max_age_days=14,
        backoff_base=timedelta(seconds=900),
    )


async def test_baseline_then_a_new_post_is_announced_once(
    db: Database, fetcher: Fetcher, blog_server: BlogServer
) -> None:
    feed = blog_server.url("/feed")
    poller = make_poller(db, fetcher)
    blog_server.set("/feed", make_feed_xml(BASE), content_type=RSS)
    first = await poller.poll([feed], now=NOW)
    assert first.baseline and first.new == []

    fresh = items((10907, "Transformer升级之路：20、MLA好在哪里?（上）", "2025-05-04"))
    blog_server.set("/feed", make_feed_xml(fresh + BASE), content_type=RSS)
    second = await poller.poll([feed], now=NOW + timedelta(minutes=15))
    assert not second.baseline
    assert [(s.post.id, s.post.series.part if s.post.series else None) for s in second.new] == [(10907, 20)]
    assert second.unchanged == 2

    third = await poller.poll([feed], now=NOW + timedelta(minutes=30))
    assert third.new == [] and third.unchanged == 3


async def test_an_unchanged_feed_costs_one_304_and_no_write(
    db: Database, fetcher: Fetcher, blog_server: BlogServer
) -> None:
    feed = blog_server.url("/feed")
    blog_server.set("/feed", make_feed_xml(BASE), content_type=RSS, etag='"v1"')
    poller = make_poller(db, fetcher)
    await poller.poll([feed], now=NOW)
    changes_before = db.conn.total_changes
    report = await poller.poll([feed], now=NOW + timedelta(minutes=15))
    assert report.sources[0].not_modified
    assert db.conn.total_changes == changes_before
    second = blog_server.requests_for("/feed")[-1]
    assert second.status == 304 and second.headers.get("If-None-Match") == '"v1"'


async def test_a_failing_source_changes_nothing_and_backs_off(
    db: Database, fetcher: Fetcher, blog_server: BlogServer
) -> None:
    feed = blog_server.url("/feed")
    blog_server.set("/feed", make_feed_xml(BASE), content_type=RSS)
    poller = make_poller(db, fetcher)
    await poller.poll([feed], now=NOW)
    blog_server.fail("/feed", 502, body=read_fixture("broken-nginx-502.html"))
    report = await poller.poll([feed], now=NOW + timedelta(minutes=15))
    assert report.sources[0].error is not None and "502" in report.sources[0].error
    assert await reads(db).posts.count() == 2
    state = await reads(db).sources.get(feed)
    assert state.failures == 1 and state.next_attempt_at is not None
    # Within the backoff window the service does not even ask.
    asked = len(blog_server.requests_for("/feed"))
    skipped = await poller.poll([feed], now=NOW + timedelta(minutes=16), respect_backoff=True)
    assert skipped.sources[0].skipped and len(blog_server.requests_for("/feed")) == asked
    blog_server.recover("/feed")
    later = await poller.poll([feed], now=NOW + timedelta(hours=1), respect_backoff=True)
    assert later.sources[0].error is None
    assert (await reads(db).sources.get(feed)).failures == 0


async def test_an_unparseable_page_is_recorded_and_nothing_is_lost(
    db: Database, fetcher: Fetcher, blog_server: BlogServer
) -> None:
    feed = blog_server.url("/feed")
    blog_server.set("/feed", make_feed_xml(BASE), content_type=RSS)
    poller = make_poller(db, fetcher)
    await poller.poll([feed], now=NOW)
    blog_server.set("/feed", read_fixture("broken-truncated.html"))
    report = await poller.poll([feed], now=NOW + timedelta(minutes=15))
    assert report.sources[0].error is not None and report.sources[0].error.startswith("unparseable page")
    assert await reads(db).posts.count() == 2
    assert (await reads(db).sources.get(feed)).last_error == report.sources[0].error


async def test_a_post_missing_from_a_later_listing_is_never_deleted(
    db: Database, fetcher: Fetcher, blog_server: BlogServer
) -> None:
    feed = blog_server.url("/feed")
    poller = make_poller(db, fetcher)
    blog_server.set("/feed", make_feed_xml(BASE), content_type=RSS)
    await poller.poll([feed], now=NOW)
    blog_server.set("/feed", make_feed_xml(BASE[:1]), content_type=RSS)
    await poller.poll([feed], now=NOW + timedelta(minutes=15))
    assert await reads(db).posts.count() == 2


async def test_a_gap_longer_than_the_feed_is_filled_from_the_archive_page(
    db: Database, fetcher: Fetcher, blog_server: BlogServer
) -> None:
    feed = blog_server.url("/feed")
    poller = make_poller(db, fetcher)
    blog_server.set("/feed", make_feed_xml(BASE), content_type=RSS)
    await poller.poll([feed], now=NOW)
    # Three weeks down: twelve posts appeared, the feed shows only the newest ten.
    missed = [(11000 + i, f"错过的文章{i}", f"2025-05-{11 + i:02d}") for i in range(12)]
    feed_items = items(*reversed(missed))[:10]
    blog_server.set("/feed", make_feed_xml(feed_items), content_type=RSS)
    archive_rows = [(ident, title, PostDate.from_iso(day)) for ident, title, day in missed]
    blog_server.set("/content.html", _content_page(archive_rows))
    blog_server.set("/", make_homepage_html([Post(i, t, d) for i, t, d in archive_rows[:3]]))
    report = await poller.poll([feed], now=NOW + timedelta(days=21))
    assert sorted(s.post.id or 0 for s in report.new) == [ident for ident, _, _ in missed]
    assert blog_server.requests_for("/content.html")


async def test_a_gap_fill_listing_in_the_wrong_encoding_never_garbles_stored_titles(
    db: Database, fetcher: Fetcher, blog_server: BlogServer
) -> None:
    feed = blog_server.url("/feed")
    poller = make_poller(db, fetcher)
    blog_server.set("/feed", make_feed_xml(BASE), content_type=RSS)
    await poller.poll([feed], now=NOW)
    rows = await reads(db).posts.latest(10)
    stored = {row.post.id: row.post.title for row in rows}
    missed = [(11000 + i, f"错过的文章{i}", f"2025-05-{11 + i:02d}") for i in range(12)]
    blog_server.set("/feed", make_feed_xml(items(*reversed(missed))[:10]), content_type=RSS)
    archive_rows = [(ident, title, PostDate.from_iso(day)) for ident, title, day in missed]
    blog_server.set("/content.html", _content_page(archive_rows))
    # The homepage listing arrives as UTF-8 read as Windows-1252: every stored title in mojibake.
    known = [Post(r.post.id, r.post.title.encode().decode("cp1252", "replace"), r.post.date) for r in rows]
    blog_server.set("/", make_homepage_html(known))
    await poller.poll([feed], now=NOW + timedelta(days=21))
    assert {
        r.post.id: r.post.title for r in await reads(db).posts.latest(30) if r.post.id in stored
    } == stored


def _content_page(rows: list[tuple[int, str, PostDate]]) -> bytes:
    """A `/content.html` with exactly these posts."""
    lines = ['<html><body><div id="PostBody"><h2>文章归档</h2>']
    for ident, title, day in rows:
        lines.append(
            f"<h3>{day.year}年 (共1篇)</h3><ul><li>{day.month}月<ul><li>{day.day}日: "
            f'<a href="https://kexue.fm/archives/{ident}">{title}</a> '
            f'( <a href="https://kexue.fm/archives/{ident}#PostComment">0</a>)</li></ul></li></ul>'
        )
    lines.append("</div></body></html>")
    return "\n".join(lines).encode()


def test_content_page_builder_is_parsed_by_the_real_parser() -> None:
    # The synthetic archive page of the benchmarks goes through the same detector as the live one.
    from archive.detect import detect

    assert detect(make_content_html(30)) == "content"
    assert detect(_content_page([(1, "t", PostDate(2020, 1, 2))])) == "content"


def test_gap_rule_and_site_root() -> None:
    feed = [Post(2, "b", PostDate(2025, 5, 20)), Post(1, "a", PostDate(2025, 5, 12))]
    assert feed_has_gap(feed, "2025-05-01")
    assert not feed_has_gap(feed, "2025-05-12")
    assert not feed_has_gap(feed, None)
    assert site_root("https://kexue.fm/feed") == "https://kexue.fm"
    assert site_root("http://127.0.0.1:8080/feed") == "http://127.0.0.1:8080"
    assert site_root("/var/feed.xml") is None


async def test_a_poll_that_cannot_store_its_posts_does_not_keep_the_validators(
    db: Database, fetcher: Fetcher, blog_server: BlogServer
) -> None:
    feed = blog_server.url("/feed")
    poller = make_poller(db, fetcher)
    blog_server.set("/feed", make_feed_xml(BASE), content_type=RSS, etag='"v1"')
    # The store refuses the write (as a full disk would), after the page was fetched and parsed.
    async with db.transaction() as conn:
        await conn.execute(
            "CREATE TEMP TRIGGER refuse BEFORE INSERT ON posts BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    with pytest.raises(sqlite3.IntegrityError, match="disk full"):
        await poller.poll([feed], now=NOW)
    async with db.transaction() as conn:
        await conn.execute("DROP TRIGGER refuse")
    # Had the ETag been kept, this would be a 304 and the two posts would never be stored.
    report = await poller.poll([feed], now=NOW + timedelta(minutes=15))
    assert blog_server.requests_for("/feed")[-1].status == 200
    assert report.baseline and await reads(db).posts.count() == 2
    assert (await reads(db).sources.get(feed)).etag == '"v1"'
