"""The post store: identity, merging, the new-post rule and its SQL claim."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from archive.model import Post, PostDate, Series
from notifier.ingest.sightings import untrusted_reason
from storage import StorageError
from storage.db import Database, database, migrations, open_database
from tests.support.store import ingest, reads, seed

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 5, 10, 12, 0, tzinfo=TZ)


def post(
    ident: int | None,
    title: str,
    day: str,
    *,
    readers: int | None = None,
    excerpt: str = "",
    live: bool = True,
) -> Post:
    """A post as a parser would produce it."""

    return Post(
        id=ident,
        title=title,
        date=PostDate.from_iso(day),
        readers=readers,
        excerpt=excerpt,
        title_is_live=live,
    )


async def test_migrations_are_applied_once_and_reopening_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "k.sqlite3"
    async with database(path) as first:
        version = await first.schema_version()
        await seed(first, [post(1, "a", "2020-01-01")], now=NOW)
    async with database(path) as second:
        assert await second.schema_version() == version == migrations()[-1][0]
        assert await reads(second).posts.count() == 1
        async with second.conn.execute("PRAGMA journal_mode") as cursor:
            row = await cursor.fetchone()
        assert row is not None and row[0] == "wal"


async def test_same_post_twice_is_unchanged_and_changed_readers_update(db: Database) -> None:
    store = reads(db).posts
    assert await seed(db, [post(10427, "低秩近似之路（三）：CR", "2024-10-11", readers=100)], now=NOW) == (
        1,
        0,
        0,
    )
    assert await seed(db, [post(10427, "低秩近似之路（三）：CR", "2024-10-11", readers=100)], now=NOW) == (
        0,
        0,
        1,
    )
    later = NOW + timedelta(days=1)
    assert await seed(db, [post(10427, "低秩近似之路（三）：CR", "2024-10-11", readers=150)], now=later) == (
        0,
        1,
        0,
    )
    stored = await store.by_archive_id(10427)
    assert stored is not None and stored.post.readers == 150
    assert [r for _, r in await store.reader_history(stored.pk)] == [100, 150]


async def test_capture_then_live_sighting_is_one_post_with_the_live_title(db: Database) -> None:
    store = reads(db).posts
    await seed(db, [post(None, "低秩近似之路(三):CR", "2024-10-11", readers=11871, live=False)], now=NOW)
    await seed(db, [post(10427, "低秩近似之路（三）：CR", "2024-10-11")], now=NOW)
    # A later capture neither duplicates the post nor brings the folded spelling back.
    await seed(db, [post(None, "低秩近似之路(三):CR", "2024-10-11", readers=12000, live=False)], now=NOW)
    assert await store.count() == 1
    stored = await store.by_archive_id(10427)
    assert stored is not None
    assert stored.post.title == "低秩近似之路（三）：CR"
    assert stored.post.readers == 12000
    assert stored.post.series == Series("低秩近似之路", 3)


async def test_yearless_sighting_keeps_the_stored_year(db: Database) -> None:
    store = reads(db).posts
    await seed(db, [post(8620, "浅谈Transformer的初始化、参数化与标准化", "2021-08-17")], now=NOW)
    await seed(
        db, [post(None, "浅谈Transformer的初始化、参数化与标准化", "--08-17", excerpt="新摘要")], now=NOW
    )
    stored = await store.by_archive_id(8620)
    assert stored is not None
    assert stored.post.date == PostDate(2021, 8, 17)
    assert stored.post.excerpt == "新摘要"


async def test_first_ingest_is_a_baseline_then_only_recent_unseen_posts_are_new(db: Database) -> None:

    first = await ingest(db, [post(10900, "旧文", "2025-05-01")], now=NOW, tz=TZ, max_age_days=14)
    assert first.baseline and first.new == []
    batch = [
        post(10900, "旧文", "2025-05-01"),
        post(10907, "Transformer升级之路：20、MLA好在哪里?（上）", "2025-05-04"),
        post(3913, "【中文分词系列】 2. 基于切分的新词发现", "2016-08-18"),  # old: stored silently
        post(None, "没有年份的文章", "--05-08"),  # unknown year: stored, never announced
    ]
    second = await ingest(db, batch, now=NOW, tz=TZ, max_age_days=14)
    assert not second.baseline
    assert [s.post.id for s in second.new] == [10907]
    assert (second.unchanged, second.stored) == (1, 2)
    third = await ingest(db, batch, now=NOW + timedelta(minutes=15), tz=TZ, max_age_days=14)
    assert third.new == [] and third.unchanged == 4


async def test_an_outage_longer_than_the_window_still_announces_what_it_missed(db: Database) -> None:

    await ingest(db, [post(10800, "a", "2025-04-01")], now=NOW, tz=TZ, max_age_days=14)
    three_weeks = NOW + timedelta(days=21)
    result = await ingest(
        db,
        [post(10850, "b", "2025-05-25"), post(10700, "older than the window", "2025-04-20")],
        now=three_weeks,
        tz=TZ,
        max_age_days=14,
    )
    assert [s.post.id for s in result.new] == [10850]


async def test_two_connections_polling_at_once_announce_each_post_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    async with database(path) as setup:
        await ingest(setup, [post(1, "baseline", "2025-05-01")], now=NOW, tz=TZ, max_age_days=14)
    fresh = [post(100 + i, f"新文章{i}", "2025-05-09") for i in range(20)]
    async with database(path) as a, database(path) as b:
        results = await asyncio.gather(
            ingest(a, fresh, now=NOW, tz=TZ, max_age_days=14),
            ingest(b, fresh, now=NOW, tz=TZ, max_age_days=14),
        )
        announced = [s.post.id or 0 for r in results for s in r.new]
        assert sorted(announced) == [p.id for p in fresh]
        async with a.conn.execute("SELECT count(*) FROM outbox") as cursor:
            row = await cursor.fetchone()
        assert row is not None and row[0] == 20


async def test_latest_puts_unknown_years_last(db: Database) -> None:
    store = reads(db).posts
    await seed(
        db,
        [post(None, "无年份", "--12-31"), post(5, "old", "2019-01-01"), post(9, "new", "2025-01-01")],
        now=NOW,
    )
    assert [s.post.title for s in await store.latest(10)] == ["new", "old", "无年份"]
    assert [s.post.title for s in await store.latest(1, offset=1)] == ["old"]


async def test_series_are_grouped_across_spellings(db: Database) -> None:
    store = reads(db).posts
    await seed(
        db,
        [
            post(10366, "低秩近似之路（一）：伪逆", "2024-09-15"),
            post(None, "低秩近似之路(三):CR", "2024-10-11", live=False),
            post(10501, "低秩近似之路（四）：ID", "2024-10-30"),
            post(10592, "Muon优化器赏析：从向量到矩阵的本质跨越", "2024-12-10"),
        ],
        now=NOW,
    )
    summaries = await store.series_summaries()
    assert [(s.name, s.parts, s.latest) for s in summaries] == [("低秩近似之路", 3, "2024-10-30")]
    parts = await store.series_posts(summaries[0].key)
    assert [p.post.series.part for p in parts if p.post.series] == [1, 3, 4]


async def test_reader_growth_ranks_by_increase_over_the_period(db: Database) -> None:
    store = reads(db).posts
    week_ago = NOW - timedelta(days=7)
    await seed(
        db, [post(1, "a", "2025-01-01", readers=1000), post(2, "b", "2025-01-02", readers=10)], now=week_ago
    )
    await seed(
        db, [post(1, "a", "2025-01-01", readers=1050), post(2, "b", "2025-01-02", readers=500)], now=NOW
    )
    growth = await store.reader_growth(week_ago, NOW + timedelta(seconds=1))
    assert [(s.post.id, g) for s, g in growth] == [(2, 490), (1, 50)]


async def test_an_older_capture_neither_lowers_the_reader_count_nor_replaces_the_live_excerpt(
    db: Database,
) -> None:
    store = reads(db).posts
    live = post(
        10427,
        "低秩近似之路（三）：CR",
        "2024-10-11",
        readers=11871,
        excerpt="在《低秩近似之路（二）：SVD》中",
    )
    await seed(db, [live], now=NOW)
    stale = post(
        None,
        "低秩近似之路(三):CR",
        "2024-10-11",
        readers=9000,
        excerpt="在《低秩近似之路(二):SVD》中",
        live=False,
    )
    assert await seed(db, [stale], now=NOW + timedelta(days=1)) == (0, 0, 1)
    stored = await store.by_archive_id(10427)
    assert stored is not None
    assert (stored.post.readers, stored.post.excerpt) == (11871, "在《低秩近似之路（二）：SVD》中")
    assert [r for _, r in await store.reader_history(stored.pk)] == [11871]


async def test_a_capture_excerpt_stands_until_the_live_site_gives_one(db: Database) -> None:
    store = reads(db).posts
    await seed(
        db, [post(None, "低秩近似之路(四):ID", "2024-10-30", excerpt="捕获的摘要", live=False)], now=NOW
    )
    # /content.html knows the id but no excerpt: the capture's stays.
    await seed(db, [post(10501, "低秩近似之路（四）：ID", "2024-10-30")], now=NOW)
    stored = await store.by_archive_id(10501)
    assert stored is not None and stored.post.excerpt == "捕获的摘要"
    await seed(db, [post(10501, "低秩近似之路（四）：ID", "2024-10-30", excerpt="页面上的摘要")], now=NOW)
    stored = await store.by_archive_id(10501)
    assert stored is not None and stored.post.excerpt == "页面上的摘要"


async def test_a_yearless_entry_dated_by_the_archive_page_in_the_same_poll_is_new_in_any_order(
    tmp_path: Path,
) -> None:
    homepage = post(10910, "主页上的新文章", "--05-08", excerpt="主页摘要")
    archive = post(10910, "主页上的新文章", "2025-05-08")
    for name, batch in (("home-first", [homepage, archive]), ("archive-first", [archive, homepage])):
        async with database(tmp_path / f"{name}.sqlite3") as db:
            await ingest(db, [post(10900, "旧文", "2025-05-01")], now=NOW, tz=TZ, max_age_days=14)
            result = await ingest(db, batch, now=NOW, tz=TZ, max_age_days=14)
            assert [(s.post.id, s.post.date.iso(), s.post.excerpt) for s in result.new] == [
                (10910, "2025-05-08", "主页摘要")
            ], name
            assert (result.updated, result.unchanged) == (0, 0)


async def test_a_directory_that_does_not_exist_is_never_created(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "k.sqlite3"
    with pytest.raises(StorageError, match="does not exist"):
        await open_database(missing)
    assert not (tmp_path / "no").exists()
    with pytest.raises(StorageError, match="is a directory"):
        await open_database(tmp_path)
    a_file = tmp_path / "plain.txt"
    a_file.write_text("x")
    with pytest.raises(StorageError, match="is not a directory"):
        await open_database(a_file / "k.sqlite3")


async def test_a_poorer_source_never_makes_a_post_unfindable(db: Database) -> None:
    from storage.search import search

    long = "众所周知，低秩近似是矩阵分析的核心问题之一，本文从伪逆出发，讨论它的几种等价定义与计算方法。"
    await seed(db, [post(None, "低秩近似之路(一):伪逆", "2024-09-15", excerpt=long, live=False)], now=NOW)
    # The feed's one-line description of the same post, now with its id.
    await seed(db, [post(10366, "低秩近似之路（一）：伪逆", "2024-09-15", excerpt="众所周知……")], now=NOW)
    stored = await reads(db).posts.by_archive_id(10366)
    assert stored is not None and stored.post.excerpt == long
    assert [h.post.id for h in await search(db, "等价定义")] == [10366]
    # A rewritten, shorter excerpt is shown, and the old words still find the post.
    await seed(db, [post(10366, "低秩近似之路（一）：伪逆", "2024-09-15", excerpt="伪逆的定义。")], now=NOW)
    stored = await reads(db).posts.by_archive_id(10366)
    assert stored is not None and stored.post.excerpt == "伪逆的定义。"
    assert [h.post.id for h in await search(db, "等价定义")] == [10366]


async def test_the_store_finds_what_judging_a_page_needs_and_an_implausible_page_is_refused(
    db: Database,
) -> None:
    stored = [post(10366 + n, f"低秩近似之路（{'一二三'[n]}）：第{n}篇", f"2024-09-1{n}") for n in range(3)]
    assert await untrusted_reason(reads(db), []) is None  # an empty store: nothing yet, not a failure
    await seed(db, stored, now=NOW)
    assert await untrusted_reason(reads(db), []) == "the page lists no posts"
    fresh = post(10400, "低秩近似之路（四）：新", "2024-10-01")
    assert await untrusted_reason(reads(db), [fresh, *stored]) is None
    renumbered = [post(p.id + 1000 if p.id else None, p.title, p.date.iso()) for p in stored]
    reason = await untrusted_reason(reads(db), renumbered)
    assert reason is not None and "ids changed" in reason and "#10366 is now #11366" in reason
    garbled = [post(p.id, p.title.encode("utf-8").decode("latin-1"), p.date.iso()) for p in stored]
    reason = await untrusted_reason(reads(db), garbled)
    assert reason is not None and "wrong encoding" in reason
    assert (await reads(db).posts.count()) == 3  # judging writes nothing
