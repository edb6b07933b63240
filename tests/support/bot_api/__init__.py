"""A real local Telegram Bot API server for tests, benchmarks and the demo.

It speaks the wire format aiogram uses (form posts, urlencoded or multipart, nested objects as JSON strings;
JSON bodies and GET queries too) and answers ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code",
"description", "parameters"}``. It rejects what Telegram rejects (malformed HTML under parse_mode HTML, text
over the limit, oversized callback data ...), injects faults per chat or globally, enforces rate limits when
asked, and records every call for tests to read.

The package: models (limits, people, chats, records), faults (faults and rate limits), html (Telegram's HTML
parse mode), rich (rich messages), server (the 30 methods), cli (`python -m`). Use it from pytest with the
`bot_api` fixture (tests/conftest.py lists this package as a plugin), from a
benchmark or a demo with ``server = await start_bot_api()`` (stop it with ``await server.stop()``), or
standalone: ``python -m tests.support.bot_api --port 8081`` prints the base URL and token to use.

A test plays the users: ``reader = server.user()``, ``server.send_text(reader, None, "/start")``, then reads
the bot's answer with ``await server.wait_for_message(reader.id)``. Faults: ``server.fail(Fault.blocked(),
chat_id=reader.id)``; rules are tried in the order they were added, each `times` times or until recover().
Counters (``server.counters``): calls, ok, error:<status>, fault:<kind>, cooldown, rate_limit:<scope>.
Groups have people, as getChatMember answers: ``server.group(creator=owner, admins=[admin])`` (given neither,
the first user who acts there is its creator), everyone else who writes there a member, and
``set_member_status(group, user, status)`` for the rest; ``send_text(admin, group, text, anonymous=True)``
posts as the group, the way an anonymous administrator does.

Point aiogram at it with ``AiohttpSession(api=TelegramAPIServer.from_base(server.base_url))`` and
``Bot(server.token, ...)``; point the service at it with ``TELEGRAM_API_BASE=server.base_url``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from digest.telegram import HtmlParseError, parse_telegram_html
from tests.support.bot_api.faults import Fault, FaultRule, RateLimits
from tests.support.bot_api.models import (
    ANONYMOUS_ADMIN,
    DEFAULT_TOKEN,
    MEMBER_STATUSES,
    NOT_MODIFIED,
    BotInfo,
    Call,
    CallbackAnswer,
    Chat,
    Edit,
    InlineAnswer,
    SentMessage,
    UploadedFile,
    User,
)
from tests.support.bot_api.server import BotApiServer

__all__ = [
    "ANONYMOUS_ADMIN",
    "DEFAULT_TOKEN",
    "MEMBER_STATUSES",
    "NOT_MODIFIED",
    "BotApiServer",
    "BotInfo",
    "Call",
    "CallbackAnswer",
    "Chat",
    "Edit",
    "Fault",
    "FaultRule",
    "HtmlParseError",
    "InlineAnswer",
    "RateLimits",
    "SentMessage",
    "UploadedFile",
    "User",
    "bot_api",
    "parse_telegram_html",
    "start_bot_api",
]


async def start_bot_api(token: str = DEFAULT_TOKEN, **options: Any) -> BotApiServer:
    """A started BotApiServer (for benchmarks and the demo); the caller stops it: `await server.stop()`."""
    server = BotApiServer(token, **options)
    await server.start()
    return server


@pytest.fixture
async def bot_api() -> AsyncIterator[BotApiServer]:
    """A started BotApiServer with Telegram's behaviour and no rate limits, stopped after the test."""
    async with BotApiServer() as server:
        yield server
