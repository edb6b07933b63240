"""Telegram faults against the real `kexue-notifier run`: 429 storms, 5xx for minutes, every chat blocked,
slow answers, a migrated group, and a seeded mixture of them (kill -9: tests/notifier/test_delivery_crash.py).

Each test stores readers and a feed file holding one new post, starts the service against the local Bot API
(`tests/support/bot_api/`) with faults armed, and counts what the Bot API accepted: every reachable reader
gets the post exactly once (the delivery issue allows repeats only of messages in flight at a kill), and the
`/metrics` counters agree with what the Bot API answered.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from archive.model import Post, PostDate
from storage.db import Database
from storage.deliveries import Status
from storage.subscribers import Subscriber
from storage.uow import read_stores, unit_of_work
from tests.support.bot_api import BotApiServer, Fault
from tests.support.fixtures import make_feed_xml
from tests.support.service import Service, eventually, telegram_service
from tests.support.store import ingest

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 5, 10, 12, 0, tzinfo=TZ)
TITLE = "MoE环游记：2、不患寡而患不均"
HEADLINE = "科学空间有新文章"
FIRST_PRIVATE = 9_200_001
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def prepare(db: Database, chats: Sequence[tuple[int, str]]) -> None:
    """The store past its baseline poll with these (chat id, chat type) readers following everything, and a
    feed file beside it holding one new post."""
    old = Post(id=10000, title="旧文章", date=PostDate.from_iso("2025-05-01"), excerpt="旧。")
    await ingest(db, [old], now=NOW - timedelta(hours=1), tz=TZ, max_age_days=14)
    async with unit_of_work(db) as uow:
        for chat, kind in chats:
            await uow.subscribers.start(chat, chat_type=kind, lang="zh", now=NOW - timedelta(days=1))
            await uow.subscribers.follow_all(chat, NOW - timedelta(days=1))
    feed = make_feed_xml(
        [
            (10735, TITLE, NOW - timedelta(hours=2), "负载均衡的$\\text{aux loss}$。"),
            (10000, "旧文章", NOW - timedelta(days=9), "旧。"),
        ]
    )
    Path(db.path).with_name("feed.xml").write_bytes(feed)


def private(count: int) -> list[tuple[int, str]]:
    """`count` private chats."""
    return [(FIRST_PRIVATE + n, "private") for n in range(count)]


# /metrics answers only with this bearer token.
METRICS_TOKEN = "faults-scrape-token"


def service(db: Database, api: BotApiServer, **env: str) -> Service:
    """`kexue-notifier run` on the test's store, polling the feed file once (at start) and sending through
    the local Bot API. The test keeps its own connections open: opening the file again for every look
    would run the migration check's write transactions against the service's."""
    return telegram_service(db.path, api, NOW, METRICS_TOKEN=METRICS_TOKEN, **env)


def received(api: BotApiServer) -> Counter[int]:
    """How many copies of the new post each chat accepted."""
    return Counter(m.chat_id for m in api.sent if m.plain.startswith(HEADLINE))


def answered(api: BotApiServer, status: int) -> int:
    """sendMessage calls the Bot API answered with `status`."""
    return sum(1 for call in api.calls_of("sendMessage") if call.status == status)


async def outbox(db: Database) -> dict[Status, int]:
    """The Telegram rows by state, as the running service committed them."""
    return await read_stores(db).deliveries.counts()


async def settled(db: Database) -> bool:
    """The poll queued its rows, and none waits or is in flight."""
    counts = await outbox(db)
    return sum(counts.values()) > 0 and counts["pending"] + counts["failed"] + counts["sending"] == 0


async def reader(db: Database, chat: int) -> Subscriber | None:
    """A reader as stored."""
    return await read_stores(db).subscribers.get(chat)


async def scrape(svc: Service) -> Samples:
    """`/metrics` of the running service, as (sample name, labels) → value."""
    found = re.findall(r"web app listening on (http://\S+)", svc.log())
    assert found, f"the web app did not start:\n{svc.log()[-2000:]}"
    bearer = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(found[-1] + "/metrics", headers=bearer) as response,
    ):
        assert response.status == 200
        text = await response.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def failed(samples: Samples, reason: str) -> float:
    """kexue_messages_failed_total for one reason."""
    return samples[("kexue_messages_failed_total", (("reason", reason),))]


async def test_a_429_storm_slows_the_service_down_delivers_once_and_is_counted_in_metrics(
    db: Database, bot_api: BotApiServer
) -> None:
    chats = private(20)
    await prepare(db, chats)
    # Every chat is answered 429 (retry after 1 s) until the storm ends.
    bot_api.fail(Fault.too_many_requests(1), methods=["sendMessage"])
    async with service(db, bot_api) as svc:
        await eventually(lambda: answered(bot_api, 429) > 0, what="the first 429")
        storm_start = bot_api.calls_of("sendMessage")[0].at
        await eventually(
            lambda: bot_api.clock() - storm_start >= 3.0, timeout=60, what="three seconds of storm"
        )
        bot_api.recover()
        storm = bot_api.clock() - storm_start
        during = len(bot_api.calls_of("sendMessage"))
        await eventually(lambda: len(received(bot_api)) == len(chats), timeout=60, what="every reader")
        await eventually(lambda: settled(db), what="the outbox to settle")
        first = await scrape(svc)

        # SEND_RATE (25/s) would have made about 75 calls in the storm; the sender halved its rate as the
        # 429s came from chat after chat, down to about one a second.
        assert during <= 25 * storm / 2, f"{during} calls in a {storm:.1f} s storm"
        assert "rate lowered to" in svc.log()
        assert all(n == 1 for n in received(bot_api).values())
        too_many = answered(bot_api, 429)
        assert too_many == during
        assert first[("kexue_telegram_429_total", ())] == too_many
        assert failed(first, "429") == too_many
        assert first[("kexue_messages_sent_total", ())] == len(chats)
        assert failed(first, "server_error") == failed(first, "blocked") == 0
        assert first[("kexue_emails_sent_total", ())] == first[("kexue_emails_bounced_total", ())] == 0

    # What /metrics showed is what the database holds (it reads the table at scrape time), so a restart or
    # a second process reports the same numbers.
    stored = await read_stores(db).counters.all()
    assert stored == {
        ("telegram_429", ""): too_many,
        ("messages_failed", "429"): too_many,
        ("messages_sent", ""): len(chats),
    }
    assert len(bot_api.sent) == len(chats)


async def test_server_errors_for_minutes_give_nothing_up_and_everything_goes_once_they_end(
    db: Database, bot_api: BotApiServer
) -> None:
    chats = private(6)
    await prepare(db, chats)
    bot_api.fail(Fault.server_error(502, "Bad Gateway"), methods=["sendMessage"])
    # SEND_RETRY_BASE 0.01 s plays the default 2 s 200 times faster: seven attempts are two to four minutes
    # of outage at the default pace, past the old rule's six attempts (then dead).
    async with service(db, bot_api, SEND_RETRY_BASE="0.01") as svc:

        def tried(times: int) -> bool:
            calls = Counter(c.chat_id for c in bot_api.calls_of("sendMessage"))
            return len(calls) == len(chats) and min(calls.values()) >= times

        await eventually(lambda: tried(7), timeout=60, what="seven attempts for every chat")
        counts = await outbox(db)
        assert counts["dead"] == 0 and counts["sent"] == 0, counts
        bot_api.recover()
        await eventually(lambda: len(received(bot_api)) == len(chats), timeout=60, what="every reader")
        await eventually(lambda: settled(db), what="the outbox to settle")
        samples = await scrape(svc)
        assert svc.running

    assert all(n == 1 for n in received(bot_api).values())
    assert (await outbox(db))["sent"] == len(chats)
    assert failed(samples, "server_error") == answered(bot_api, 502)
    assert samples[("kexue_messages_sent_total", ())] == len(chats)
    assert "gave up" not in svc.log()


async def test_every_chat_blocked_turns_every_reader_inactive_with_no_retry_and_the_service_runs_on(
    db: Database, bot_api: BotApiServer
) -> None:
    users = [bot_api.user(f"Reader {n}") for n in range(20)]
    await prepare(db, [(user.id, "private") for user in users])
    bot_api.fail(Fault.blocked(), methods=["sendMessage"])
    async with service(db, bot_api) as svc:
        await eventually(lambda: settled(db), timeout=60, what="the outbox to settle")
        assert (await outbox(db))["dead"] == len(users)
        for user in users:
            stored = await reader(db, user.id)
            assert stored is not None and not stored.reachable
        samples = await scrape(svc)

        # The service still answers: a reader who unblocks and sends /start is welcomed back.
        bot_api.recover()
        back = users[0]
        bot_api.send_text(back, None, "/start")
        await bot_api.wait_for_message(back.id, timeout=30)
        await eventually(lambda: reader_reachable(db, back.id), what="the reader to be reachable again")
        assert svc.running

    # One attempt per chat: a blocked chat is not retried, and nothing was sent twice.
    attempts = Counter(c.chat_id for c in bot_api.calls_of("sendMessage") if c.status == 403)
    assert attempts == Counter({user.id: 1 for user in users})
    assert received(bot_api) == Counter()
    assert failed(samples, "blocked") == len(users)
    assert samples[("kexue_messages_sent_total", ())] == 0


async def reader_reachable(db: Database, chat: int) -> bool:
    """Whether the reader is stored and reachable."""
    stored = await reader(db, chat)
    return stored is not None and stored.reachable


async def test_slow_answers_are_all_delivered_with_the_requests_in_flight_bounded(
    db: Database, bot_api: BotApiServer
) -> None:
    chats = private(6)
    concurrency = 3
    delay = 1.5
    await prepare(db, chats)
    bot_api.fail(Fault.slow(delay), methods=["sendMessage"])
    async with service(db, bot_api, SEND_CONCURRENCY=str(concurrency)):
        await eventually(lambda: len(received(bot_api)) == len(chats), timeout=60, what="every reader")
        await eventually(lambda: settled(db), what="the outbox to settle")

    assert all(n == 1 for n in received(bot_api).values())
    # Each answer takes `delay`, and a slot is freed only once its answer is committed: no window shorter
    # than `delay` saw more than SEND_CONCURRENCY requests arrive.
    arrivals = sorted(c.at for c in bot_api.calls_of("sendMessage"))
    busiest = max(sum(1 for t in arrivals if start <= t < start + 0.9 * delay) for start in arrivals)
    assert 1 < busiest <= concurrency, arrivals


async def test_a_migrated_group_gets_the_post_at_its_new_id_and_its_subscription_moves(
    db: Database, bot_api: BotApiServer
) -> None:
    group = bot_api.group("Reading group")
    supergroup = -1_009_000_000_001
    await prepare(db, [(group.id, "group"), *private(2)])
    bot_api.fail(Fault.migrated(supergroup), chat_id=group.id, methods=["sendMessage"])
    async with service(db, bot_api) as svc:
        await eventually(lambda: len(received(bot_api)) == 3, timeout=60, what="three chats")
        await eventually(lambda: settled(db), what="the outbox to settle")
        samples = await scrape(svc)

    assert received(bot_api) == Counter({supergroup: 1, FIRST_PRIVATE: 1, FIRST_PRIVATE + 1: 1})
    assert await reader(db, group.id) is None
    moved = await reader(db, supergroup)
    assert moved is not None and moved.reachable
    assert (await read_stores(db).subscribers.follows(supergroup)).everything
    assert failed(samples, "migrated") == 1
    assert samples[("kexue_messages_sent_total", ())] == 3


async def test_a_seeded_mixture_of_faults_delivers_to_every_reachable_reader_exactly_once(
    db: Database, bot_api: BotApiServer
) -> None:
    seed = random.randrange(10**6)
    rng = random.Random(seed)
    chats = private(16)
    groups = [bot_api.group(f"Group {n}").id for n in range(3)]
    await prepare(db, [*chats, *((g, "group") for g in groups)])
    unreachable: set[int] = set()
    moved: dict[int, int] = {}
    for chat, _ in chats:
        kind = rng.choice(["ok", "429", "5xx", "slow", "blocked", "not_found"])
        if kind == "429":
            bot_api.fail(Fault.too_many_requests(1), chat_id=chat, times=rng.randint(1, 3))
        elif kind == "5xx":
            bot_api.fail(
                Fault.server_error(rng.choice([500, 502, 503])), chat_id=chat, times=rng.randint(1, 4)
            )
        elif kind == "slow":
            bot_api.fail(Fault.slow(rng.uniform(0.2, 1.5)), chat_id=chat, times=rng.randint(1, 2))
        elif kind == "blocked":
            bot_api.fail(Fault.blocked(), chat_id=chat)
            unreachable.add(chat)
        elif kind == "not_found":
            bot_api.fail(Fault.chat_not_found(), chat_id=chat)
            unreachable.add(chat)
    for n, group in enumerate(groups):
        if n == 0 or rng.random() < 0.5:
            moved[group] = -1_009_000_000_000 - n
            bot_api.fail(Fault.migrated(moved[group]), chat_id=group)
    # A short storm over everything, on top.
    bot_api.fail(Fault.too_many_requests(1), times=rng.randint(1, 3))
    reachable = {moved.get(c, c) for c, _ in [*chats, *((g, "group") for g in groups)]} - unreachable
    async with service(db, bot_api, SEND_CONCURRENCY="4", SEND_RETRY_BASE="0.05") as svc:
        await eventually(
            lambda: set(received(bot_api)) >= reachable,
            timeout=60,
            what=f"seed {seed}: every reachable reader",
        )
        await eventually(lambda: settled(db), what=f"seed {seed}: the outbox to settle")
        samples = await scrape(svc)

    got = received(bot_api)
    assert set(got) == reachable, f"seed {seed}: {sorted(set(got) ^ reachable)}"
    # The delivery issue allows repeats only of messages in flight at a kill: without one, none.
    assert all(n == 1 for n in got.values()), f"seed {seed}: {got}"
    counts = await outbox(db)
    assert counts["sent"] == len(reachable) and counts["dead"] == len(unreachable), f"seed {seed}: {counts}"
    for chat in unreachable:
        stored = await reader(db, chat)
        assert stored is not None and not stored.reachable, f"seed {seed}: chat {chat}"
    for old, new in moved.items():
        assert await reader(db, old) is None and await reader(db, new), f"seed {seed}: {old}"
    assert "Traceback" not in svc.log(), f"seed {seed}"
    # Every answer the Bot API gave is counted once, under its reason.
    calls = bot_api.calls_of("sendMessage")
    expected = {
        "429": answered(bot_api, 429),
        "server_error": sum(1 for c in calls if c.status >= 500),
        "blocked": sum(1 for c in calls if c.status == 403),
        "chat_not_found": sum(1 for c in calls if "chat not found" in (c.description or "")),
        "migrated": sum(1 for c in calls if "upgraded to a supergroup" in (c.description or "")),
    }
    assert {reason: failed(samples, reason) for reason in expected} == expected, f"seed {seed}"
    assert samples[("kexue_telegram_429_total", ())] == expected["429"], f"seed {seed}"
    assert samples[("kexue_messages_sent_total", ())] == len(reachable), f"seed {seed}"
