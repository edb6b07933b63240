"""The formula-display buttons: the two of /settings and the one-tap switch under a first rich message.

The handler is in bot/formulas.py; this module holds only the buttons, so /latest and /settings can draw them.
"""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from digest.i18n import Translations
from notifier.services.formulas import AGAIN_POST, SWITCH_PREFIX

__all__ = [
    "AGAIN_LATEST",
    "AGAIN_POST",
    "AGAIN_SETTINGS",
    "FormulaButton",
    "settings_row",
    "switch_button",
    "without_switch",
]

# What a switch sends again: a /latest page (offset, count).
AGAIN_LATEST = "l"
# The /settings buttons: the settings message is drawn again in place.
AGAIN_SETTINGS = "s"
# The prefix the sender of notifications writes too (notifier.services.formulas.switch_data).
PREFIX = SWITCH_PREFIX


class FormulaButton(CallbackData, prefix=PREFIX):
    """A formula-display button: the display it chooses, and what to show again (`again`, `a`, `b`)."""

    to: str
    again: str = ""
    a: int = 0
    b: int = 0


def switch_button(t: Translations, lang: str, again: str, a: int = 0, b: int = 0) -> tuple[str, str]:
    """The one-tap switch to text under a rich message: (label, callback data)."""
    return t.gettext(lang, "Formulas look wrong?"), FormulaButton(to="text", again=again, a=a, b=b).pack()


def settings_row(t: Translations, lang: str, display: str) -> list[tuple[str, str]]:
    """The two /settings buttons, the current one ticked."""

    def mark(chosen: bool, text: str) -> str:
        return ("✓ " if chosen else "") + text

    return [
        (
            mark(display == "native", t.gettext(lang, "Native formulas")),
            FormulaButton(to="native", again=AGAIN_SETTINGS).pack(),
        ),
        (
            mark(display == "text", t.gettext(lang, "Formulas as text")),
            FormulaButton(to="text", again=AGAIN_SETTINGS).pack(),
        ),
    ]


def without_switch(markup: InlineKeyboardMarkup | None) -> InlineKeyboardMarkup | None:
    """`markup` without its formula switch (the message keeps its other buttons)."""
    if markup is None:
        return None
    rows: list[list[InlineKeyboardButton]] = [
        [b for b in row if not (b.callback_data or "").startswith(PREFIX + ":")]
        for row in markup.inline_keyboard
    ]
    kept = [row for row in rows if row]
    return InlineKeyboardMarkup(inline_keyboard=kept) if kept else None
