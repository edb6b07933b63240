"""Update middlewares: the reader's language for every handler, and flood control per user.

The language is the chat's stored one (a reader who chose it, or Telegram's default saved at /start), else
the sender's Telegram `language_code`. Flood control counts a user's messages and button presses in a sliding
window: past the limit, that user's updates are dropped with ONE polite message until the window frees; other
users are never delayed (nothing here waits).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Chat, TelegramObject, Update, User

from bot.views import Views
from notifier.services import Services

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class LanguageMiddleware(BaseMiddleware):
    """Puts `lang` into the handler data: the chat's stored language, else the user's Telegram one."""

    def __init__(self, services: Services, views: Views) -> None:
        self.services = services
        self.views = views

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        """Resolve the language, then handle the update."""
        user: User | None = data.get("event_from_user")
        chat: Chat | None = data.get("event_chat")
        default = self.views.lang(user.language_code if user is not None else None)
        data["default_lang"] = default
        data["lang"] = default
        chat_id = chat.id if chat is not None else (user.id if user is not None else None)
        if chat_id is not None:
            reader = await self.services.reader(chat_id)
            stored = reader.subscriber
            if stored is not None and stored.lang in self.views.languages:
                data["lang"] = stored.lang
        return await handler(event, data)


class _Window:
    """One user's recent update times and whether they were told to slow down in this burst."""

    __slots__ = ("times", "warned")

    def __init__(self) -> None:
        self.times: deque[float] = deque()
        self.warned = False


class FloodControl(BaseMiddleware):
    """At most `limit` messages and button presses per user in `span` seconds; one polite warning."""

    def __init__(
        self,
        views: Views,
        *,
        limit: int = 20,
        span: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        max_users: int = 100_000,
    ) -> None:
        self.views = views
        self.limit = limit
        self.span = span
        self.clock = clock
        self.max_users = max_users
        self._users: dict[int, _Window] = {}

    def _window(self, user_id: int) -> _Window:
        window = self._users.get(user_id)
        if window is None:
            if len(self._users) >= self.max_users:
                self._prune()
            window = self._users[user_id] = _Window()
        return window

    def _prune(self) -> None:
        cutoff = self.clock() - self.span
        for user_id in [u for u, w in self._users.items() if not w.times or w.times[-1] <= cutoff]:
            del self._users[user_id]
        if len(self._users) >= self.max_users:
            self._users.clear()

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        """Handle the update, or drop it (warning once) when its sender is flooding."""
        user: User | None = data.get("event_from_user")
        if not isinstance(event, Update) or event.inline_query is not None or user is None:
            return await handler(event, data)
        now = self.clock()
        window = self._window(user.id)
        while window.times and window.times[0] <= now - self.span:
            window.times.popleft()
        if len(window.times) < self.limit:
            window.times.append(now)
            window.warned = False
            return await handler(event, data)
        log.info("update %d: user %d is flooding; dropped", event.update_id, user.id)
        if not window.warned:
            window.warned = True
            await self._warn(event, data)
        return None

    async def _warn(self, event: Update, data: dict[str, Any]) -> None:
        bot: Bot | None = data.get("bot")
        lang = str(data.get("lang") or "zh")
        text = self.views.render(lang, "flood")
        if bot is None:
            return
        try:
            if event.callback_query is not None:
                await bot.answer_callback_query(event.callback_query.id, text[:200])
            else:
                chat: Chat | None = data.get("event_chat")
                if chat is not None:
                    await bot.send_message(chat.id, text)
        except TelegramAPIError as exc:
            log.info("update %d: the flood warning could not be sent: %s", event.update_id, exc)
