"""/subscribe [series] and /unsubscribe [series]: each says what changed."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.series import answer_lookup
from bot.views import Views
from notifier.services import Services, SubscriptionChange

router = Router(name="subscribe")


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


@router.message(Command("subscribe"))
async def subscribe(
    message: Message, command: CommandObject, services: Services, views: Views, lang: str
) -> None:
    """Every new post, or one series."""
    name = (command.args or "").strip()
    chat = message.chat
    result = await services.subscribe(chat.id, name or None, chat_type=chat.type, lang=lang)
    await _answer(message, "subscribe", name, result, services, views, lang)


@router.message(Command("unsubscribe"))
async def unsubscribe(
    message: Message, command: CommandObject, services: Services, views: Views, lang: str
) -> None:
    """Stop everything, or one series."""
    name = (command.args or "").strip()
    result = await services.unsubscribe(message.chat.id, name or None)
    await _answer(message, "unsubscribe", name, result, services, views, lang)
