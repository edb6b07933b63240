"""/forget: after a confirmation button, delete everything stored about the chat."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot.callbacks import ForgetAnswer
from bot.common import keyboard, pressed_in
from bot.middlewares import CHANGES_CHAT
from bot.views import Views
from notifier.services import Services


async def forget(message: Message, views: Views, lang: str) -> None:
    """Ask first: deleting cannot be undone."""
    t = views.translations
    buttons = [
        (t.gettext(lang, "Yes, delete everything"), ForgetAnswer(answer="y").pack()),
        (t.gettext(lang, "No, keep it"), ForgetAnswer(answer="n").pack()),
    ]
    await message.answer(views.render(lang, "forget_ask"), reply_markup=keyboard([buttons]))


async def answered(
    query: CallbackQuery,
    callback_data: ForgetAnswer,
    services: Services,
    views: Views,
    lang: str,
    default_lang: str,
) -> None:
    """Yes deletes (and answers in the sender's Telegram language, nothing being stored); no keeps."""
    message = pressed_in(query)
    await query.answer()
    if message is None:
        return
    if callback_data.confirmed:
        forgotten = await services.readers.forget(message.chat.id)
        await message.edit_text(views.render(default_lang, "forget_done", forgotten), reply_markup=None)
    else:
        await message.edit_text(views.render(lang, "forget_kept"), reply_markup=None)


def make_router() -> Router:
    """A fresh router with this module's handlers (a router belongs to one dispatcher)."""
    router = Router(name="forget")
    router.message.register(forget, Command("forget"), flags=CHANGES_CHAT)
    router.callback_query.register(answered, ForgetAnswer.filter(), flags=CHANGES_CHAT)
    return router
