"""/settings: delivery mode (instant, or a daily or weekly digest with its hour and day), language, and how
formulas are shown (native math or text; its buttons are handled in bot/formulas.py)."""

from __future__ import annotations

from dataclasses import dataclass

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Chat, InlineKeyboardMarkup, Message

from bot.callbacks import SettingChange
from bot.common import edit_in_place, keyboard, pressed_in
from bot.formula_buttons import settings_row
from bot.middlewares import CHANGES_CHAT
from bot.views import Views
from bot.zones import zone_row
from notifier.services import Services
from notifier.services.choices import Choices
from notifier.services.formulas import FormulaChoice
from storage.subscribers import Subscriber


@dataclass(frozen=True, slots=True)
class SettingsView:
    """A reader's settings as the message shows them."""

    mode: str
    hour: int
    day: int
    lang: str
    follows_all: bool
    series: tuple[str, ...]
    formulas: str = ""


async def reader_of(services: Services, chat: Chat) -> Subscriber | None:
    """The chat's reader; None when nothing is stored (it never sent /start, or sent /forget): settings
    never bring a forgotten reader back, only /start does."""
    return (await services.readers.reader(chat.id)).subscriber


async def settings_message(
    services: Services,
    views: Views,
    reader: Subscriber,
    choices: Choices,
    formulas: FormulaChoice | None = None,
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The settings text and its buttons, in the reader's language."""
    lang = reader.lang
    display = "" if formulas is None else (await formulas.preference(reader.chat_id)).display
    follows = (await services.readers.reader(reader.chat_id)).follows
    names = {key: ref.name for key, ref in (await services.archive.series_refs()).items()}
    view = SettingsView(
        reader.mode,
        reader.digest_hour,
        reader.digest_day,
        lang,
        follows.everything,
        tuple(sorted(names.get(key, key) for key in follows.series_keys)),
        display,
    )
    t = views.translations

    def mark(chosen: bool, text: str) -> str:
        return ("✓ " if chosen else "") + text

    rows: list[list[tuple[str, str]]] = [
        [
            (
                mark(reader.mode == "instant", t.gettext(lang, "Instant")),
                SettingChange(kind="m", value="instant").pack(),
            ),
            (
                mark(reader.mode == "daily", t.gettext(lang, "Daily")),
                SettingChange(kind="m", value="daily").pack(),
            ),
            (
                mark(reader.mode == "weekly", t.gettext(lang, "Weekly")),
                SettingChange(kind="m", value="weekly").pack(),
            ),
        ]
    ]
    if reader.mode != "instant":
        # Steps of one hour and of six: any hour is at most four presses away.
        rows.append(
            [
                (
                    f"{label} {(reader.digest_hour + step) % 24:02d}:00",
                    SettingChange(kind="h", value=value).pack(),
                )
                if step < 0
                else (
                    f"{(reader.digest_hour + step) % 24:02d}:00 {label}",
                    SettingChange(kind="h", value=value).pack(),
                )
                for step, value, label in ((-6, "-6", "◂◂"), (-1, "-1", "◂"), (1, "+1", "▸"), (6, "+6", "▸▸"))
            ]
        )
    if reader.mode != "instant":
        rows.append(zone_row(choices, reader))
    if reader.mode == "weekly":
        days = (
            views.render(lang, "weekday", (reader.digest_day - 1) % 7),
            views.render(lang, "weekday", (reader.digest_day + 1) % 7),
        )
        rows.append(
            [
                (f"◂ {days[0]}", SettingChange(kind="d", value="-1").pack()),
                (f"{days[1]} ▸", SettingChange(kind="d", value="+1").pack()),
            ]
        )
    rows.append(
        [
            (mark(lang == "zh", "中文"), SettingChange(kind="l", value="zh").pack()),
            (mark(lang == "en", "English"), SettingChange(kind="l", value="en").pack()),
        ]
    )
    if display:
        rows.append(settings_row(t, lang, display))
    return views.render(lang, "settings", view), keyboard(rows)


async def settings(
    message: Message, services: Services, views: Views, lang: str, choices: Choices, formulas: FormulaChoice
) -> None:
    """Show the settings with their buttons."""
    reader = await reader_of(services, message.chat)
    if reader is None:
        nothing = "Nothing is stored about this chat. Send /start to begin."
        await message.answer(views.translations.gettext(lang, nothing))
        return
    text, markup = await settings_message(services, views, reader, choices, formulas)
    await message.answer(text, reply_markup=markup)


async def change(
    query: CallbackQuery,
    callback_data: SettingChange,
    services: Services,
    views: Views,
    lang: str,
    choices: Choices,
    formulas: FormulaChoice,
) -> None:
    """Apply one button and show the settings again, in place."""
    message = pressed_in(query)
    await query.answer()
    if message is None:
        return
    reader = await reader_of(services, message.chat)
    if reader is None:
        nothing = "Nothing is stored about this chat. Send /start to begin."
        await message.answer(views.translations.gettext(lang, nothing))
        return
    chat_id = reader.chat_id
    if callback_data.kind == "m" and callback_data.mode is not None:
        reader = await services.readers.set_mode(chat_id, callback_data.mode)
    elif callback_data.kind == "h" and reader.mode != "instant":
        hour = (reader.digest_hour + int(callback_data.value)) % 24
        reader = await services.readers.set_mode(chat_id, reader.mode, hour=hour)
    elif callback_data.kind == "d" and reader.mode == "weekly":
        day = (reader.digest_day + int(callback_data.value)) % 7
        reader = await services.readers.set_mode(chat_id, reader.mode, day=day)
    elif callback_data.kind == "l" and callback_data.value in views.languages:
        reader = await services.readers.set_language(chat_id, callback_data.value)
    text, markup = await settings_message(services, views, reader, choices, formulas)
    await edit_in_place(message, text, markup)


def make_router() -> Router:
    """A fresh router with this module's handlers (a router belongs to one dispatcher)."""
    router = Router(name="settings")
    router.message.register(settings, Command("settings"))
    router.callback_query.register(change, SettingChange.filter(), flags=CHANGES_CHAT)
    return router
