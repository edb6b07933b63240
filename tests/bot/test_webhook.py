"""Webhook mode: the server registers WEBHOOK_URL with a secret token and refuses requests without it."""

from __future__ import annotations

import socket

import aiohttp

from bot.app import BotRunner
from notifier.bootstrap import App
from notifier.config import TelegramConfig
from tests.support.bot_api import BotApiServer


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_webhook_checks_the_secret_token_and_answers_through_the_api(
    bot_api: BotApiServer, app: App
) -> None:
    port = free_port()
    config = TelegramConfig(
        token=bot_api.token,
        api_base=bot_api.base_url,
        webhook_url="https://bot.example.org/telegram/hook",
        webhook_secret="s3cret-token",
        webhook_host="127.0.0.1",
        webhook_port=port,
    )
    runner = BotRunner(app, config)
    await runner.start()
    try:
        await bot_api.wait_for(lambda: bot_api.webhook, timeout=10)
        assert bot_api.webhook is not None
        assert bot_api.webhook["url"] == "https://bot.example.org/telegram/hook"
        assert bot_api.webhook["secret_token"] == "s3cret-token"
        reader = bot_api.user("Ada", language_code="en")
        update = bot_api.send_text(reader, None, "/help")
        url = f"http://127.0.0.1:{port}/telegram/hook"
        async with aiohttp.ClientSession() as session:
            async with session.post(url, json=update) as refused:
                assert refused.status == 401
            headers = {"X-Telegram-Bot-Api-Secret-Token": "wrong"}
            async with session.post(url, json=update, headers=headers) as refused:
                assert refused.status == 401
            headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}
            async with session.post(url, json=update, headers=headers) as accepted:
                assert accepted.status == 200
        answer = await bot_api.wait_for_message(reader.id, timeout=10)
        assert answer.plain.startswith("What I can do")
        assert len(bot_api.messages(reader.id)) == 1
    finally:
        await runner.stop()
