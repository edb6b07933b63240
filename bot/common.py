"""Small helpers the routers share: keyboards, the chat a button was pressed in, commands and their lines."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from digest.i18n import Translations

# A button's label is cut here: Telegram shows about this much on a phone, and a series name can be long.
LABEL_CHARS = 48
# A reader's words quoted back in an answer are cut here: a 4096-character name in a template would not fit.
ECHO_CHARS = 200


def label(text: str, limit: int = LABEL_CHARS) -> str:
    """`text` cut to fit on a button."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def keyboard(rows: Sequence[Sequence[tuple[str, str]]]) -> InlineKeyboardMarkup | None:
    """An inline keyboard of (label, callback data) rows; None when every row is empty."""
    built = [
        [InlineKeyboardButton(text=label(text), callback_data=data) for text, data in row]
        for row in rows
        if row
    ]
    return InlineKeyboardMarkup(inline_keyboard=built) if built else None


def pressed_in(query: CallbackQuery) -> Message | None:
    """The message under which a button was pressed, when it is still accessible."""
    message = query.message
    return message if isinstance(message, Message) else None


async def edit_in_place(message: Message, text: str, markup: InlineKeyboardMarkup | None) -> None:
    """Replace a message's text and buttons; pressing the same button twice (no change) is not an error."""
    try:
        await message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest as exc:
        # Telegram reports an edit that changes nothing as an error.
        if "not modified" not in exc.message:
            raise


def display_name(message: Message) -> str:
    """How to greet the sender: their first name, else the chat's title."""
    if message.from_user is not None and not message.from_user.is_bot:
        return message.from_user.first_name
    return message.chat.title or message.chat.first_name or ""


def commands(t: Translations, lang: str, *, admin: bool = False) -> list[tuple[str, str]]:
    """Every command and its one-line description in `lang` (the /help list and the Telegram menu)."""
    listed = [
        ("start", t.gettext(lang, "Start, and subscribe with one button")),
        ("latest", t.gettext(lang, "The newest posts (/latest 10 for ten)")),
        ("search", t.gettext(lang, "Search the whole archive")),
        ("series", t.gettext(lang, "Every series, or one series by name")),
        ("subscribe", t.gettext(lang, "Get every new post, or one series")),
        ("unsubscribe", t.gettext(lang, "Stop everything, or one series")),
        ("watch", t.gettext(lang, "Watch words: matching new posts come to you")),
        ("pause", t.gettext(lang, "Pause notifications for a day or a week")),
        ("resume", t.gettext(lang, "End a pause")),
        ("settings", t.gettext(lang, "Instant or digest, hour, time zone, language")),
        ("email", t.gettext(lang, "The weekly email: /email you@example.com")),
        ("forget", t.gettext(lang, "Delete everything stored about you")),
        ("help", t.gettext(lang, "This list")),
    ]
    if admin:
        listed.append(("stats", t.gettext(lang, "Figures for the admins")))
    return listed
