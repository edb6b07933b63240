"""Watches, pauses and email preferences on a real SQLite file: saving, matching at fan-out, once each."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from archive.model import Post, PostDate
from digest.selection import DigestBuilder
from storage.db import Database
from storage.preferences import EmailPreference, split_words
from storage.recipients import Recipient
from storage.uow import read_stores, unit_of_work
from storage.watches import MAX_WATCHES, WatchRefused, compile_words
from tests.support.store import ingest

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 5, 10, 12, 0, tzinfo=TZ)
FOLLOWER, WATCHER, OTHER = 101, 102, 103

GD = "梯度下降"
DM = "扩散模型"


def post(ident: int, title: str, excerpt: str, day: str = "2025-05-10") -> Post:
    """A post as a parser would produce it."""
    return Post(id=ident, title=title, date=PostDate.from_iso(day), excerpt=excerpt)


OLD = [post(10000, "旧文章：梯度下降的老话题", "很久以前的梯度下降", "2025-01-01")]


async def reader(db: Database, chat_id: int, *, follows_all: bool = False, watch: str | None = None) -> int:
    """A reader who sent /start, perhaps following everything and watching some words; their row id."""
    async with unit_of_work(db) as uow:
        started = await uow.subscribers.start(chat_id, chat_type="private", lang="zh", now=NOW)
        if follows_all:
            await uow.subscribers.follow_all(chat_id, NOW)
        if watch is not None:
            await uow.watches.add(started.subscriber.id, watch, NOW)
        return started.subscriber.id


async def rows(db: Database, sql: str) -> list[Any]:
    """Committed rows of a query, as tuples."""
    async with db.conn.execute(sql) as c:
        return [tuple(r) for r in await c.fetchall()]


async def three_readers(db: Database) -> None:
    """The baseline poll and the three readers of the feature's scenario."""
    await ingest(db, OLD, now=NOW - timedelta(hours=2), tz=TZ, max_age_days=14)
    await reader(db, FOLLOWER, follows_all=True, watch=GD)
    await reader(db, WATCHER, watch=GD)
    await reader(db, OTHER, watch=DM)


def test_words_compile_to_terms_and_an_all_terms_expression() -> None:
    compiled = compile_words("  Transformer   梯度下降 ")
    assert compiled.query == "Transformer 梯度下降"
    assert compiled.terms == "transformer 梯度下降"
    assert compiled.match == '("transformer") AND ("梯度 度下 下降")'
    # FTS5 syntax typed by a reader is only words: quotes, stars and NEAR are not operators.
    assert compile_words('"a" OR b*').match == '("a") AND ("or") AND ("b")'


@pytest.mark.parametrize(("words", "reason"), [("", "empty"), ("!!! ……", "empty"), ("梯" * 65, "too_long")])
def test_bad_words_are_refused_with_a_reason(words: str, reason: str) -> None:
    with pytest.raises(WatchRefused) as refused:
        compile_words(words)
    assert refused.value.reason == reason


async def test_a_watch_is_saved_once_per_reader_up_to_ten(db: Database) -> None:
    rid = await reader(db, WATCHER)
    async with unit_of_work(db) as uow:
        first = await uow.watches.add(rid, "LoRA", NOW)
        again = await uow.watches.add(rid, "  lora ", NOW)
    assert first.created and not again.created and again.watch.id == first.watch.id
    async with unit_of_work(db) as uow:
        for n in range(MAX_WATCHES - 1):
            await uow.watches.add(rid, f"word{n}x", NOW)
        with pytest.raises(WatchRefused) as refused:
            await uow.watches.add(rid, "one too many", NOW)
    assert refused.value.reason == "too_many"
    assert len(await read_stores(db).watches.of(rid)) == MAX_WATCHES
    assert await read_stores(db).watches.readers_with_watches() == 1


async def test_a_reader_removes_only_their_own_watch(db: Database) -> None:
    mine, theirs = await reader(db, WATCHER, watch=GD), await reader(db, OTHER, watch=DM)
    their_watch = (await read_stores(db).watches.of(theirs))[0]
    async with unit_of_work(db) as uow:
        assert await uow.watches.remove(mine, their_watch.id) is None
        removed = await uow.watches.remove(theirs, their_watch.id)
        assert removed is not None and removed.query == DM
        assert await uow.watches.remove(theirs, their_watch.id) is None


