"""What an attacker (or a look over an admin's shoulder) gets from the bot: no secrets, no floods."""

from __future__ import annotations

import asyncio
import time

from bot.app import BotRunner
from notifier.bootstrap import App
from notifier.config import TelegramConfig
from tests.bot.conftest import ADMIN_ID, Harness
from tests.bot.test_webhook import free_port
from tests.support.bot_api import BotApiServer

SOURCE = "https://reader:pa55-source-word@kexue.fm/feed?api_key=K3Y-of-the-feed&lang=zh"


async def test_stats_redacts_a_sources_password_and_api_key(harness: Harness) -> None:
    now = harness.app.clock()
    async with harness.app.uow() as uow:
        await uow.sources.record_failure(
            SOURCE, error=f"cannot fetch {SOURCE}: 401 for key K3Y-of-the-feed", now=now, retry_at=now
        )
    admin = harness.api.user("Admin", id=ADMIN_ID, language_code="en")
    text = await harness.ask(admin, "/stats")
    assert "kexue.fm/feed" in text
    assert "pa55-source-word" not in text and "K3Y-of-the-feed" not in text


async def test_inline_queries_are_under_flood_control(harness: Harness) -> None:
    api, user, other = harness.api, harness.user("en"), harness.user("en")
    floods = [api.inline_query(user, f"梯度 {n}") for n in range(300)]
    last = floods[-1]["inline_query"]["id"]
    # The flood ends; someone else is answered at once.
    update = api.inline_query(other, "梯度")
    assert (await api.wait_for_inline_answer(update["inline_query"]["id"])).results
    await asyncio.sleep(1.0)
    flooded = {update["inline_query"]["id"] for update in floods}
    answered = flooded & set(api.inline_answers)
    # Twice the message budget (20 in 10 s): a client sends one query per keystroke.
    assert 0 < len(answered) <= 40, len(answered)
    assert last not in answered


async def test_the_webhook_drops_a_request_that_dribbles_in(bot_api: BotApiServer, app: App) -> None:
    port = free_port()
    config = TelegramConfig(
        token=bot_api.token,
        api_base=bot_api.base_url,
        webhook_url="https://bot.example.org/hook",
        webhook_secret="s3cret-token",
        webhook_port=port,
        read_timeout=1.0,
    )
    runner = BotRunner(app, config)
    await runner.start()
    try:
        await bot_api.wait_for(lambda: bot_api.webhook, timeout=10)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{")
        started = time.monotonic()
        try:
            async with asyncio.timeout(10):
                while True:
                    writer.write(b" ")
                    await writer.drain()
                    if reader.at_eof() or not await _alive(reader):
                        break
        except ConnectionError:
            pass
        writer.close()
        assert time.monotonic() - started < 4
    finally:
        await runner.stop()


async def _alive(reader: asyncio.StreamReader) -> bool:
    """Whether the peer still holds the connection after a quarter of a second."""
    try:
        data = await asyncio.wait_for(reader.read(1024), 0.25)
    except TimeoutError:
        return True
    return bool(data) and not reader.at_eof()
