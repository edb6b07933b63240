"""The last router: unknown commands get a helpful line, a private message is a search, and a button whose
data was never ours (or no longer parses) gets a polite answer instead of a crash."""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.types import CallbackQuery, Message

from bot.callbacks import SearchMemory
from bot.search import answer_search
from bot.views import Views
from notifier.services import Services

log = logging.getLogger(__name__)


async def unknown_command(message: Message, bot: Bot, views: Views, lang: str) -> None:
    """A command we do not have: in a group only when addressed to us (it may be another bot's)."""
    word = (message.text or "").split(maxsplit=1)[0]
    _, _, mention = word.partition("@")
    if message.chat.type != ChatType.PRIVATE:
        me = await bot.me()
        if not mention or mention.lower() != (me.username or "").lower():
            return
    await message.answer(views.render(lang, "unknown_command"))


async def private_text(
    message: Message, services: Services, views: Views, searches: SearchMemory, lang: str
) -> None:
    """Words sent to the bot in private are a search."""
    await answer_search(message, message.text or "", services, views, searches, lang)


async def stale_button(query: CallbackQuery, views: Views, lang: str) -> None:
    """A button we cannot read: an old release's, or data that was never ours."""
    log.info(
        "callback from user %d with data we do not know: %r", query.from_user.id, (query.data or "")[:64]
    )
    await query.answer(
        views.translations.gettext(lang, "This button no longer works; please send the command again.")
    )


def make_router() -> Router:
    """A fresh router with this module's handlers (a router belongs to one dispatcher)."""
    router = Router(name="fallback")
    router.message.register(unknown_command, F.text.startswith("/"))
    router.message.register(private_text, F.chat.type == ChatType.PRIVATE, F.text)
    router.callback_query.register(stale_button)
    return router
