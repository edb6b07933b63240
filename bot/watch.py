"""/watch <words>: save a search that brings matching new posts; /watch alone lists them, each with a remove
button. In groups, saving and removing are for admins (CHANGES_CHAT), as /subscribe is; anyone may list."""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.common import edit_in_place, keyboard, pressed_in
from bot.middlewares import CHANGES_CHAT
from bot.views import Views
from notifier.ingest.watching import watch_macros
from notifier.services.choices import ChoiceRefused, Choices, WatchList


class WatchRemove(CallbackData, prefix="watch-rm"):
    """The remove button of one watch, by its id (a reader can only remove their own)."""

    watch_id: int


def macros(views: Views, lang: str) -> Any:
    """The watch template's macros in `lang`."""
    return watch_macros(views.renderer, lang)


def listing(views: Views, lang: str, found: WatchList) -> tuple[str, InlineKeyboardMarkup | None]:
    """The list of watches and a remove button for each."""
    text = str(macros(views, lang).watch_list(found.watches, found.limit)).strip()
    rows = [[("✕ " + w.query, WatchRemove(watch_id=w.id).pack())] for w in found.watches]
    return text, keyboard(rows)


async def show(message: Message, choices: Choices, views: Views, lang: str) -> None:
    """/watch alone: the chat's watches and how to write one."""
    text, markup = listing(views, lang, await choices.watches(message.chat.id))
    await message.answer(text, reply_markup=markup)


async def add(message: Message, command: CommandObject, choices: Choices, views: Views, lang: str) -> None:
    """/watch <words>: save them (once), or say why not."""
    chat = message.chat
    found = macros(views, lang)
    try:
        added = await choices.watch(chat.id, command.args or "", chat_type=chat.type, lang=lang)
    except ChoiceRefused as exc:
        listed = await choices.watches(chat.id)
        await message.answer(str(found.watch_refused(exc.reason, listed.limit, listed.chars)).strip())
        return
    await message.answer(str(found.watch_added(added.watch.query, added.created)).strip())


async def remove(
    query: CallbackQuery, callback_data: WatchRemove, choices: Choices, views: Views, lang: str
) -> None:
    """A remove button: the watch goes, and the list is shown again in place."""
    message = pressed_in(query)
    if message is None:
        await query.answer()
        return
    removed = await choices.unwatch(message.chat.id, callback_data.watch_id)
    await query.answer(str(macros(views, lang).watch_removed(removed.query if removed else "")).strip())
    text, markup = listing(views, lang, await choices.watches(message.chat.id))
    await edit_in_place(message, text, markup)


def make_router() -> Router:
    """A fresh router with this module's handlers (a router belongs to one dispatcher)."""
    router = Router(name="watch")
    router.message.register(show, Command("watch", magic=F.args.is_(None)))
    router.message.register(add, Command("watch"), flags=CHANGES_CHAT)
    router.callback_query.register(remove, WatchRemove.filter(), flags=CHANGES_CHAT)
    return router
