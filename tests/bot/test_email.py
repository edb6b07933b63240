"""The bot's `/email` end to end: a real Dispatcher polling the local Bot API server, mail to loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiogram import Dispatcher

from bot.email import make_router
from notifier.services import LinkState
from tests.support.bot_api import BotApiServer
from tests.support.live_web import confirm_link
from tests.support.mail import MailWorld, mail_world
from tests.support.smtp_server import SmtpServer
from tests.support.store import reads
from tests.support.test_bot_api import connected


async def test_email_sign_up_state_and_off_from_the_bot(
    tmp_path: Path, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch, bot_api: BotApiServer
) -> None:
    world: MailWorld
    async with mail_world(tmp_path, smtp, monkeypatch) as world, connected(bot_api) as bot:
        dispatcher = Dispatcher()
        dispatcher.include_router(make_router())
        dispatcher["services"] = world.services()
        polling = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False, polling_timeout=30))
        try:
            reader = bot_api.user("Reader", language_code="en")
            bot_api.send_text(reader, None, "/email")
            reply = await bot_api.wait_for_message(reader.id, timeout=10)
            assert "No email address" in reply.plain and "/email off" in reply.plain

            bot_api.send_text(reader, None, "/email reader@example.com")
            reply = await bot_api.wait_for_message(reader.id, timeout=10)
            assert "confirmation link is on its way" in reply.plain
            await smtp.wait_for(1)
            assert len(smtp.to("reader@example.com")) == 1

            bot_api.send_text(reader, None, "/email")
            reply = await bot_api.wait_for_message(reader.id, timeout=10)
            assert "r***@example.com: waiting for confirmation" in reply.plain
            assert "reader@example.com" not in reply.plain

            bot_api.send_text(reader, None, "/email not-an-address")
            reply = await bot_api.wait_for_message(reader.id, timeout=10)
            assert "does not look like an email address" in reply.plain

            # The link mailed for this chat's /email confirms the address and links it to this chat.
            token = confirm_link(smtp.to("reader@example.com")[0]).split("/")[-1].split("?")[0]
            assert await world.services().email.confirm(token) is LinkState.CONFIRMED
            bot_api.send_text(reader, None, "/email")
            reply = await bot_api.wait_for_message(reader.id, timeout=10)
            assert "r***@example.com: confirmed" in reply.plain

            bot_api.send_text(reader, None, "/email off")
            reply = await bot_api.wait_for_message(reader.id, timeout=10)
            assert reply.plain == "The weekly email is stopped for 1 address."
            assert await reads(world.app.db).emails.find("reader@example.com") is not None
            found = await reads(world.app.db).emails.find("reader@example.com")
            assert found is not None and found.status == "unsubscribed" and found.address is None

            group = bot_api.group()
            bot_api.send_text(reader, group, "/email someone@example.com")
            reply = await bot_api.wait_for_message(group.id, timeout=10)
            assert "private chat" in reply.plain
            assert len(smtp.messages) == 1
        finally:
            await dispatcher.stop_polling()
            await polling
