"""/subscribe [series] and /unsubscribe [series]: each says what changed."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.middlewares import CHANGES_CHAT
from bot.series import answer_lookup
from bot.views import Views
from notifier.services import Services, SubscriptionChange


async def _answer(
    message: Message,
    action: str,
    name: str,
    result: SubscriptionChange,
    services: Services,
    views: Views,
    lang: str,
) -> None:
    if result.change is None and result.lookup is not None:
        await answer_lookup(message, name, result.lookup, services, views, lang)
        return
    change = result.change.value if result.change is not None else "already"
    series = result.series.name if result.series is not None else None
    await message.answer(views.render(lang, "subscription", action, change, series))


async def subscribe(
    message: Message, command: CommandObject, services: Services, views: Views, lang: str
) -> None:
    """Every new post, or one series."""
    name = (command.args or "").strip()
    chat = message.chat
    result = await services.readers.subscribe(chat.id, name or None, chat_type=chat.type, lang=lang)
    await _answer(message, "subscribe", name, result, services, views, lang)


async def unsubscribe(
    message: Message, command: CommandObject, services: Services, views: Views, lang: str
) -> None:
    """Stop everything, or one series."""
    name = (command.args or "").strip()
    result = await services.readers.unsubscribe(message.chat.id, name or None)
    await _answer(message, "unsubscribe", name, result, services, views, lang)


def make_router() -> Router:
    """A fresh router with this module's handlers (a router belongs to one dispatcher)."""
    router = Router(name="subscribe")
    router.message.register(subscribe, Command("subscribe"), flags=CHANGES_CHAT)
    router.message.register(unsubscribe, Command("unsubscribe"), flags=CHANGES_CHAT)
    return router
