"""/start: welcome and a subscribe button; reactivates after a block; `/start s<id>` follows a series."""

from __future__ import annotations

import logging
import re

from aiogram import Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import CallbackQuery, Message

from bot.callbacks import FollowAll
from bot.common import display_name, keyboard, pressed_in
from bot.middlewares import CHANGES_CHAT
from bot.views import Views
from notifier.services import Services

log = logging.getLogger(__name__)

# A deep link's payload: `s` and the series number the store assigned (Telegram allows A-Za-z0-9_- only).
_SERIES_LINK = re.compile(r"s([1-9][0-9]{0,8})")


def series_payload(args: str | None) -> int | None:
    """The series number of a `/start s<id>` payload, or None for anything else."""
    found = _SERIES_LINK.fullmatch((args or "").strip())
    return int(found.group(1)) if found else None


async def start(
    message: Message, command: CommandObject, services: Services, views: Views, default_lang: str
) -> None:
    """Create or reactivate the reader, follow a deep link's series, and greet."""
    chat = message.chat
    result = await services.readers.start(
        chat.id, chat_type=chat.type, lang=default_lang, series_id=series_payload(command.args)
    )
    started = result.started
    lang = started.subscriber.lang
    log.info("chat %d: /start (created %s, reactivated %s)", chat.id, started.created, started.reactivated)
    follows = (await services.readers.reader(chat.id)).follows
    text = views.render(
        lang,
        "welcome",
        display_name(message),
        started.created,
        started.reactivated,
        None if result.series is None else result.series.name,
        None if result.change is None else result.change.value,
        follows.everything,
    )
    t = views.translations
    buttons = (
        [] if follows.everything else [(t.gettext(lang, "Subscribe to every new post"), FollowAll().pack())]
    )
    await message.answer(text, reply_markup=keyboard([buttons]))


async def follow_all(query: CallbackQuery, services: Services, views: Views, lang: str) -> None:
    """The welcome's button: subscribe this chat to every new post."""
    message = pressed_in(query)
    if message is None:
        await query.answer(
            views.translations.gettext(lang, "This button no longer works; please send the command again.")
        )
        return
    change = await services.readers.subscribe(message.chat.id, chat_type=message.chat.type, lang=lang)
    value = change.change.value if change.change is not None else "already"
    await query.answer()
    await message.answer(views.render(lang, "subscription", "subscribe", value, None))


def make_router() -> Router:
    """A fresh router with this module's handlers (a router belongs to one dispatcher)."""
    router = Router(name="start")
    # /start creates or reactivates the chat's reader, sets its language and may follow a series.
    router.message.register(start, CommandStart(), flags=CHANGES_CHAT)
    router.callback_query.register(follow_all, FollowAll.filter(), flags=CHANGES_CHAT)
    return router
