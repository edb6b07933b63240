"""Middlewares: the reader's language for every handler, flood control per user, and group admins only.

The language is the chat's stored one (a reader who chose it, or Telegram's default saved at /start), else
the sender's Telegram `language_code`. Flood control counts a user's messages and button presses in a sliding
window: past the limit, that user's updates are dropped with ONE polite message until the window frees; other
users are never delayed (nothing here waits). Inline queries have a window of their own (a client sends one
per keystroke, so twice the budget), and past it they go unanswered: each one costs a search.
In a group or supergroup, a handler registered with `flags=CHANGES_CHAT` (it changes what the chat receives)
runs only for the group's administrators; anyone else gets one polite line (an alert for a button) and
nothing changes.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.dispatcher.flags import get_flag
from aiogram.enums import ChatMemberStatus, ChatType
from aiogram.exceptions import ClientDecodeError, TelegramAPIError
from aiogram.types import CallbackQuery, Chat, Message, TelegramObject, Update, User

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
            reader = await self.services.readers.reader(chat_id)
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
        inline_limit: int | None = None,
    ) -> None:
        self.views = views
        self.limit = limit
        self.inline_limit = 2 * limit if inline_limit is None else inline_limit
        self.span = span
        self.clock = clock
        self.max_users = max_users
        self._users: dict[int, _Window] = {}
        self._inline: dict[int, _Window] = {}

    def _window(self, user_id: int, users: dict[int, _Window]) -> _Window:
        window = users.get(user_id)
        if window is None:
            if len(users) >= self.max_users:
                self._prune(users)
            window = users[user_id] = _Window()
        return window

    def _prune(self, users: dict[int, _Window]) -> None:
        cutoff = self.clock() - self.span
        for user_id in [u for u, w in users.items() if not w.times or w.times[-1] <= cutoff]:
            del users[user_id]
        if len(users) >= self.max_users:
            users.clear()

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        """Handle the update, or drop it (warning once) when its sender is flooding."""
        user: User | None = data.get("event_from_user")
        if not isinstance(event, Update) or user is None:
            return await handler(event, data)
        inline = event.inline_query is not None
        now = self.clock()
        window = self._window(user.id, self._inline if inline else self._users)
        while window.times and window.times[0] <= now - self.span:
            window.times.popleft()
        if len(window.times) < (self.inline_limit if inline else self.limit):
            window.times.append(now)
            window.warned = False
            return await handler(event, data)
        if not window.warned:
            # Once a burst: a flood of updates must not become a flood of log lines.
            log.info(
                "update %d: user %d is flooding; dropped until the window frees", event.update_id, user.id
            )
            window.warned = True
            if not inline:
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


# The handler flag of everything that changes what a chat receives: in groups, admins only.
CHANGES_CHAT: dict[str, Any] = {"changes_chat": True}
# Telegram's sender of a message an administrator posts anonymously, as the group itself.
ANONYMOUS_ADMIN_ID = 1087968824
GROUP_TYPES = frozenset({ChatType.GROUP, ChatType.SUPERGROUP})
ADMIN_STATUSES = frozenset({ChatMemberStatus.CREATOR, ChatMemberStatus.ADMINISTRATOR})
# getChatMember is one small call: a group member waits no longer than this for a settings button.
LOOKUP_TIMEOUT = 10


class Standing(Enum):
    """Whether a user may change a group's subscription."""

    ADMIN = "admin"
    MEMBER = "member"
    UNKNOWN = "unknown"  # Telegram could not say (network, 5xx): refused, since nothing is known


class GroupAdmins:
    """Who administers a group, from getChatMember, remembered `ttl` seconds per (chat, user), bounded."""

    def __init__(
        self, *, ttl: float = 60.0, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._known: OrderedDict[tuple[int, int], tuple[float, bool]] = OrderedDict()
        self._failing = False

    def remembered(self, chat_id: int, user_id: int) -> bool | None:
        """Whether the user is an admin of the chat, when looked up less than `ttl` seconds ago."""
        key = (chat_id, user_id)
        entry = self._known.get(key)
        if entry is None:
            return None
        expires, admin = entry
        if expires <= self.clock():
            del self._known[key]
            return None
        return admin

    def remember(self, chat_id: int, user_id: int, admin: bool) -> None:
        """Keep one answer for `ttl` seconds; past `max_entries` the oldest answers go first."""
        key = (chat_id, user_id)
        self._known.pop(key, None)
        self._known[key] = (self.clock() + self.ttl, admin)
        while len(self._known) > self.max_entries:
            self._known.popitem(last=False)

    async def standing(self, bot: Bot, chat_id: int, user_id: int) -> Standing:
        """The user's standing in the group: remembered, else asked of Telegram (UNKNOWN when it fails)."""
        admin = self.remembered(chat_id, user_id)
        if admin is None:
            try:
                member = await bot.get_chat_member(chat_id, user_id, request_timeout=LOOKUP_TIMEOUT)
            except (TelegramAPIError, ClientDecodeError) as exc:
                # ClientDecodeError: an answer that is no JSON (a proxy's page), or JSON that is no member.
                # A streak of failures is one warning, not one per button press.
                if not self._failing:
                    log.warning("getChatMember failed (chat %d, user %d): %s", chat_id, user_id, exc)
                self._failing = True
                return Standing.UNKNOWN
            if self._failing:
                log.info("getChatMember answers again")
                self._failing = False
            admin = member.status in ADMIN_STATUSES
            self.remember(chat_id, user_id, admin)
        return Standing.ADMIN if admin else Standing.MEMBER


class AdminOnly(BaseMiddleware):
    """In groups, runs a handler flagged CHANGES_CHAT only for the group's admins; refuses anyone else."""

    def __init__(self, views: Views, admins: GroupAdmins) -> None:
        self.views = views
        self.admins = admins

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        """Handle the update, or refuse it politely when a non-admin tries to change a group."""
        chat: Chat | None = data.get("event_chat")
        if not get_flag(data, "changes_chat") or chat is None or chat.type not in GROUP_TYPES:
            return await handler(event, data)
        standing = await self._standing(event, chat, data)
        if standing is Standing.ADMIN:
            return await handler(event, data)
        log.info("chat %d: a change by a non-admin refused (%s)", chat.id, standing.value)
        await self._refuse(event, standing, str(data.get("lang") or "zh"))
        return None

    async def _standing(self, event: TelegramObject, chat: Chat, data: dict[str, Any]) -> Standing:
        user: User | None = data.get("event_from_user")
        if isinstance(event, Message) and event.sender_chat is not None:
            # Only an administrator can post as the group itself; any other sender chat (a linked channel,
            # a user posting as their channel) is no member whose rights could be looked up.
            own = event.sender_chat.id == chat.id and (user is None or user.id == ANONYMOUS_ADMIN_ID)
            return Standing.ADMIN if own else Standing.MEMBER
        bot: Bot | None = data.get("bot")
        if user is None or bot is None:
            return Standing.MEMBER
        return await self.admins.standing(bot, chat.id, user.id)

    async def _refuse(self, event: TelegramObject, standing: Standing, lang: str) -> None:
        t = self.views.translations
        if standing is Standing.UNKNOWN:
            text = t.gettext(
                lang, "I could not check who the group's admins are just now. Please try again later."
            )
        else:
            text = t.gettext(lang, "Only the group's admins can change what this group receives.")
        try:
            if isinstance(event, CallbackQuery):
                await event.answer(text[:200], show_alert=True)
            elif isinstance(event, Message):
                await event.answer(text)
        except TelegramAPIError as exc:
            log.info("the refusal could not be sent: %s", exc)
