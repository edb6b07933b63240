"""A reader's burst of updates is answered in the order it was written, and the flood notice comes after the
answers it follows, never among them."""

from __future__ import annotations

import asyncio

from notifier.bootstrap import App
from notifier.telegram import Budget
from tests.bot.conftest import Harness, running
from tests.support.bot_api import BotApiServer, RateLimits
from tests.support.service import eventually

WORDS = [f"zq{n}x" for n in range(7)]


async def burst(harness: Harness) -> list[str]:
    """Seven searches written at once by one reader; the bot's messages to them."""
    api = harness.api
    reader = harness.user("en")
    for word in WORDS:
        api.send_text(reader, None, f"/search {word}")
    await eventually(lambda: len(api.messages(reader.id)) >= 5, timeout=30, what="five messages")
    await asyncio.sleep(1.5)  # nothing more comes
    return [m.plain for m in api.messages(reader.id)]


async def test_a_burst_past_the_flood_limit_gets_its_answers_in_order_then_one_notice(
    bot_api: BotApiServer, app: App
) -> None:
    bot_api.rate_limits = RateLimits()
    async for harness in running(bot_api, app, flood_limit=4, budget=Budget()):
        texts = await burst(harness)
    assert len(texts) == 5
    for word, text in zip(WORDS[:4], texts[:4], strict=True):
        assert word in text
    # The notice is the last message: the answers before it were not overtaken.
    assert not any(word in texts[4] for word in WORDS)
    assert bot_api.too_many_requests == 0
