"""Selection against a real SQLite file: since the last digest, first digests, series follows, most read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from archive.identity import series_key
from archive.model import Post, PostDate
from digest.selection import DigestBuilder
from storage.db import Database, database
from storage.recipients import Recipient
from tests.support.store import ingest, reads, seed

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 3, 1, 9, 0, tzinfo=TZ)


def post(ident: int, title: str, day: str, readers: int | None = None, excerpt: str = "") -> Post:
    """A post as a parser would produce it."""
    return Post(
        id=ident,
        title=title,
        date=PostDate.from_iso(day),
        readers=readers,
        excerpt=excerpt,
    )


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A freshly migrated store in `tmp_path`."""
    async with database(tmp_path / "kexue.sqlite3") as opened:
        yield opened


def builder(db: Database) -> DigestBuilder:
    """A builder over `db` linking to kexue.fm."""
    return DigestBuilder(db, link_host="kexue.fm", tz=TZ, excerpt_chars=200)


def recipient(
    last: datetime | None, *, everything: bool = True, series: frozenset[str] = frozenset()
) -> Recipient:
    """A Telegram recipient that is not stored (selection reads only posts)."""
    return Recipient("telegram", 1, "42", "zh", last, everything, series)


async def test_first_digest_covers_the_last_seven_days(db: Database) -> None:

    await seed(
        db,
        [
            post(10592, "Muon优化器赏析：从向量到矩阵的本质跨越", "2025-02-10"),
            post(10699, "MoE环游记：1、从几何意义出发", "2025-02-23", excerpt="摘要$x^2$。"),
            post(10735, "MoE环游记：2、不患寡而患不均", "2025-02-28"),
        ],
        now=NOW - timedelta(days=60),
    )
    digest = await builder(db).for_recipient(recipient(None), NOW)
    assert digest is not None
    assert [p.title for p in digest.posts] == ["MoE环游记：1、从几何意义出发", "MoE环游记：2、不患寡而患不均"]
    assert digest.posts[0].excerpt == "摘要x²。"
    assert digest.posts[0].url == "https://kexue.fm/archives/10699"
    assert digest.start.isoformat() == "2025-02-22" and digest.end.isoformat() == "2025-03-01"


async def test_everything_since_the_last_digest_even_after_downtime(db: Database) -> None:

    last = NOW - timedelta(days=7)
    await seed(db, [post(10662, "低秩近似之路（五）：CUR", "2025-01-12")], now=last - timedelta(days=50))
    await seed(db, [post(10699, "MoE环游记：1、从几何意义出发", "2025-02-21")], now=last - timedelta(hours=1))
    # The service was down from the 22nd; on restart it finds two posts, one dated during the outage.
    await seed(
        db,
        [
            post(10735, "MoE环游记：2、不患寡而患不均", "2025-02-23"),
            post(10757, "MoE环游记：3、换个思路来分配", "2025-02-27"),
        ],
        now=NOW - timedelta(hours=2),
    )
    digest = await builder(db).for_recipient(recipient(last), NOW)
    assert digest is not None
    assert [p.url for p in digest.posts] == [
        "https://kexue.fm/archives/10735",
        "https://kexue.fm/archives/10757",
    ]


async def test_a_post_announced_after_the_last_digest_counts_even_if_dated_before(db: Database) -> None:

    last = NOW - timedelta(days=3)
    await seed(db, [post(1, "旧文", "2025-01-01")], now=NOW - timedelta(days=30))
    result = await ingest(
        db, [post(10800, "迟到的新文章", "2025-02-24")], now=NOW - timedelta(hours=1), tz=TZ, max_age_days=14
    )
    assert [s.post.id for s in result.new] == [10800]
    digest = await builder(db).for_recipient(recipient(last), NOW)
    assert digest is not None and [p.title for p in digest.posts] == ["迟到的新文章"]


