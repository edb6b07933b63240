"""Delivery against a real SQLite file and the local Bot API: fan-out, bursts, digests, Telegram's answers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from archive.identity import series_key
from archive.model import Post, PostDate
from archive.series import detect_series
from digest.render import Renderer
from notifier.config import TelegramConfig
from notifier.delivery import ChatLimits, Sender
from notifier.digests import due_moment, enqueue_due_digests, period_item
from notifier.telegram import Telegram, make_bot
from storage.db import Database, database
from storage.subscribers import Mode, Subscriber
from storage.uow import read_stores, unit_of_work
from tests.support.bot_api import BotApiServer, Fault
from tests.support.store import ingest

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 5, 10, 12, 0, tzinfo=TZ)
MOE_1 = "MoE环游记：1、从几何意义出发"
MOE_2 = "MoE环游记：2、不患寡而患不均"
EXCERPT = "注意力要除以$\\sqrt{d}$，否则$\\text{softmax}$会趋于one hot。"


def post(ident: int, title: str, day: str, excerpt: str = EXCERPT) -> Post:
    """A post as a parser would produce it."""
    return Post(id=ident, title=title, date=PostDate.from_iso(day), excerpt=excerpt)


BASELINE = [post(10000, "旧文章", "2025-01-01"), post(10699, MOE_1, "2025-02-21")]


async def reader(
    db: Database,
    chat_id: int,
    *,
    follows: str | None = "all",
    lang: str = "zh",
    mode: Mode = "instant",
    chat_type: str = "private",
    hour: int | None = None,
    day: int | None = None,
    now: datetime = NOW,
) -> Subscriber:
    """A reader who sent /start and follows everything (`all`), one series (by a post title) or nothing."""
    async with unit_of_work(db) as uow:
        started = await uow.subscribers.start(chat_id, chat_type=chat_type, lang=lang, now=now)
        if follows == "all":
            await uow.subscribers.follow_all(chat_id, now)
        elif follows is not None:
            found = detect_series(follows)
            assert found is not None
            await uow.subscribers.follow_series(chat_id, series_key(found.name), now)
        await uow.subscribers.set_language(chat_id, lang)
        if mode != "instant":
            await uow.subscribers.set_mode(chat_id, mode, hour=hour, day=day)
        return started.subscriber


async def baseline(db: Database) -> None:
    """The first poll: stores what the blog shows and announces nothing."""
    result = await ingest(db, BASELINE, now=NOW - timedelta(hours=1), tz=TZ, max_age_days=14)
    assert result.baseline and not result.new


async def rows(
    db: Database, sql: str = "SELECT recipient, item, kind, status FROM deliveries ORDER BY id"
) -> list[Any]:
    """Committed rows of a query, as tuples."""
    async with db.conn.execute(sql) as c:
        return [tuple(r) for r in await c.fetchall()]


async def eventually(probe: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Wait (without asserting any speed) until `probe()` is truthy; fail after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = probe()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)


async def settled(db: Database) -> bool:
    """No row waits or is in flight."""
    counts = await read_stores(db).deliveries.counts()
    return counts["pending"] + counts["failed"] + counts["sending"] == 0


@asynccontextmanager
async def sending(db: Database, server: BotApiServer, **options: Any) -> AsyncIterator[Sender]:
    """A running sender against the local Bot API, rates scaled up so tests take milliseconds."""
    bot = make_bot(TelegramConfig(server.token, server.base_url))
    settings: dict[str, Any] = {
        "db": db,
        "telegram": Telegram(bot, rich=bool(options.get("rich", False))),
        "renderer": Renderer(),
        "tz": TZ,
        "link_host": "kexue.fm",
        "excerpt_chars": 200,
        "clock": lambda: NOW,
        "rate": 2000.0,
        "concurrency": 8,
        "rich": False,
        "limits": ChatLimits(private_per_second=1000.0, group_per_minute=100_000),
        "poll_every": 0.05,
        "backoff_base": 0.05,
        "lease_ttl": 3.0,
    }
    settings.update(options)
    sender = Sender(**settings)
    task = asyncio.create_task(sender.run(), name="test-sender")
    try:
        yield sender
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await bot.session.close()


# --- fan-out ----------------------------------------------------------------------------------------


async def test_a_new_post_queues_one_row_per_matching_instant_reader_in_the_polls_transaction(
    db: Database,
) -> None:
    await baseline(db)
    await reader(db, 101)  # everything
    await reader(db, 102, follows=MOE_1)  # the MoE series
    await reader(db, 103, follows="低秩近似之路（一）：伪逆")  # another series: not for this post
    await reader(db, 104, mode="daily", hour=8)  # digests only
    await reader(db, 105, follows=None)  # follows nothing
    await reader(db, 106)
    async with unit_of_work(db) as uow:
        await uow.subscribers.block(106, NOW)

    # A poll whose transaction fails leaves neither the claim nor a delivery behind.
    with pytest.raises(RuntimeError):
        async with unit_of_work(db) as uow:
            from notifier.ingest.sightings import ingest_poll

            await ingest_poll(uow, [post(10735, MOE_2, "2025-05-10")], now=NOW, tz=TZ, max_age_days=14)
            raise RuntimeError("disk full")
    assert await rows(db) == []

    result = await ingest(db, [post(10735, MOE_2, "2025-05-10")], now=NOW, tz=TZ, max_age_days=14)
    assert [s.post.id for s in result.new] == [10735]
    pk = result.new[0].pk
    assert await rows(db) == [
        ("101", f"post:{pk}", "post", "pending"),
        ("102", f"post:{pk}", "post", "pending"),
    ]
    assert result.fan_out.posts == 2

    # The same post seen again is not new: nothing more is queued.
    again = await ingest(
        db, [post(10735, MOE_2, "2025-05-10")], now=NOW + timedelta(minutes=15), tz=TZ, max_age_days=14
    )
    assert not again.new and len(await rows(db)) == 2


async def test_more_than_three_new_posts_for_a_reader_go_as_one_burst_digest(db: Database) -> None:
    await baseline(db)
    await reader(db, 201)  # all four posts: a burst
    await reader(db, 202, follows=MOE_1)  # one of them: a single message
    new = [
        post(10735, MOE_2, "2025-05-07"),
        post(10736, "文章甲", "2025-05-08"),
        post(10737, "文章乙", "2025-05-09"),
        post(10738, "文章丙", "2025-05-10"),
    ]
    result = await ingest(db, new, now=NOW, tz=TZ, max_age_days=14, channel_id="@kexue_fm")
    pks = sorted(s.pk for s in result.new)
    found = await rows(db, "SELECT recipient, item, kind, payload FROM deliveries ORDER BY id")
    moe = next(s.pk for s in result.new if s.post.id == 10735)
    assert ("202", f"post:{moe}", "post", None) in found
    burst = [r for r in found if r[2] == "burst"]
    assert len(burst) == 1 and burst[0][0] == "201" and burst[0][1] == f"burst:{result.poll_id}"
    assert sorted(int(p) for p in burst[0][3].split(",")) == pks
    # The channel gets every post, each as its own message.
    assert sorted(r[1] for r in found if r[2] == "channel") == sorted(f"post:{pk}" for pk in pks)
    assert not [r for r in found if r[0] == "201" and r[2] == "post"]


# --- sending ------------------------------------------------------------------------------------------


async def test_every_reader_gets_the_post_once_with_a_read_button_in_their_language(
    db: Database, bot_api: BotApiServer
) -> None:
    await baseline(db)
    for chat in range(301, 321):
        await reader(db, chat, lang="en" if chat % 2 else "zh")
    result = await ingest(db, [post(10735, MOE_2, "2025-05-10")], now=NOW, tz=TZ, max_age_days=14)
    async with sending(db, bot_api):
        await eventually(lambda: settled(db))
    for chat in range(301, 321):
        messages = bot_api.messages(chat)
        assert len(messages) == 1, chat
        message = messages[0]
        assert MOE_2 in message.plain
        button = (message.reply_markup or {})["inline_keyboard"][0][0]
        assert button["text"] == ("Read the post" if chat % 2 else "阅读全文")
        assert button["url"] == "https://kexue.fm/archives/10735"
        # The excerpt's math is readable Unicode in the HTML rendering.
        assert "√d" in message.plain
    sent = await rows(db, "SELECT status, message_id FROM deliveries")
    assert {status for status, _ in sent} == {"sent"} and all(m is not None for _, m in sent)
    assert result.fan_out.posts == 20


async def test_a_429_makes_that_chat_wait_and_the_message_is_never_lost(
    db: Database, bot_api: BotApiServer
) -> None:
    await baseline(db)
    for chat in (401, 402, 403):
        await reader(db, chat)
    bot_api.fail(Fault.too_many_requests(1), chat_id=402, times=1)
    await ingest(db, [post(10735, MOE_2, "2025-05-10")], now=NOW, tz=TZ, max_age_days=14)
    async with sending(db, bot_api):
        await eventually(lambda: settled(db))
    assert [len(bot_api.messages(c)) for c in (401, 402, 403)] == [1, 1, 1]
    refused = [c for c in bot_api.calls_of("sendMessage") if c.chat_id == 402 and c.status == 429]
    accepted = [c for c in bot_api.calls_of("sendMessage") if c.chat_id == 402 and c.status == 200]
    # The retry came after retry_after, not before (the server would have answered 429 again).
    assert len(refused) == 1 and len(accepted) == 1
    assert accepted[0].at - refused[0].at >= 1.0
    assert await rows(db, "SELECT attempts FROM deliveries WHERE recipient = '402'") == [(1,)]


async def test_429s_across_several_chats_lower_the_global_rate(db: Database, bot_api: BotApiServer) -> None:
    await baseline(db)
    for chat in range(411, 421):
        await reader(db, chat)
    for chat in range(411, 415):
        bot_api.fail(Fault.too_many_requests(1), chat_id=chat, times=1)
    await ingest(db, [post(10735, MOE_2, "2025-05-10")], now=NOW, tz=TZ, max_age_days=14)
    async with sending(db, bot_api, rate=400.0) as sender:
        await eventually(lambda: sender.bucket.rate < 400.0)
        await eventually(lambda: settled(db))
    assert all(len(bot_api.messages(c)) == 1 for c in range(411, 421))


async def test_a_blocked_reader_turns_inactive_and_is_not_retried(
    db: Database, bot_api: BotApiServer
) -> None:
    await baseline(db)
    await reader(db, 501)
    await reader(db, 502)
    bot_api.fail(Fault.blocked(), chat_id=502)
    await ingest(db, [post(10735, MOE_2, "2025-05-10")], now=NOW, tz=TZ, max_age_days=14)
    await ingest(
        db, [post(10736, "又一篇", "2025-05-10")], now=NOW + timedelta(minutes=1), tz=TZ, max_age_days=14
    )
    # A chat's own pace (here two a second) keeps its second message back until the first was answered.
    async with sending(db, bot_api, limits=ChatLimits(private_per_second=2.0)):
        await eventually(lambda: settled(db))
    assert len(bot_api.messages(501)) == 2
    assert len([c for c in bot_api.calls if c.chat_id == 502]) == 1
    subscriber = await read_stores(db).subscribers.get(502)
    assert subscriber is not None and not subscriber.reachable
    dead = await rows(db, "SELECT status, last_error FROM deliveries WHERE recipient = '502'")
    assert [s for s, _ in dead] == ["dead", "dead"] and all(e.startswith("blocked") for _, e in dead)


async def test_chat_not_found_turns_the_reader_inactive(db: Database, bot_api: BotApiServer) -> None:
    await baseline(db)
    await reader(db, 511)
    bot_api.fail(Fault.chat_not_found(), chat_id=511)
    await ingest(db, [post(10735, MOE_2, "2025-05-10")], now=NOW, tz=TZ, max_age_days=14)
    async with sending(db, bot_api):
        await eventually(lambda: settled(db))
    subscriber = await read_stores(db).subscribers.get(511)
    assert subscriber is not None and not subscriber.reachable
    assert await rows(db, "SELECT status FROM deliveries") == [("dead",)]


async def test_a_migrated_group_moves_and_gets_the_message_at_its_new_id(
    db: Database, bot_api: BotApiServer
) -> None:
    await baseline(db)
    group = bot_api.group()
    new_id = -1_009_000_000_001
    await reader(db, group.id, chat_type="group")
    bot_api.fail(Fault.migrated(new_id), chat_id=group.id)
    await ingest(db, [post(10735, MOE_2, "2025-05-10")], now=NOW, tz=TZ, max_age_days=14)
    async with sending(db, bot_api):
        await eventually(lambda: settled(db))
    assert bot_api.messages(group.id) == []
    assert len(bot_api.messages(new_id)) == 1
    stores = read_stores(db).subscribers
    assert await stores.get(group.id) is None
    moved = await stores.get(new_id)
    assert moved is not None and moved.reachable
    assert await rows(db, "SELECT recipient, status FROM deliveries") == [(str(new_id), "sent")]


async def test_server_errors_are_retried_until_the_message_is_too_old_then_given_up_with_the_reason(
    db: Database, bot_api: BotApiServer
) -> None:
    await baseline(db)
    await reader(db, 601)
    await reader(db, 602)
    bot_api.fail(Fault.server_error(502, "Bad Gateway"), chat_id=601, times=2)
    bot_api.fail(Fault.server_error(500), chat_id=602)
    await ingest(db, [post(10735, MOE_2, "2025-05-10")], now=NOW, tz=TZ, max_age_days=14)
    started = time.monotonic()

    def clock() -> datetime:
        # The rows were queued at NOW; the sender's clock runs on from there, so they age.
        return NOW + timedelta(seconds=time.monotonic() - started)

    async with sending(db, bot_api, clock=clock, backoff_base=0.01, give_up_after=1.0):
        await eventually(lambda: settled(db))
    assert time.monotonic() - started >= 1.0
    assert len(bot_api.messages(601)) == 1
    assert bot_api.messages(602) == []
    # Retried for as long as the row was young enough, however many attempts that took (the old rule: 6).
    attempts = len([c for c in bot_api.calls if c.chat_id == 602])
    assert attempts >= 6
    found = dict(
        await rows(db, "SELECT recipient, status || ' ' || coalesce(last_error, '') FROM deliveries")
    )
    assert found["601"].startswith("sent")
    assert found["602"].startswith(f"dead server_error: gave up after {attempts} attempts in ")
    assert "Internal Server Error" in found["602"]
    subscriber = await read_stores(db).subscribers.get(602)
    assert subscriber is not None and subscriber.reachable
    counters = await read_stores(db).counters.all()
    assert counters[("messages_failed", "server_error")] == 2 + attempts
    assert counters[("messages_sent", "")] == 1


async def test_two_senders_on_one_database_send_each_message_once(
    tmp_path: Path, bot_api: BotApiServer
) -> None:
    path = tmp_path / "k.sqlite3"
    async with database(path) as first, database(path) as second:
        await baseline(first)
        for chat in range(701, 761):
            await reader(first, chat)
        await ingest(first, [post(10735, MOE_2, "2025-05-10")], now=NOW, tz=TZ, max_age_days=14)
        async with sending(first, bot_api, rate=300.0) as one, sending(second, bot_api, rate=300.0) as two:
            await eventually(lambda: settled(first))
            assert {one.sent, two.sent} == {0, 60}
        assert all(len(bot_api.messages(c)) == 1 for c in range(701, 761))
        lease = await read_stores(first).leases.get("sender")
        # The holder gave the lease up when it stopped.
        assert lease is None


async def test_a_lease_is_taken_over_only_once_its_holder_stops_renewing(db: Database) -> None:
    async with unit_of_work(db) as uow:
        assert await uow.leases.acquire("updates", "a", now=100.0, ttl=10.0)
        assert not await uow.leases.acquire("updates", "b", now=105.0, ttl=10.0)
        assert await uow.leases.acquire("updates", "a", now=108.0, ttl=10.0)  # renewed until 118
        assert not await uow.leases.acquire("updates", "b", now=117.0, ttl=10.0)
        assert await uow.leases.acquire("updates", "b", now=118.5, ttl=10.0)
        assert not await uow.leases.release("updates", "a")
        assert await uow.leases.release("updates", "b")
        assert await uow.leases.acquire("updates", "a", now=119.0, ttl=10.0)


# --- scheduled digests --------------------------------------------------------------------------------


def test_due_moments_of_daily_and_weekly_readers() -> None:
    def sub(mode: Mode, hour: int, day: int = 0) -> Subscriber:
        return Subscriber(1, 1, "private", "zh", False, mode, hour, day, True, None, NOW, None)

    saturday_noon = NOW  # 2025-05-10 is a Saturday
    assert due_moment(sub("daily", 8), saturday_noon, TZ) == datetime(2025, 5, 10, 8, tzinfo=TZ)
    assert due_moment(sub("daily", 20), saturday_noon, TZ) == datetime(2025, 5, 9, 20, tzinfo=TZ)
    assert due_moment(sub("weekly", 8, 0), saturday_noon, TZ) == datetime(2025, 5, 5, 8, tzinfo=TZ)
    assert due_moment(sub("weekly", 13, 5), saturday_noon, TZ) == datetime(2025, 5, 3, 13, tzinfo=TZ)
    assert due_moment(sub("instant", 8), saturday_noon, TZ) is None
    assert period_item(sub("daily", 8), datetime(2025, 5, 10, 8, tzinfo=TZ)) == "digest:2025-05-10"
    assert period_item(sub("weekly", 8), datetime(2025, 5, 5, 8, tzinfo=TZ)) == "digest:2025-W19"


async def test_digests_fall_due_once_and_a_restart_sends_what_fell_due_while_down(
    db: Database, bot_api: BotApiServer
) -> None:
    signed_up = NOW - timedelta(days=10)
    await reader(db, 801, mode="daily", hour=8, now=signed_up)  # due today at 08:00
    await reader(db, 802, mode="daily", hour=20, now=signed_up, lang="en")  # due yesterday 20:00
    await reader(db, 803, mode="weekly", hour=8, day=5, now=signed_up)  # Saturdays 08:00: today
    await reader(db, 804, mode="daily", hour=8, now=NOW - timedelta(minutes=5))  # signed up after 08:00
    await reader(db, 805, mode="instant", now=signed_up)
    await baseline(db)
    await ingest(
        db, [post(10735, MOE_2, "2025-05-10")], now=NOW - timedelta(minutes=30), tz=TZ, max_age_days=14
    )

    assert await enqueue_due_digests(db, NOW, TZ) == 3
    # The job runs every minute: a repeat queues nothing more.
    assert await enqueue_due_digests(db, NOW + timedelta(minutes=1), TZ) == 0
    queued = await rows(db, "SELECT recipient, item FROM deliveries WHERE kind = 'digest' ORDER BY recipient")
    assert queued == [("801", "digest:2025-05-10"), ("802", "digest:2025-05-09"), ("803", "digest:2025-W19")]

    async with sending(db, bot_api):
        await eventually(lambda: settled(db))
    for chat in (801, 802, 803):
        [message] = bot_api.messages(chat)
        assert MOE_2 in message.plain
    assert (
        "digest" in bot_api.messages(802)[0].plain.lower()
        or "Scientific Spaces" in bot_api.messages(802)[0].plain
    )
    # Sent, recorded in the database: the same day (a restart later) queues nothing again.
    assert await enqueue_due_digests(db, NOW + timedelta(hours=2), TZ) == 0
    # The next day: 801 and 802 have nothing new (recorded as done, no message); 804's first digest is due.
    tomorrow = NOW + timedelta(days=1)
    assert await enqueue_due_digests(db, tomorrow, TZ) == 3
    async with sending(db, bot_api, clock=lambda: tomorrow):
        await eventually(lambda: settled(db))
    assert [len(bot_api.messages(c)) for c in (801, 802, 803, 804)] == [1, 1, 1, 1]
    notes = await rows(
        db, "SELECT status, message_id, last_error FROM deliveries WHERE item LIKE 'digest:2025-05-1_'"
    )
    assert ("sent", None, "nothing new") in notes
    assert await enqueue_due_digests(db, tomorrow + timedelta(minutes=1), TZ) == 0


# --- rich messages ------------------------------------------------------------------------------------


async def test_rich_messages_carry_the_formulas_as_native_math(db: Database, bot_api: BotApiServer) -> None:
    await baseline(db)
    await reader(db, 901)
    await ingest(db, [post(10735, MOE_2, "2025-05-10")], now=NOW, tz=TZ, max_age_days=14)
    async with sending(db, bot_api, rich=True):
        await eventually(lambda: settled(db))
    [message] = bot_api.messages(901)
    assert message.method == "sendRichMessage"
    assert message.math == ("\\sqrt{d}", "\\text{softmax}")
    assert MOE_2 in message.plain
    assert (message.reply_markup or {})["inline_keyboard"][0][0]["text"] == "阅读全文"


async def test_where_rich_messages_are_refused_the_html_rendering_goes_and_the_chat_is_remembered(
    db: Database, bot_api: BotApiServer
) -> None:
    await baseline(db)
    await reader(db, 911)
    await reader(db, 912)
    bot_api.fail(
        Fault(400, "Bad Request: rich messages are not supported"), chat_id=911, methods=["sendRichMessage"]
    )
    await ingest(db, [post(10735, MOE_2, "2025-05-10")], now=NOW, tz=TZ, max_age_days=14)
    async with sending(db, bot_api, rich=True):
        await eventually(lambda: settled(db))
    assert [m.method for m in bot_api.messages(911)] == ["sendMessage"]
    assert "√d" in bot_api.messages(911)[0].plain
    assert [m.method for m in bot_api.messages(912)] == ["sendRichMessage"]
    assert await rows(db, "SELECT chat_id, rich_ok FROM subscribers ORDER BY chat_id") == [(911, 0), (912, 1)]
    # The next post goes to 911 as HTML straight away.
    await ingest(
        db, [post(10736, "又一篇", "2025-05-10")], now=NOW + timedelta(minutes=1), tz=TZ, max_age_days=14
    )
    async with sending(db, bot_api, rich=True):
        await eventually(lambda: settled(db))
    assert len([c for c in bot_api.calls_of("sendRichMessage") if c.chat_id == 911]) == 1
    assert [m.method for m in bot_api.messages(911)] == ["sendMessage", "sendMessage"]


async def test_an_api_server_without_rich_messages_gets_html(tmp_path: Path) -> None:
    async with database(tmp_path / "k.sqlite3") as db, BotApiServer(rich_messages=False) as server:
        await baseline(db)
        await reader(db, 921)
        await ingest(db, [post(10735, MOE_2, "2025-05-10")], now=NOW, tz=TZ, max_age_days=14)
        async with sending(db, server, rich=True):
            await eventually(lambda: settled(db))
        [message] = server.messages(921)
        assert message.method == "sendMessage" and "√d" in message.plain


async def test_a_database_that_fails_every_read_never_stops_the_sender_and_is_logged_once_a_minute(
    db: Database, bot_api: BotApiServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with sending(db, bot_api, poll_every=0.01) as sender:
        await eventually(lambda: sender._leased.is_set())
        # Cleared before the failure starts: under load the first outage line may come at once.
        caplog.clear()

        def outages() -> list[logging.LogRecord]:
            worker = "notifier.delivery.worker"
            return [r for r in caplog.records if r.name == worker and "trying again" in r.message]

        # The reader connection goes away for real: every look for due rows fails from now on.
        await db.conn.close()
        sender.wake()
        await eventually(outages)
        # Dozens of failed attempts later (one every 10 ms), still the one line of the first minute.
        await asyncio.sleep(0.5)
        assert len(outages()) == 1 and "1 failed attempt so far" in outages()[0].getMessage()
        (task,) = [t for t in asyncio.all_tasks() if t.get_name() == "test-sender"]
        assert not task.done()
