"""The one road to Telegram: the aiogram `Bot` of the application, built in one place with one set of
defaults, and the token kept out of every line that leaves the process.

The bot's handlers, the outbox sender and `doctor` all use the `Bot` made here (aiogram is imported only when
a token is set: its models take seconds to load, for nothing without a bot).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from notifier.config import TelegramConfig

if TYPE_CHECKING:
    # Re-exported for the annotations of the rest of the core, which never imports aiogram itself.
    from aiogram import Bot as Bot

log = logging.getLogger(__name__)


class InvalidToken(ValueError):
    """TELEGRAM_BOT_TOKEN is not shaped like a bot token (digits, a colon, then letters)."""


def make_bot(config: TelegramConfig) -> Bot:
    """The aiogram Bot at TELEGRAM_API_BASE: HTML by default, link previews off (a list of posts has many).

    Raises InvalidToken when the token cannot be a bot token. The caller closes `bot.session`."""
    from aiogram import Bot
    from aiogram.client.default import DefaultBotProperties
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.utils.token import TokenValidationError

    session = AiohttpSession(api=TelegramAPIServer.from_base(config.api_base))
    try:
        return Bot(
            config.token,
            session=session,
            default=DefaultBotProperties(parse_mode="HTML", link_preview_is_disabled=True),
        )
    except TokenValidationError:
        raise InvalidToken("TELEGRAM_BOT_TOKEN is not a bot token (digits, a colon, then letters)") from None


def redact(text: str, token: str | None) -> str:
    """`text` with the bot token replaced: aiogram puts it in URLs, which some errors repeat."""
    if token:
        text = text.replace(token, "<token>")
    return text


class BotUnauthorized(Exception):
    """The Bot API refused the token (401): revoked or mistyped."""


class BotUnreachable(Exception):
    """The Bot API could not be asked or did not answer as one: the message is one line, token-free."""


async def who_am_i(config: TelegramConfig, timeout: float) -> tuple[str, int]:
    """getMe with this configuration: the bot's @name (or first name) and id.

    Raises InvalidToken, BotUnauthorized or BotUnreachable."""
    from aiogram.exceptions import AiogramError, TelegramUnauthorizedError

    bot = make_bot(config)
    try:
        me = await bot.get_me(request_timeout=int(max(1, timeout)))
    except TelegramUnauthorizedError:
        raise BotUnauthorized("401 Unauthorized") from None
    except (AiogramError, OSError, TimeoutError, ValueError) as exc:
        # One line, however long the answer was (an HTML page where JSON belongs is all in the error).
        reason = " ".join(redact(str(exc), config.token).split())
        reason = reason if len(reason) <= 160 else reason[:160] + "…"
        raise BotUnreachable(f"{type(exc).__name__}: {reason}") from None
    finally:
        await bot.session.close()
    return (f"@{me.username}" if me.username else me.first_name), me.id