async def test_nothing_new_means_no_digest(db: Database) -> None:

    await seed(db, [post(10699, "MoE环游记：1、从几何意义出发", "2025-02-21")], now=NOW - timedelta(days=9))
    assert await builder(db).for_recipient(recipient(NOW - timedelta(days=1)), NOW) is None
    # A backfill of old posts after the last digest is not news either.
    await seed(db, [post(3913, "【中文分词系列】 2. 基于切分的新词发现", "2016-08-18")], now=NOW)
    assert await builder(db).for_recipient(recipient(NOW - timedelta(days=1)), NOW) is None


async def test_followed_series_get_their_own_section_with_the_previous_part(db: Database) -> None:

    await seed(
        db,
        [
            post(10366, "低秩近似之路（一）：伪逆", "2024-09-15"),
            post(10427, "低秩近似之路（三）：CR", "2024-10-11"),
        ],
        now=NOW - timedelta(days=100),
    )
    await seed(
        db,
        [
            post(10501, "低秩近似之路（四）：ID", "2025-02-26"),
            post(10735, "MoE环游记：2、不患寡而患不均", "2025-02-27"),
        ],
        now=NOW - timedelta(days=1),
    )
    key = series_key("低秩近似之路")
    follower = recipient(NOW - timedelta(days=7), everything=False, series=frozenset({key}))
    digest = await builder(db).for_recipient(follower, NOW)
    assert digest is not None
    assert digest.posts == ()
    [part] = digest.series_updates
    assert part.series is not None and part.series.part == 4
    assert part.series.previous_url == "https://kexue.fm/archives/10427"
    both = recipient(NOW - timedelta(days=7), everything=True, series=frozenset({key}))
    digest = await builder(db).for_recipient(both, NOW)
    assert digest is not None
    assert [p.title for p in digest.posts] == ["MoE环游记：2、不患寡而患不均"]
    assert [p.title for p in digest.series_updates] == ["低秩近似之路（四）：ID"]


async def test_most_read_ranks_reader_growth_over_the_period(db: Database) -> None:

    start = NOW - timedelta(days=7)
    await seed(
        db,
        [
            post(10592, "Muon优化器赏析：从向量到矩阵的本质跨越", "2024-12-10", readers=10000),
            post(10347, "Decoder-only的LLM为什么需要位置编码？", "2024-09-01", readers=26000),
        ],
        now=start - timedelta(days=1),
    )
    await seed(
        db,
        [
            post(10592, "Muon优化器赏析：从向量到矩阵的本质跨越", "2024-12-10", readers=10900),
            post(10347, "Decoder-only的LLM为什么需要位置编码？", "2024-09-01", readers=26100),
            post(10735, "MoE环游记：2、不患寡而患不均", "2025-02-27", readers=500),
        ],
        now=NOW - timedelta(days=1),
    )
    await seed(db, [post(10735, "MoE环游记：2、不患寡而患不均", "2025-02-27", readers=800)], now=NOW)
    digest = await builder(db).for_recipient(recipient(start), NOW)
    assert digest is not None
    assert [(m.item.url, m.growth) for m in digest.most_read] == [
        ("https://kexue.fm/archives/10592", 900),
        ("https://kexue.fm/archives/10735", 300),
        ("https://kexue.fm/archives/10347", 100),
    ]


async def test_the_stored_excerpt_stays_as_published(db: Database) -> None:
    raw = "先算$\\boldsymbol{Q}\\boldsymbol{K}^{\\top}$。\n\n示意图\n\n示意图\n\n" + "很长的一句话。" * 60
    store = reads(db).posts
    await seed(db, [post(10800, "注意力的缩放", "2025-02-27", excerpt=raw)], now=NOW - timedelta(days=1))
    digest = await builder(db).for_recipient(recipient(None), NOW)
    assert digest is not None
    [item] = digest.posts
    assert item.excerpt.startswith("先算QKᵀ。\n示意图\n很长") and item.excerpt.endswith("…")
    stored = await store.by_archive_id(10800)
    assert stored is not None and stored.post.excerpt == raw
