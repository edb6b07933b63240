"""Watched words at fan-out: what matching every watch against a new post adds to the poll's transaction.

The store holds the real-size archive (1,330 posts) and 10,000 readers following everything. The baseline
is the same poll (one new post stored, claimed and fanned out in one unit of work) with no watch stored; then
1,000 of the readers hold 10 watches each (10,000 watches, CJK and English words, some matching). Figures:
the median poll transaction of each over a few polls, and their ratio (target: within 3x of the baseline, so
the write lock a poll holds stays short), plus the cost per watch.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from archive.model import Post, PostDate
from notifier.ingest.sightings import ingest_poll
from storage.db import Database, open_database
from storage.uow import unit_of_work

TZ = ZoneInfo("UTC")
NOW = datetime(2025, 5, 10, 12, 0, tzinfo=UTC)
ARCHIVE = 1_330
READERS = 10_000
WATCHERS = 1_000
WATCHES_EACH = 10
POLLS = 5
WORDS = ["梯度下降", "扩散模型", "Transformer", "位置编码", "LoRA", "矩阵", "优化器", "注意力", "熵", "概率"]


def archive_post(n: int) -> Post:
    """One old post of the synthetic archive."""
    word = WORDS[n % len(WORDS)]
    return Post(
        1000 + n, f"旧文{n}：{word}的笔记", PostDate(2020, 1 + n % 12, 1 + n % 28), excerpt=f"关于{word}。"
    )


async def poll(db: Database, n: int, at: datetime) -> float:
    """One poll finding one new post; the seconds its unit of work took."""
    word = WORDS[n % len(WORDS)]
    new = Post(9000 + n, f"新文{n}：再谈{word}", PostDate(2025, 5, 10), excerpt=f"{word}的新视角。")
    start = time.perf_counter()
    async with unit_of_work(db) as uow:
        await ingest_poll(uow, [new], now=at, tz=TZ, max_age_days=14)
    return time.perf_counter() - start


async def prepared(path: Path) -> Database:
    """The archive (as a baseline poll) and the readers."""
    db = await open_database(path)
    async with unit_of_work(db) as uow:
        await ingest_poll(uow, [archive_post(n) for n in range(ARCHIVE)], now=NOW, tz=TZ, max_age_days=14)
        await uow.subscribers.add_many(list(range(1, READERS + 1)), lang="zh", now=NOW)
    return db


async def bench() -> None:
    """Print the figures."""
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        db = await prepared(Path(tmp) / "k.sqlite3")
        try:
            at = NOW + timedelta(hours=1)
            baseline = [await poll(db, n, at + timedelta(minutes=n)) for n in range(POLLS)]
            async with unit_of_work(db) as uow:
                for reader in range(1, WATCHERS + 1):
                    found = await uow.subscribers.get(reader)
                    assert found is not None
                    for k in range(WATCHES_EACH):
                        words = f"{rng.choice(WORDS)} {rng.choice(WORDS)}" if k % 2 else f"词{reader}号{k}"
                        await uow.watches.add(found.id, words, NOW, limit=WATCHES_EACH * 2)
            at += timedelta(hours=1)
            watched = [await poll(db, POLLS + n, at + timedelta(minutes=n)) for n in range(POLLS)]
            async with db.conn.execute("SELECT count(*) FROM watches") as c:
                row = await c.fetchone()
            watches = int(row[0]) if row else 0
        finally:
            await db.close()
    base, with_watches = statistics.median(baseline), statistics.median(watched)
    print(f"poll of one new post, {READERS:,} readers following everything: {base * 1000:.1f} ms (baseline)")
    print(
        f"the same with {watches:,} watches matched in its transaction: {with_watches * 1000:.1f} ms, "
        f"ratio {with_watches / base:.2f} (target within 3.00); "
        f"{(with_watches - base) / max(watches, 1) * 1e6:.1f} µs per watch"
    )


def main() -> None:
    """Run the benchmark."""
    asyncio.run(bench())