async def test_fan_out_reaches_watchers_once_each_and_names_the_words(db: Database) -> None:
    await three_readers(db)
    result = await ingest(
        db, [post(10800, "再谈梯度下降的收敛", "本文讨论梯度下降。")], now=NOW, tz=TZ, max_age_days=14
    )
    pk = result.new[0].pk
    delivered = await rows(db, "SELECT recipient, item FROM deliveries ORDER BY recipient")
    assert delivered == [(str(FOLLOWER), f"post:{pk}"), (str(WATCHER), f"post:{pk}")]
    stores = read_stores(db)
    assert await stores.watches.words_for(FOLLOWER, pk) == [GD]
    assert await stores.watches.words_for(WATCHER, pk) == [GD]
    assert await stores.watches.words_for(OTHER, pk) == []

    diffusion = await ingest(
        db,
        [post(10801, "扩散模型漫谈（三十）", "又一篇扩散模型。")],
        now=NOW + timedelta(hours=1),
        tz=TZ,
        max_age_days=14,
    )
    dpk = diffusion.new[0].pk
    assert await rows(db, f"SELECT recipient FROM deliveries WHERE item = 'post:{dpk}' ORDER BY 1") == [
        (str(FOLLOWER),),
        (str(OTHER),),
    ]


async def test_a_watch_never_fires_for_old_posts_nor_twice(db: Database) -> None:
    await three_readers(db)
    # The old post mentions the words but was stored before: nothing, ever.
    assert await rows(db, "SELECT * FROM watch_hits") == []
    async with unit_of_work(db) as uow:
        assert await uow.watches.match_new([1], NOW) == 0
    result = await ingest(db, [post(10800, "梯度下降", "梯度下降")], now=NOW, tz=TZ, max_age_days=14)
    async with unit_of_work(db) as uow:
        # Matching the same post again (a second process, a retried transaction) writes nothing.
        assert await uow.watches.match_new([result.new[0].pk], NOW) == 0
    assert len(await rows(db, "SELECT * FROM watch_hits")) == 2


async def test_a_long_cjk_term_matches_as_a_whole(db: Database) -> None:
    await three_readers(db)
    result = await ingest(db, [post(10800, "梯度的下降方向", "梯度与下降")], now=NOW, tz=TZ, max_age_days=14)
    assert result.new and await rows(db, "SELECT * FROM watch_hits") == []
    assert await rows(db, "SELECT recipient FROM deliveries") == [(str(FOLLOWER),)]


async def test_a_paused_reader_gets_nothing_then_what_was_missed(db: Database) -> None:
    await three_readers(db)
    async with unit_of_work(db) as uow:
        assert await uow.pauses.pause(WATCHER, NOW, NOW + timedelta(days=1))
    result = await ingest(
        db, [post(10800, "梯度下降", "梯度下降")], now=NOW + timedelta(hours=1), tz=TZ, max_age_days=14
    )
    assert await rows(db, "SELECT recipient FROM deliveries") == [(str(FOLLOWER),)]
    stores = read_stores(db)
    assert await stores.pauses.ended(NOW + timedelta(hours=2), 10) == []
    ended = await stores.pauses.ended(NOW + timedelta(days=1), 10)
    assert [r.chat_id for r in ended] == [WATCHER]
    missed = await stores.pauses.missed(ended[0].id, ended[0].paused_since or NOW, NOW + timedelta(days=1))
    assert missed == [result.new[0].pk]
    async with unit_of_work(db) as uow:
        await uow.pauses.finish(ended[0].id)
    after = await read_stores(db).subscribers.get(WATCHER)
    assert after is not None and not after.paused


async def test_resume_ends_a_pause_without_end(db: Database) -> None:
    await three_readers(db)
    async with unit_of_work(db) as uow:
        await uow.pauses.pause(OTHER, NOW, None)
        assert not await uow.pauses.resume(WATCHER, NOW)
    assert await read_stores(db).pauses.ended(NOW + timedelta(days=300), 10) == []
    async with unit_of_work(db) as uow:
        assert await uow.pauses.resume(OTHER, NOW + timedelta(hours=3))
    assert [r.chat_id for r in await read_stores(db).pauses.ended(NOW + timedelta(hours=3), 10)] == [OTHER]


