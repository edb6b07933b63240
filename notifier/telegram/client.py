"""The one road to Telegram: the aiogram Bot built once from plain values, and what the core sends with it.

`make_bot` is the only place a `Bot` is made (HTML by default, link previews off, the shared budget as a
request middleware). `Telegram` sends a message in its rich form where the chat and the reader take it and
as HTML otherwise, remembering refusals; every failure leaves it as a plain `TelegramFailed` (token
redacted), so the rest of the core never meets an aiogram type.
"""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    AiogramError,
    TelegramBadRequest,
    TelegramNotFound,
    TelegramUnauthorizedError,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, InputRichMessage, LinkPreviewOptions
from aiogram.utils.token import TokenValidationError

from notifier.config import TelegramConfig
from notifier.telegram.budget import Budget
from notifier.telegram.failures import (
    CALL_ERRORS,
    InvalidToken,
    TelegramError,
    TelegramFailed,
    classify,
    redact,
)
from notifier.telegram.rich import FormulaPrefs, Keyboard, RefusalMemory, RefusalStore, RichMessage
from storage.db import Database, WriteFailed
from storage.uow import read_stores, unit_of_work

log = logging.getLogger(__name__)


def make_bot(config: TelegramConfig, *, budget: Budget | None = None) -> Bot:
    """The aiogram Bot at TELEGRAM_API_BASE: HTML by default, link previews off (a list of posts has many).

    With a `budget`, every call that sends waits its turn in it (see notifier.telegram.budget). Raises
    InvalidToken when the token cannot be a bot token. The caller closes `bot.session`.
    """
    session = AiohttpSession(api=TelegramAPIServer.from_base(config.api_base))
    try:
        bot = Bot(
            config.token,
            session=session,
            default=DefaultBotProperties(parse_mode="HTML", link_preview_is_disabled=True),
        )
    except TokenValidationError:
        raise InvalidToken("TELEGRAM_BOT_TOKEN is not a bot token (digits, a colon, then letters)") from None
    if budget is not None:
        session.middleware(budget.middleware)
    return bot


def markup_of(keyboard: Keyboard | InlineKeyboardMarkup | None) -> InlineKeyboardMarkup | None:
    """aiogram's keyboard from plain buttons (a keyboard the bot made already passes through)."""
    if keyboard is None or isinstance(keyboard, InlineKeyboardMarkup):
        return keyboard
    if not keyboard:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=b.text, url=b.url, callback_data=b.data) for b in row]
            for row in keyboard
        ]
    )


def _with_row(markup: InlineKeyboardMarkup | None, text: str, data: str) -> InlineKeyboardMarkup:
    row = [InlineKeyboardButton(text=text, callback_data=data)]
    return InlineKeyboardMarkup(inline_keyboard=[*(markup.inline_keyboard if markup else []), row])


