"""The service layer over a real SQLite file: results as data, readers' subscriptions, and concurrency."""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import sys
import textwrap
from collections.abc import AsyncIterator, Awaitable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from archive.model import Post, PostDate
from notifier.bootstrap import App, open_app
from notifier.services import InvalidRequest, SeriesMatch
from notifier.settings import Settings
from storage.subscribers import FollowChange
from tests.support.store import seed

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 5, 10, 12, 0, tzinfo=TZ)
POSTS = [
    Post(10366, "低秩近似之路（一）：伪逆", PostDate(2024, 9, 15), excerpt="伪逆的几种定义。"),
    Post(10427, "低秩近似之路（三）：CR", PostDate(2024, 10, 11), excerpt="矩阵乘法的近似。"),
    Post(10699, "MoE环游记：1、从几何意义出发", PostDate(2025, 2, 8), excerpt="混合专家模型。"),
    Post(10735, "MoE环游记：2、不患寡而患不均", PostDate(2025, 2, 21), excerpt="负载均衡。"),
    Post(10592, "Muon优化器赏析：从向量到矩阵的本质跨越", PostDate(2024, 12, 10), excerpt="矩阵的优化器。"),
]


@pytest.fixture
async def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[App]:
    """The application over a real file, its clock at NOW, seeded with POSTS."""
    for name in list(os.environ):
        if name.startswith(("KEXUE_", "POLL_", "LINK_", "TIME_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("KEXUE_NOW", NOW.isoformat())
    monkeypatch.chdir(tmp_path)
    async with open_app(Settings(), db_path=str(tmp_path / "k.sqlite3")) as opened:
        await seed(opened.db, POSTS, now=NOW)
        yield opened


async def test_results_are_data(app: App) -> None:
    latest = await app.services.archive.latest(2)
    assert [s.post.id for s in latest] == [10735, 10699]
    hits = await app.services.archive.search("负载均衡")
    assert hits[0].post.id == 10735
    assert [s.name for s in await app.services.archive.series_index()] == ["MoE环游记", "低秩近似之路"]


async def test_find_series_by_spelling_prefix_ambiguity_and_absence(app: App) -> None:
    found = await app.services.archive.find_series("ｍｏｅ环游记")
    assert found.match is SeriesMatch.FOUND and found.detail is not None
    assert [s.post.id for s in found.detail.posts] == [10699, 10735] and found.detail.missing == []
    gaps = await app.services.archive.find_series("低秩")
    assert gaps.detail is not None and gaps.detail.missing == [2]
    await seed(app.db, [Post(1, "低温物理：1、导论", PostDate(2020, 1, 1))], now=NOW)
    ambiguous = await app.services.archive.find_series("低")
    assert ambiguous.match is SeriesMatch.AMBIGUOUS
    assert {s.name for s in ambiguous.candidates} == {"低秩近似之路", "低温物理"}
    assert (await app.services.archive.find_series("不存在的系列")).match is SeriesMatch.NOT_FOUND
    with pytest.raises(InvalidRequest):
        await app.services.archive.find_series("  ")


async def test_requests_out_of_range_are_refused_as_data_errors(app: App) -> None:
    for call in (
        app.services.archive.latest(0),
        app.services.archive.latest(10**20),
        app.services.archive.search(""),
        app.services.archive.search("矩阵", offset=2**63 - 1),
    ):
        with pytest.raises(InvalidRequest):
            await call
    # A pasted paragraph is searched by its first 200 characters, not refused.
    assert await app.services.archive.search("x" * 201) == []


async def test_subscribe_and_unsubscribe_say_what_changed(app: App) -> None:
    services = app.services
    started = await services.readers.start(42, chat_type="private", lang="en")
    assert started.started.created and started.started.subscriber.lang == "en"
    assert (await services.readers.subscribe(42)).change is FollowChange.ADDED
    assert (await services.readers.subscribe(42)).change is FollowChange.ALREADY
    moe = await services.readers.subscribe(42, "moe环游")
    assert moe.change is FollowChange.ADDED and moe.series is not None and moe.series.name == "MoE环游记"
    nowhere = await services.readers.subscribe(42, "不存在")
    assert nowhere.change is None and nowhere.lookup is not None
    assert nowhere.lookup.match is SeriesMatch.NOT_FOUND
    state = await services.readers.reader(42)
    assert state.follows.everything and state.follows.series_keys == {moe.series.key}
    assert (await services.readers.unsubscribe(42, "MoE环游记")).change is FollowChange.REMOVED
    assert (await services.readers.unsubscribe(42)).change is FollowChange.REMOVED
    assert (await services.readers.unsubscribe(42)).change is FollowChange.NOT_FOLLOWING
    # A group that never sent /start can subscribe at once.
    assert (await services.readers.subscribe(-100123, chat_type="supergroup")).change is FollowChange.ADDED


async def test_a_deep_link_follows_its_series_and_settings_persist(app: App) -> None:
    services = app.services
    moe = await services.archive.find_series("MoE环游记")
    assert moe.detail is not None
    series_id = await app.reads.subscribers.series_id(moe.detail.summary.key)
    assert series_id is not None
    result = await services.readers.start(7, chat_type="private", lang="zh", series_id=series_id)
    assert result.change is FollowChange.ADDED and result.series is not None
    assert (await services.readers.start(7, chat_type="private", lang="zh", series_id=99999)).change is (
        FollowChange.UNKNOWN_SERIES
    )
    weekly = await services.readers.set_mode(7, "weekly", hour=8, day=0)
    assert (weekly.mode, weekly.digest_hour, weekly.digest_day) == ("weekly", 8, 0)
    with pytest.raises(InvalidRequest):
        await services.readers.set_mode(7, "daily", hour=24)
    assert (await services.readers.set_language(7, "en")).lang == "en"
    assert await services.readers.forget(7)
    assert (await services.readers.reader(7)).subscriber is None
    assert not await services.readers.forget(7)


async def test_a_read_never_sees_another_coroutines_half_written_transaction(app: App) -> None:
    inside = asyncio.Event()
    release = asyncio.Event()

    async def slow_writer() -> None:
        async with app.uow() as uow:
            await uow.posts.insert(Post(20000, "尚未提交的文章", PostDate(2025, 5, 10)), NOW)
            await uow.subscribers.start(555, chat_type="private", lang="zh", now=NOW)
            inside.set()
            await release.wait()

    writer = asyncio.create_task(slow_writer())
    await inside.wait()
    # Mid-transaction: the reads see only what was committed, and they do not wait for the writer.
    assert 20000 not in [s.post.id for s in await app.services.archive.latest(10)]
    assert await app.services.archive.search("尚未提交") == []
    assert (await app.services.readers.reader(555)).subscriber is None
    # A second writer queues behind the first instead of failing inside its transaction.
    second = asyncio.create_task(app.services.readers.subscribe(556))
    await asyncio.sleep(0.05)
    assert not second.done()
    release.set()
    await writer
    assert (await second).change is FollowChange.ADDED
    assert (await app.services.archive.latest(1))[0].post.id == 20000
    assert (await app.services.readers.reader(555)).subscriber is not None


async def test_a_failed_unit_of_work_leaves_nothing_behind(app: App) -> None:
    with pytest.raises(RuntimeError):
        async with app.uow() as uow:
            await uow.subscribers.start(777, chat_type="private", lang="zh", now=NOW)
            raise RuntimeError("crash half-way")
    assert (await app.services.readers.reader(777)).subscriber is None
    # The connection is usable afterwards.
    assert (await app.services.readers.subscribe(777)).change is FollowChange.ADDED


async def test_hundreds_of_mixed_concurrent_reads_and_writes_in_one_process(app: App) -> None:
    services = app.services
    rng = random.Random(7)
    chats = list(range(1, 121))
    calls: list[Awaitable[object]] = []
    subscribed: set[int] = set()
    for n in range(600):
        chat = rng.choice(chats)
        kind = n % 8
        if kind == 0:
            subscribed.add(chat)
            calls.append(services.readers.subscribe(chat))
        elif kind == 1:
            subscribed.add(chat)
            calls.append(services.readers.subscribe(chat, "MoE环游记"))
        elif kind == 2:
            calls.append(services.archive.latest(3))
        elif kind == 3:
            calls.append(services.archive.search("矩阵"))
        elif kind == 4:
            calls.append(services.archive.find_series("低秩"))
        elif kind == 5:
            calls.append(services.readers.start(chat, chat_type="private", lang="en"))
        elif kind == 6:
            calls.append(seed(app.db, [Post(30000 + n, f"并发写入的文章{n}", PostDate(2025, 5, 1))], now=NOW))
        else:
            calls.append(services.readers.reader(chat))
    results = await asyncio.gather(*calls, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    assert await services.archive.post_count() == len(POSTS) + 75
    followers = {chat for chat in chats if (await services.readers.reader(chat)).follows.anything}
    assert followers == subscribed


WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from archive.model import Post, PostDate
    from notifier.bootstrap import open_app
    from notifier.settings import Settings
    from tests.support.store import seed

    async def main(tag: int, path: str) -> None:
        async with open_app(Settings(), db_path=path) as app:
            for n in range(150):
                chat = tag * 100_000 + n
                await app.services.readers.subscribe(chat)
                if n % 3 == 0:
                    post = Post(tag * 100_000 + n, f"进程{tag}的文章{n}", PostDate(2025, 5, 1))
                    await seed(app.db, [post], now=app.clock())
                await app.services.archive.latest(5)

    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
    """
)


async def test_two_processes_writing_at_once_lose_nothing(app: App, tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(script),
            str(tag),
            app.config.db_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for tag in (1, 2)
    ]
    outputs = [await asyncio.wait_for(p.communicate(), timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()
    with sqlite3.connect(app.config.db_path) as conn:
        subscribers = conn.execute("SELECT count(*) FROM subscribers").fetchone()[0]
        follows = conn.execute("SELECT count(*) FROM subscriptions WHERE kind = 'all'").fetchone()[0]
        posts = conn.execute("SELECT count(*) FROM posts WHERE archive_id >= 100000").fetchone()[0]
    assert (subscribers, follows, posts) == (300, 300, 100)
