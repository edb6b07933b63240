"""The backfill crawl: every post from the archive page, excerpts and reader counts from the listings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from archive.fetch import Fetcher
from archive.model import Post, PostDate
from archive.site import CATEGORY_SLUGS, category_page_url
from notifier.ingest.crawling import Crawler
from storage.db import Database, database
from tests.support.blog_server import BlogServer
from tests.support.fixtures import make_listing_html
from tests.support.store import reads

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 12, 20, 9, 0, tzinfo=TZ)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A store in a real file."""
    async with database(tmp_path / "crawl.sqlite3") as opened:
        yield opened


def serve_site(server: BlogServer, posts: list[Post], per_page: int = 4) -> None:
    """The archive page plus every category: all posts under Everything, none elsewhere."""
    rows = sorted(posts, key=lambda p: p.date, reverse=True)
    lines = ['<html><body><div id="PostBody">']
    for post in rows:
        assert post.date.year is not None
        lines.append(
            f"<h3>{post.date.year}年</h3><ul><li>{post.date.month}月<ul><li>{post.date.day}日: "
            f'<a href="https://kexue.fm/archives/{post.id}">{post.title}</a> ( <a href="#c">0</a>)'
            "</li></ul></li></ul>"
        )
    server.set("/content.html", "\n".join([*lines, "</div></body></html>"]))
    pages = [rows[i : i + per_page] for i in range(0, len(rows), per_page)]
    root = server.url("").rstrip("/")
    for slug in CATEGORY_SLUGS:
        chunks = pages if slug == "Everything" else [[]]
        for number, chunk in enumerate(chunks, start=1):
            has_next = number < len(chunks)
            next_url = category_page_url(root, slug, number + 1) if has_next else None
            path = category_page_url("", slug, number)
            server.set(path, make_listing_html(chunk, next_url=next_url))


def site_posts(count: int, readers: int) -> list[Post]:
    """`count` dated posts with excerpts and reader counts."""
    return [
        Post(
            9000 + i,
            f"第{i}篇",
            PostDate(2024, 1 + i % 12, 1 + i % 28),
            readers=readers + i,
            excerpt=f"摘要{i}",
        )
        for i in range(count)
    ]


def make_crawler(db: Database, fetcher: Fetcher, server: BlogServer, clock: datetime = NOW) -> Crawler:
    """A crawler of the local site."""
    return Crawler(
        fetcher=fetcher,
        db=db,
        root=server.url("").rstrip("/"),
        clock=lambda: clock,
    )


async def test_backfill_stores_every_post_with_excerpts_and_readers(
    db: Database, blog_server: BlogServer
) -> None:
    posts = site_posts(10, readers=100)
    serve_site(blog_server, posts)
    async with Fetcher() as fetcher:
        report = await make_crawler(db, fetcher, blog_server).run("backfill")
    assert report.complete and report.errors == []
    assert report.inserted == 10
    assert report.pages == 1 + 3 + (len(CATEGORY_SLUGS) - 1)
    store = reads(db).posts
    stored = await store.by_archive_id(9003)
    assert stored is not None
    assert (stored.post.readers, stored.post.excerpt) == (103, "摘要3")
    # Nothing a crawl stores is ever announced.
    async with db.conn.execute("SELECT count(*) FROM outbox") as cursor:
        row = await cursor.fetchone()
    assert row is not None and row[0] == 0
    assert blog_server.requests_for("/search/") == []


async def test_an_interrupted_backfill_resumes_where_it_stopped(
    db: Database, blog_server: BlogServer
) -> None:
    serve_site(blog_server, site_posts(10, readers=100))
    blog_server.fail("/category/Everything/2/", 500)
    async with Fetcher() as fetcher:
        first = await make_crawler(db, fetcher, blog_server).run("backfill")
        assert not first.complete and len(first.errors) == 1 and "500" in first.errors[0]
        blog_server.recover("/category/Everything/2/")
        before = len(blog_server.requests)
        second = await make_crawler(db, fetcher, blog_server).run("backfill")
    assert second.resumed and second.complete
    asked = [r.path for r in blog_server.requests[before:]]
    # It goes on from the failed page: neither the archive page nor the first listing page is read again.
    assert asked[:2] == ["/category/Everything/2/", "/category/Everything/3/"]
    assert "/content.html" not in asked and "/category/Everything/" not in asked
    assert len(asked) == 2 + len(CATEGORY_SLUGS) - 1
    assert await reads(db).meta.done_items("backfill") == set()


async def test_reader_counts_are_kept_over_time(db: Database, blog_server: BlogServer) -> None:
    serve_site(blog_server, site_posts(3, readers=100))
    async with Fetcher() as fetcher:
        await make_crawler(db, fetcher, blog_server).run("backfill")
        serve_site(blog_server, site_posts(3, readers=180))
        week_later = NOW + timedelta(days=7)
        await make_crawler(db, fetcher, blog_server, clock=week_later).run("readers", content=False)
    store = reads(db).posts
    stored = await store.by_archive_id(9001)
    assert stored is not None
    assert [r for _, r in await store.reader_history(stored.pk)] == [101, 181]


async def test_a_listing_in_the_wrong_encoding_stops_the_crawl_and_keeps_the_stored_titles(
    db: Database, blog_server: BlogServer
) -> None:
    posts = site_posts(10, readers=100)
    serve_site(blog_server, posts)
    # The second listing page: UTF-8 read as Windows-1252, every title in mojibake.
    garbled = [
        Post(p.id, p.title.encode().decode("cp1252", "replace"), p.date, p.readers, excerpt=p.excerpt)
        for p in sorted(posts, key=lambda p: p.date, reverse=True)[4:8]
    ]
    root = blog_server.url("").rstrip("/")
    blog_server.set(
        category_page_url("", "Everything", 2),
        make_listing_html(garbled, next_url=category_page_url(root, "Everything", 3)),
    )
    async with Fetcher() as fetcher:
        report = await make_crawler(db, fetcher, blog_server).run("backfill")
    assert not report.complete and "implausible page" in report.errors[0]
    stored = {p.id: (await reads(db).posts.by_archive_id(p.id or 0)) for p in posts}
    assert {ident: row.post.title for ident, row in stored.items() if row is not None} == {
        p.id: p.title for p in posts
    }