class DbRefusals:
    """Rich refusals kept in the database, where both the bot and the sender read them."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def rich_refused(self, chat_id: int) -> bool:
        """Whether this chat refused a rich message before."""
        return await read_stores(self.db).deliveries.rich_refused(chat_id)

    async def remember_rich_refused(self, chat_id: int) -> None:
        """Keep that this chat refuses rich messages."""
        async with unit_of_work(self.db) as uow:
            await uow.deliveries.remember_rich_refused(chat_id)


class Telegram:
    """Sends through the one Bot: rich where it may, HTML otherwise; failures as `TelegramFailed`."""

    def __init__(
        self,
        bot: Bot | None,
        *,
        rich: bool = True,
        budget: Budget | None = None,
        refusals: RefusalStore | None = None,
        formulas: FormulaPrefs | None = None,
        memory: RefusalMemory | None = None,
    ) -> None:
        self.bot = bot
        self.rich = rich
        self.budget = budget
        self.refusals = refusals
        self.formulas = formulas
        self.memory = memory or RefusalMemory()

    @property
    def token(self) -> str | None:
        """The bot token (for redacting it; never logged)."""
        return None if self.bot is None else self.bot.token

    async def _refused(self, chat_id: int | str, stored: bool) -> bool:
        if self.memory.refused(chat_id):
            return True
        if (
            not stored
            and self.refusals is not None
            and isinstance(chat_id, int)
            and await self.refusals.rich_refused(chat_id)
        ):
            self.memory.remember(chat_id)
            return True
        return False

    async def _wants_text(self, chat_id: int | str, personal: bool) -> bool:
        return (
            personal
            and self.formulas is not None
            and isinstance(chat_id, int)
            and not await self.formulas.wants_native(chat_id)
        )

    async def _refuse(self, chat_id: int | str, exc: TelegramBadRequest) -> None:
        log.info("chat %s: rich message refused (%s); HTML from now on", chat_id, exc.message)
        self.memory.remember(chat_id)
        if self.refusals is not None and isinstance(chat_id, int):
            try:
                await self.refusals.remember_rich_refused(chat_id)
            except WriteFailed as write:
                # Only a memo: the next message to this chat is tried rich again and falls back.
                log.warning("chat %s: cannot note the refusal of rich messages: %s", chat_id, write)

    async def send(
        self,
        chat_id: int | str,
        message: RichMessage,
        keyboard: Keyboard | InlineKeyboardMarkup | None = None,
        *,
        personal: bool = True,
        timeout: int | None = None,
        bot: Bot | None = None,
        stored: bool = False,
    ) -> list[int]:
        """Send `message` (the keyboard under its last part); the ids of the messages sent.

        `personal`: the reader's own choice of formulas applies (a channel follows TELEGRAM_RICH alone).
        `bot`: the Bot that received the update being answered (the adapter's own by default).
        `stored`: the caller read the chat's stored refusal already (the outbox row carries it).
        Raises TelegramFailed.
        """
        via = bot or self.bot
        if via is None:
            raise TelegramError("no Bot to send with")
        try:
            return await self._send(via, chat_id, message, markup_of(keyboard), personal, timeout, stored)
        except CALL_ERRORS as exc:
            raise TelegramFailed(classify(exc, via.token)) from exc

    async def _send(
        self,
        bot: Bot,
        chat_id: int | str,
        message: RichMessage,
        markup: InlineKeyboardMarkup | None,
        personal: bool,
        timeout: int | None,
        stored: bool,
    ) -> list[int]:
        if (
            self.rich
            and message.rich is not None
            and not await self._refused(chat_id, stored)
            and not await self._wants_text(chat_id, personal)
        ):
            rich_markup = markup
            if (
                message.switch is not None
                and self.formulas is not None
                and isinstance(chat_id, int)
                and await self.formulas.offer_switch(chat_id)
            ):
                rich_markup = _with_row(markup, *message.switch)
            try:
                sent = await bot.send_rich_message(
                    chat_id=chat_id,
                    rich_message=InputRichMessage(html=message.rich),
                    reply_markup=rich_markup,
                    request_timeout=timeout,
                )
                return [sent.message_id]
            except TelegramNotFound:
                log.warning("chat %s: the Bot API has no sendRichMessage; sending HTML from now on", chat_id)
                self.memory.remember(chat_id, server=True)
            except TelegramBadRequest as exc:
                if "chat not found" in exc.message.lower():
                    raise
                await self._refuse(chat_id, exc)
        ids: list[int] = []
        last = len(message.html) - 1
        for index, html in enumerate(message.html):
            sent = await bot.send_message(
                chat_id=chat_id,
                text=html,
                parse_mode="HTML",
                reply_markup=markup if index == last else None,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                request_timeout=timeout,
            )
            ids.append(sent.message_id)
        return ids


class BotUnauthorized(TelegramError):
    """The Bot API refused the token (401): revoked or mistyped."""


class BotUnreachable(TelegramError):
    """The Bot API could not be asked or did not answer as one: the message is one line, token-free."""


async def who_am_i(config: TelegramConfig, timeout: float) -> tuple[str, int]:
    """getMe with this configuration: the bot's @name (or first name) and id.

    Raises InvalidToken, BotUnauthorized or BotUnreachable."""
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
