"""/pause (a day, a week, or until /resume) and /resume: what is published meanwhile comes as one digest.
In groups, for admins (CHANGES_CHAT), as /subscribe is."""

from __future__ import annotations

from typing import Literal

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Message

from bot.common import edit_in_place, keyboard, pressed_in
from bot.middlewares import CHANGES_CHAT
from bot.views import Views
from bot.watch import macros
from notifier.services.choices import PAUSE_LENGTHS, Choices, PauseLength
from storage.subscribers import Subscriber

# What may follow /pause as words, in either language.
_WORDS: dict[str, PauseLength] = {
    "day": "day",
    "1d": "day",
    "一天": "day",
    "week": "week",
    "7d": "week",
    "一周": "week",
    "resume": "resume",
    "off": "resume",
}


class PauseFor(CallbackData, prefix="pause"):
    """A /pause button: a day, a week, or until /resume."""

    length: Literal["day", "week", "resume"]


def _until(choices: Choices, reader: Subscriber) -> str:
    return "" if reader.paused_until is None else choices.local_time(reader, reader.paused_until)


async def pause(message: Message, command: CommandObject, choices: Choices, views: Views, lang: str) -> None:
    """/pause: the three lengths as buttons (or a length given as a word)."""
    word = (command.args or "").strip().lower()
    length = _WORDS.get(word)
    if length is not None:
        chat = message.chat
        reader = await choices.pause(chat.id, length, chat_type=chat.type, lang=lang)
        await message.answer(str(macros(views, lang).pause_set(_until(choices, reader))).strip())
        return
    t = views.translations
    state = await choices.reader(message.chat.id)
    paused = state is not None and state.paused
    text = str(
        macros(views, lang).pause_choose(paused, "" if state is None else _until(choices, state))
    ).strip()
    labels = {
        "day": t.gettext(lang, "One day"),
        "week": t.gettext(lang, "One week"),
        "resume": t.gettext(lang, "Until /resume"),
    }
    markup = keyboard([[(labels[length], PauseFor(length=length).pack()) for length in PAUSE_LENGTHS]])
    await message.answer(text, reply_markup=markup)


async def chosen(
    query: CallbackQuery, callback_data: PauseFor, choices: Choices, views: Views, lang: str
) -> None:
    """A length pressed: paused from now."""
    message = pressed_in(query)
    await query.answer()
    if message is None:
        return
    chat = message.chat
    reader = await choices.pause(chat.id, callback_data.length, chat_type=chat.type, lang=lang)
    await edit_in_place(message, str(macros(views, lang).pause_set(_until(choices, reader))).strip(), None)


async def resume(message: Message, choices: Choices, views: Views, lang: str) -> None:
    """/resume: notifications again, and what came during the pause as one digest."""
    resumed = await choices.resume(message.chat.id)
    await message.answer(str(macros(views, lang).resumed(resumed)).strip())


def make_router() -> Router:
    """A fresh router with this module's handlers (a router belongs to one dispatcher)."""
    router = Router(name="pause")
    router.message.register(pause, Command("pause"), flags=CHANGES_CHAT)
    router.message.register(resume, Command("resume"), flags=CHANGES_CHAT)
    router.callback_query.register(chosen, PauseFor.filter(), flags=CHANGES_CHAT)
    return router
