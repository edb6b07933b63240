"""A chat's updates are handled one after another, in the order they came; each notes when it arrived.

Telegram delivers a reader's burst of commands as separate updates, which aiogram handles as concurrent
tasks: without an order the answer to the second could overtake the first's. A FIFO lock per chat keeps
them in turn (other chats are never delayed), and the flood notice, sent inside it, lands after the answers
it follows. The arrival time is what a reply's deadline in the shared budget counts from.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Chat, TelegramObject

from notifier.telegram import answering_since


class _Turn:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class ChatOrder(BaseMiddleware):
    """An outer update middleware: one update per chat at a time, in arrival order."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._turns: dict[int, _Turn] = {}

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        """Wait for the chat's earlier updates, then handle this one."""
        answering_since(self.clock())
        chat: Chat | None = data.get("event_chat")
        if chat is None:  # an inline query: no chat, nothing to keep in order
            return await handler(event, data)
        turn = self._turns.get(chat.id)
        if turn is None:
            turn = self._turns[chat.id] = _Turn()
        turn.users += 1
        try:
            async with turn.lock:
                return await handler(event, data)
        finally:
            turn.users -= 1
            if not turn.users:
                # Nobody waits: the chat's turn is forgotten, so memory holds only chats being answered.
                del self._turns[chat.id]
