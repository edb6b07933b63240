"""The time zone of a reader's digest hour, picked from /settings: common zones and whole UTC offsets."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup

from bot.common import edit_in_place, keyboard, pressed_in
from bot.middlewares import CHANGES_CHAT
from bot.views import Views
from bot.watch import macros
from notifier.services.choices import ChoiceRefused, Choices
from notifier.services.zones import COMMON_ZONES, OFFSETS, offset_name
from storage.subscribers import Subscriber

ZONES = COMMON_ZONES + tuple(offset_name(hours) for hours in OFFSETS)


class ZoneMenu(CallbackData, prefix="tz"):
    """The /settings button that opens the zone picker."""


class ZonePick(CallbackData, prefix="tz-pick"):
    """One zone of the picker, by its place in `ZONES` (a zone name holds the data's separator)."""

    index: int


def zone_row(choices: Choices, reader: Subscriber) -> list[tuple[str, str]]:
    """The /settings row showing the reader's zone; pressing it opens the picker."""
    return [("🌐 " + choices.zone_name(reader), ZoneMenu().pack())]


def picker(current: str) -> InlineKeyboardMarkup | None:
    """Every zone on offer, the current one ticked: the named ones two a row, the offsets four."""

    def button(index: int) -> tuple[str, str]:
        zone = ZONES[index]
        return (("✓ " if zone == current else "") + zone, ZonePick(index=index).pack())

    named = list(range(len(COMMON_ZONES)))
    offsets = list(range(len(COMMON_ZONES), len(ZONES)))
    rows = [[button(i) for i in named[n : n + 2]] for n in range(0, len(named), 2)]
    rows += [[button(i) for i in offsets[n : n + 4]] for n in range(0, len(offsets), 4)]
    return keyboard(rows)


async def open_menu(query: CallbackQuery, choices: Choices, views: Views, lang: str) -> None:
    """The picker, in place of the settings."""
    message = pressed_in(query)
    await query.answer()
    if message is None:
        return
    reader = await choices.reader(message.chat.id)
    current = "" if reader is None else choices.zone_name(reader)
    await edit_in_place(message, str(macros(views, lang).zone_choose(current)).strip(), picker(current))


async def pick(
    query: CallbackQuery, callback_data: ZonePick, choices: Choices, views: Views, lang: str
) -> None:
    """A zone pressed: stored, and the picker shows it ticked."""
    message = pressed_in(query)
    if message is None or not 0 <= callback_data.index < len(ZONES):
        await query.answer()
        return
    try:
        reader = await choices.set_time_zone(message.chat.id, ZONES[callback_data.index])
    except ChoiceRefused:
        await query.answer(views.translations.gettext(lang, "Send /start first."))
        return
    current = choices.zone_name(reader)
    await query.answer(current)
    await edit_in_place(message, str(macros(views, lang).zone_choose(current)).strip(), picker(current))


def make_router() -> Router:
    """A fresh router with this module's handlers (a router belongs to one dispatcher)."""
    router = Router(name="zones")
    router.callback_query.register(open_menu, ZoneMenu.filter(), flags=CHANGES_CHAT)
    router.callback_query.register(pick, ZonePick.filter(), flags=CHANGES_CHAT)
    return router
