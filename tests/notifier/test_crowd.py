"""A crowd at the real `kexue-notifier run`, against a local Bot API enforcing Telegram's limits (30 a
second, one a second per chat, 429 with retry_after beyond them): every reader answered, in order, none
dropped, at the speed Telegram allows; a broadcast running meanwhile yields to the replies and still reaches
each subscriber once. Telegram's floor for N answers is N / 30 seconds."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from archive.model import Post, PostDate
from storage.db import Database
from storage.uow import unit_of_work
from tests.support.bot_api import BotApiServer, Fault, RateLimits, User
from tests.support.fixtures import make_feed_xml
from tests.support.service import Service, eventually, telegram_service
from tests.support.store import ingest

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 5, 10, 12, 0, tzinfo=TZ)
HEADLINE = "科学空间有新文章"
SENDING = frozenset({"sendMessage", "sendRichMessage"})


async def prepare(db: Database, subscribers: Sequence[int] = (), *, new_post: bool = False) -> None:
    """The store past its baseline poll, `subscribers` following everything, and the feed file beside it
    (holding one new post when `new_post`)."""
    old = Post(id=10000, title="旧文章", date=PostDate.from_iso("2025-05-01"), excerpt="旧。")
    await ingest(db, [old], now=NOW - timedelta(hours=1), tz=TZ, max_age_days=14)
    async with unit_of_work(db) as uow:
        for chat in subscribers:
            await uow.subscribers.start(chat, chat_type="private", lang="zh", now=NOW - timedelta(days=1))
            await uow.subscribers.follow_all(chat, NOW - timedelta(days=1))
    entries = [(10000, "旧文章", NOW - timedelta(days=9), "旧。")]
    if new_post:
        entries.insert(0, (10735, "MoE环游记：2、不患寡而患不均", NOW - timedelta(hours=2), "负载均衡。"))
    Path(db.path).with_name("feed.xml").write_bytes(make_feed_xml(entries))


def service(db: Database, api: BotApiServer) -> Service:
    """`kexue-notifier run` on the test's store, with the bot long-polling the local Bot API."""
    return telegram_service(db.path, api, NOW)


def answered_at(api: BotApiServer, chats: set[int], after: int) -> dict[int, float]:
    """When each of `chats` got its first message from call index `after` on."""
    found: dict[int, float] = {}
    for call in api.calls[after:]:
        if (
            call.chat_id in chats
            and call.chat_id not in found
            and call.method in SENDING
            and call.status == 200
        ):
            found[call.chat_id] = call.at
    return found


async def crowd(api: BotApiServer, users: list[User], text: str) -> tuple[dict[int, float], float]:
    """Every user writes `text` at once; (when each was answered, when they wrote)."""
    mark, queued = len(api.calls), api.clock()
    for user in users:
        api.send_text(user, None, text)
    chats = {user.id for user in users}
    await eventually(
        lambda: len(answered_at(api, chats, mark)) == len(chats), timeout=60, what=f"every answer to {text}"
    )
    return answered_at(api, chats, mark), queued


async def test_300_readers_who_start_then_subscribe_at_once_are_all_answered_near_the_floor(
    db: Database, bot_api: BotApiServer
) -> None:
    await prepare(db)
    bot_api.rate_limits = RateLimits()
    users = [bot_api.user(f"R{n}", language_code="en") for n in range(300)]
    floor = len(users) / 30
    async with service(db, bot_api) as svc:
        await bot_api.wait_for_poll(timeout=30)
        for text in ("/start", "/subscribe"):
            answers, queued = await crowd(bot_api, users, text)
            assert len(answers) == 300
            last = max(answers.values()) - queued
            assert last <= 1.5 * floor + 3, f"{text}: the last answer after {last:.1f} s"
            late = [c for c in bot_api.calls if c.status == 429 and c.at > queued + 1.0]
            assert not late, f"{len(late)} 429s past the first second"
        assert "TelegramRetryAfter" not in svc.log()
    # Every subscription was stored and told: one confirmation each, none twice.
    async with unit_of_work(db) as uow:
        for user in users[:20]:
            assert (await uow.subscribers.follows(user.id)).everything


async def test_40_readers_who_search_during_a_broadcast_wait_little_and_the_broadcast_goes_once(
    db: Database, bot_api: BotApiServer
) -> None:
    subscribers = list(range(9_300_001, 9_300_301))
    await prepare(db, subscribers, new_post=True)
    bot_api.rate_limits = RateLimits()
    searchers = [bot_api.user(f"S{n}", language_code="en") for n in range(40)]

    def broadcast() -> Counter[int]:
        return Counter(m.chat_id for m in bot_api.sent if m.plain.startswith(HEADLINE))

    async with service(db, bot_api):
        await bot_api.wait_for_poll(timeout=30)
        await eventually(lambda: len(broadcast()) >= 30, timeout=60, what="the broadcast under way")
        answers, queued = await crowd(bot_api, searchers, "/search 负载")
        waits = sorted(at - queued for at in answers.values())
        p95 = waits[int(0.95 * len(waits)) - 1]
        assert p95 <= 3.0, f"p95 {p95:.2f} s"
        # The broadcast was still going when they asked: they did not wait for its end.
        assert len(broadcast()) < len(subscribers)
        await eventually(lambda: len(broadcast()) == len(subscribers), timeout=90, what="the whole broadcast")
    assert set(broadcast()) == set(subscribers)
    assert all(n == 1 for n in broadcast().values())


async def test_a_429_storm_on_replies_loses_no_answer(db: Database, bot_api: BotApiServer) -> None:
    await prepare(db)
    users = [bot_api.user(f"T{n}", language_code="en") for n in range(20)]
    async with service(db, bot_api) as svc:
        await bot_api.wait_for_poll(timeout=30)
        # Every reply is answered 429 (retry after 1 s) for three seconds.
        bot_api.fail(Fault.too_many_requests(1), methods=["sendMessage"])
        mark, queued = len(bot_api.calls), bot_api.clock()
        for user in users:
            bot_api.send_text(user, None, "/help")
        await eventually(lambda: bot_api.too_many_requests > 0, what="the storm")
        await eventually(lambda: bot_api.clock() - queued >= 3.0, what="three seconds of storm")
        bot_api.recover()
        chats = {user.id for user in users}
        await eventually(lambda: len(answered_at(bot_api, chats, mark)) == len(chats), what="every answer")
        log = svc.log()
    assert "TelegramRetryAfter" not in log
    assert "dropped" not in log
    # One answer each: a retried reply is not sent twice.
    per_chat = Counter(m.chat_id for m in bot_api.sent)
    assert all(per_chat[user.id] == 1 for user in users)


async def test_ten_commands_in_a_second_are_answered_in_order(db: Database, bot_api: BotApiServer) -> None:
    await prepare(db)
    bot_api.rate_limits = RateLimits()
    reader = bot_api.user("Quick", language_code="en")
    words = [f"zq{n}x" for n in range(10)]
    async with service(db, bot_api):
        await bot_api.wait_for_poll(timeout=30)
        for word in words:
            bot_api.send_text(reader, None, f"/search {word}")
        await eventually(lambda: len(bot_api.messages(reader.id)) >= 10, timeout=30, what="ten answers")
    texts = [m.plain for m in bot_api.messages(reader.id)]
    assert len(texts) == 10
    for word, text in zip(words, texts, strict=True):
        assert word in text
    # Within the flood control (20 in 10 s): no notice among them, and Telegram's pace was kept.
    assert bot_api.too_many_requests == 0