async def test_time_zone_is_stored(db: Database) -> None:
    await reader(db, WATCHER)
    async with unit_of_work(db) as uow:
        assert await uow.pauses.set_time_zone(WATCHER, "UTC-05:00")
    found = await read_stores(db).subscribers.get(WATCHER)
    assert found is not None and found.time_zone == "UTC-05:00"


async def test_email_preferences_round_trip_and_match_words(db: Database) -> None:
    await ingest(db, OLD, now=NOW - timedelta(hours=2), tz=TZ, max_age_days=14)
    result = await ingest(
        db,
        [post(10800, "梯度下降", "梯度下降"), post(10801, "扩散模型", "扩散模型与 DDPM")],
        now=NOW,
        tz=TZ,
        max_age_days=14,
    )
    pks = [s.pk for s in result.new]
    async with unit_of_work(db) as uow:
        signed = await uow.emails.sign_up("reader@example.org", lang="zh", now=NOW)
        assert (await uow.preferences.get(signed.email.id)).scope == "all"
        await uow.preferences.put(
            EmailPreference(signed.email.id, "only", ("k",), split_words("扩散模型\nddpm")), NOW
        )
    stored = await read_stores(db).preferences.get(signed.email.id)
    assert stored == EmailPreference(signed.email.id, "only", ("k",), ("扩散模型", "ddpm"))
    assert await read_stores(db).preferences.matching(stored.words, pks) == {pks[1]}
    with pytest.raises(WatchRefused):
        split_words("梯" * 70)


async def test_a_digest_reader_finds_watched_posts_in_their_digest_and_forget_removes_watches(
    db: Database,
) -> None:
    await ingest(db, OLD, now=NOW - timedelta(hours=2), tz=TZ, max_age_days=14)
    rid = await reader(db, WATCHER, watch=GD)
    async with unit_of_work(db) as uow:
        await uow.subscribers.set_mode(WATCHER, "daily", hour=8)
    result = await ingest(
        db,
        [post(10800, "梯度下降", "梯度下降"), post(10801, "别的", "无关")],
        now=NOW,
        tz=TZ,
        max_age_days=14,
    )
    # A digest reader gets no instant row, and is due for digests with a watch alone.
    assert await rows(db, "SELECT * FROM deliveries") == []
    assert [r.chat_id for r in await read_stores(db).subscribers.digest_readers(0, 10)] == [WATCHER]
    recipient = Recipient("telegram", rid, str(WATCHER), "zh", NOW - timedelta(days=1), False, frozenset())
    digest = await DigestBuilder(db, link_host="kexue.fm", tz=TZ).for_recipient(
        recipient, NOW + timedelta(hours=1)
    )
    assert digest is not None and [item.title for item in digest.posts] == [result.new[0].post.title]
    async with unit_of_work(db) as uow:
        assert await uow.subscribers.forget(WATCHER)
    assert await rows(db, "SELECT * FROM watches") == [] and await rows(db, "SELECT * FROM watch_hits") == []


async def test_one_character_and_whole_word_watches_match_as_search_does(db: Database) -> None:
    await ingest(db, OLD, now=NOW - timedelta(hours=2), tz=TZ, max_age_days=14)
    await reader(db, WATCHER, watch="熵")
    await reader(db, OTHER, watch="LoRA")
    entropy = await ingest(db, [post(10800, "最大熵原理", "从最大熵谈起")], now=NOW, tz=TZ, max_age_days=14)
    explore = await ingest(
        db,
        [post(10801, "Exploration", "about exploration")],
        now=NOW + timedelta(hours=1),
        tz=TZ,
        max_age_days=14,
    )
    lora = await ingest(
        db,
        [post(10802, "ＬｏＲＡ 的低秩", "lora rank")],
        now=NOW + timedelta(hours=2),
        tz=TZ,
        max_age_days=14,
    )
    found = await rows(db, "SELECT recipient, item FROM deliveries ORDER BY id")
    assert found == [
        (str(WATCHER), f"post:{entropy.new[0].pk}"),
        (str(OTHER), f"post:{lora.new[0].pk}"),
    ]
    assert explore.new
