"""Formulas as Telegram draws them: posts sent as rich messages with native math, else as HTML with Unicode.

Telegram's rich messages (`sendRichMessage`, Bot API 10.1+) take `<tg-math>` and `<tg-math-block>` elements
holding LaTeX. A message about posts is rendered twice from the same blocks: the HTML the digest renderer
makes (math already readable Unicode), and a rich variant where each excerpt is re-cut from the stored LaTeX
with its formulas as math elements. `RichSender.send` tries the rich one where it has math and the chat has
not refused it; a refusal (404 from a server without the method, a 400) sends the HTML messages instead and
is remembered for that chat, in memory and in the database.

Each reader chooses native math or text (bot/formulas.py); the first rich message a reader receives carries a
one-tap switch to text (`RichMessage.switch`), offered once.

The excerpt itself is re-cut by `digest.rich` (shared with the sender of notifications).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramNotFound
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, InputRichMessage, Message

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RichMessage:
    """One message in both forms: the HTML messages (always) and the rich HTML (when it has math)."""

    html: tuple[str, ...]
    rich: str | None
    # The (label, callback data) of the switch to text, shown under the reader's first rich message.
    switch: tuple[str, str] | None = None


class RefusalMemory:
    """The chats that refused a rich message (bounded, oldest forgotten first), and a server-wide refusal."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._chats: OrderedDict[int | str, None] = OrderedDict()
        self.server_refused = False

    def refused(self, chat_id: int | str) -> bool:
        """Whether rich messages are known not to work for this chat."""
        return self.server_refused or chat_id in self._chats

    def remember(self, chat_id: int | str, *, server: bool = False) -> None:
        """Rich messages failed for this chat (`server`: the API has no such method at all)."""
        self.server_refused = self.server_refused or server
        self._chats[chat_id] = None
        self._chats.move_to_end(chat_id)
        while len(self._chats) > self.capacity:
            self._chats.popitem(last=False)


class RefusalStore(Protocol):
    """Where a chat's refusal of rich messages is kept across restarts (the service layer)."""

    async def rich_refused(self, chat_id: int) -> bool:
        """Whether this chat refused a rich message before."""
        ...

    async def remember_rich_refused(self, chat_id: int) -> None:
        """Keep that this chat refuses rich messages."""
        ...


class FormulaPrefs(Protocol):
    """A reader's formula display (notifier.formula_choice.FormulaChoice)."""

    async def wants_native(self, chat_id: int) -> bool:
        """Whether this chat gets native math."""
        ...

    async def offer_switch(self, chat_id: int) -> bool:
        """Whether the rich message about to go out is the reader's first (it carries the switch)."""
        ...


def _with_row(markup: InlineKeyboardMarkup | None, text: str, data: str) -> InlineKeyboardMarkup:
    row = [InlineKeyboardButton(text=text, callback_data=data)]
    return InlineKeyboardMarkup(inline_keyboard=[*(markup.inline_keyboard if markup else []), row])


class RichSender:
    """Sends a `RichMessage`: rich when enabled, it has math and the chat takes it; else its HTML.

    A chat's refusal is kept in memory and, with a `store`, in the database, where the sender of
    notifications reads it too: a restart does not ask that chat again.
    """

    def __init__(
        self,
        *,
        enabled: bool = True,
        memory: RefusalMemory | None = None,
        store: RefusalStore | None = None,
        formulas: FormulaPrefs | None = None,
    ) -> None:
        self.enabled = enabled
        self.memory = memory or RefusalMemory()
        self.store = store
        self.formulas = formulas

    async def _wants_text(self, chat_id: int | str) -> bool:
        """Whether the reader (or their chat's default) takes formulas as text."""
        return (
            self.formulas is not None
            and isinstance(chat_id, int)
            and not await self.formulas.wants_native(chat_id)
        )

    async def _refused(self, chat_id: int | str) -> bool:
        if self.memory.refused(chat_id):
            return True
        if self.store is not None and isinstance(chat_id, int) and await self.store.rich_refused(chat_id):
            self.memory.remember(chat_id)
            return True
        return False

    async def send(
        self,
        bot: Bot,
        chat_id: int | str,
        message: RichMessage,
        reply_markup: InlineKeyboardMarkup | None = None,
    ) -> list[Message]:
        """Send `message` to `chat_id`, the keyboard under its last part; the messages sent."""
        if (
            self.enabled
            and message.rich is not None
            and not await self._refused(chat_id)
            and not await self._wants_text(chat_id)
        ):
            markup = reply_markup
            if (
                message.switch is not None
                and self.formulas is not None
                and isinstance(chat_id, int)
                and await self.formulas.offer_switch(chat_id)
            ):
                markup = _with_row(reply_markup, *message.switch)
            try:
                sent = await bot.send_rich_message(
                    chat_id, InputRichMessage(html=message.rich), reply_markup=markup
                )
                return [sent]
            except TelegramNotFound:
                log.warning("chat %s: the Bot API has no sendRichMessage; sending HTML from now on", chat_id)
                self.memory.remember(chat_id, server=True)
            except TelegramBadRequest as exc:
                log.info("chat %s: rich message refused (%s); HTML from now on", chat_id, exc.message)
                self.memory.remember(chat_id)
                if self.store is not None and isinstance(chat_id, int):
                    await self.store.remember_rich_refused(chat_id)
        out: list[Message] = []
        last = len(message.html) - 1
        for index, html in enumerate(message.html):
            markup = reply_markup if index == last else None
            out.append(await bot.send_message(chat_id, html, reply_markup=markup))
        return out
