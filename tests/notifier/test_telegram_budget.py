"""The shared budget of Bot API calls, driven through a real Bot against the local Bot API double."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest

from notifier.config import TelegramConfig
from notifier.telegram import Budget, StaleReply, answering_since, bulk, make_bot
from tests.support.bot_api import BotApiServer, Fault, RateLimits


async def test_sixty_replies_to_sixty_chats_keep_the_global_rate_and_get_no_429(
    bot_api: BotApiServer,
) -> None:
    bot_api.rate_limits = RateLimits()
    bot = make_bot(TelegramConfig(bot_api.token, bot_api.base_url), budget=Budget(30.0))
    try:
        started = bot_api.clock()
        await asyncio.gather(*(bot.send_message(1000 + n, f"hello {n}") for n in range(60)))
        took = bot_api.clock() - started
    finally:
        await bot.session.close()
    assert bot_api.too_many_requests == 0
    assert len(bot_api.sent) == 60
    # Thirty go at once, the next thirty a second later: no faster than the limit allows.
    assert took >= 1.0


async def test_a_chats_calls_keep_their_order_and_its_pace(bot_api: BotApiServer) -> None:
    bot_api.rate_limits = RateLimits()
    bot = make_bot(TelegramConfig(bot_api.token, bot_api.base_url), budget=Budget(30.0))
    try:
        # Started together, in this order.
        await asyncio.gather(*(bot.send_message(77, f"part {n}") for n in range(3)))
    finally:
        await bot.session.close()
    assert [m.plain for m in bot_api.messages(77)] == ["part 0", "part 1", "part 2"]
    times = [c.at for c in bot_api.calls_of("sendMessage")]
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(times))
    assert bot_api.too_many_requests == 0


async def test_replies_go_before_the_broadcast_waiting(bot_api: BotApiServer) -> None:
    bot = make_bot(TelegramConfig(bot_api.token, bot_api.base_url), budget=Budget(5.0))

    async def broadcast(n: int) -> None:
        with bulk():
            await bot.send_message(2000 + n, "news")

    try:
        sending = [asyncio.create_task(broadcast(n)) for n in range(15)]
        await asyncio.sleep(0.3)  # the broadcast has taken the first slots and queued the rest
        await asyncio.gather(*(bot.send_message(3000 + n, "reply") for n in range(3)))
        waiting_broadcast = sum(1 for task in sending if not task.done())
        await asyncio.gather(*sending)
    finally:
        await bot.session.close()
    # The replies overtook most of the broadcast queued before them.
    assert waiting_broadcast >= 5
    order = [m.plain for m in bot_api.sent]
    assert order.index("reply") < 10


async def test_a_429_makes_a_reply_wait_and_go_again(bot_api: BotApiServer) -> None:
    bot = make_bot(TelegramConfig(bot_api.token, bot_api.base_url), budget=Budget(30.0))
    bot_api.fail(Fault.too_many_requests(1), chat_id=55, methods=["sendMessage"], times=2)
    try:
        sent = await bot.send_message(55, "patience")
    finally:
        await bot.session.close()
    assert sent.text == "patience"
    assert bot_api.too_many_requests >= 1
    assert [m.plain for m in bot_api.messages(55)] == ["patience"]


async def test_a_reply_past_its_deadline_is_dropped_once_logged_and_counted(
    bot_api: BotApiServer, caplog: pytest.LogCaptureFixture
) -> None:
    counted: list[int] = []

    async def count() -> None:
        counted.append(1)

    budget = Budget(30.0, reply_deadline=1.0, on_stale=count)
    bot = make_bot(TelegramConfig(bot_api.token, bot_api.base_url), budget=budget)
    bot_api.fail(Fault.too_many_requests(5), chat_id=56, methods=["sendMessage"])
    caplog.set_level(logging.INFO, logger="notifier.telegram.budget")
    try:
        answering_since(budget.clock())
        with pytest.raises(StaleReply):
            await bot.send_message(56, "too late")
    finally:
        await bot.session.close()
    assert counted == [1]
    assert bot_api.messages(56) == []
    dropped = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(dropped) == 1
