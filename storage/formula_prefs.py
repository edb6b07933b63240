"""How each Telegram reader wants formulas shown: native math (rich messages) or readable text (HTML).

A reader who never chose follows their chat: a private chat gets native math, a group or channel text (the
clients of a group's members vary, and one broken bubble there is seen by many). The first rich message a
reader receives carries a one-tap switch to text; `claim_hint` says which message that is, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import aiosqlite

from storage.posts import iso

FormulaDisplay = Literal["native", "text"]
FORMULA_DISPLAYS: tuple[FormulaDisplay, ...] = ("native", "text")


def default_display(chat_type: str | None, chat_id: int) -> FormulaDisplay:
    """What a reader who never chose gets: native math in a private chat, text elsewhere."""
    if chat_type is None:
        return "native" if chat_id > 0 else "text"
    return "native" if chat_type == "private" else "text"


@dataclass(frozen=True, slots=True)
class FormulaPref:
    """A reader's way of showing formulas, whether they chose it, whether the switch was offered, and
    whether the chat is a stored reader at all (one that never sent /start has nowhere to keep anything)."""

    display: FormulaDisplay
    chosen: bool
    hint_sent: bool
    reader: bool = True


class FormulaPrefStore:
    """The formula_prefs table (one row per reader who chose or was offered the switch)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def get(self, chat_id: int) -> FormulaPref:
        """The reader's preference; a chat that is no reader gets its chat kind's default."""
        sql = (
            "SELECT s.chat_type, f.display, f.hint_sent_at FROM subscribers s "
            "LEFT JOIN formula_prefs f ON f.subscriber_id = s.id WHERE s.chat_id = ?"
        )
        async with self.conn.execute(sql, (chat_id,)) as c:
            row = await c.fetchone()
        if row is None:
            return FormulaPref(default_display(None, chat_id), False, False, reader=False)
        chat_type, display, hint = row
        if display in FORMULA_DISPLAYS:
            return FormulaPref(display, True, hint is not None)
        return FormulaPref(default_display(chat_type, chat_id), False, hint is not None)

    async def choose(self, chat_id: int, display: FormulaDisplay) -> bool:
        """Keep the reader's choice; False when the chat is no reader (it never sent /start)."""
        if display not in FORMULA_DISPLAYS:
            raise ValueError(f"unknown formula display {display!r}")
        cursor = await self.conn.execute(
            "INSERT INTO formula_prefs (subscriber_id, display) "
            "SELECT id, ? FROM subscribers WHERE chat_id = ? "
            "ON CONFLICT (subscriber_id) DO UPDATE SET display = excluded.display",
            (display, chat_id),
        )
        return cursor.rowcount > 0

    async def claim_hint(self, chat_id: int, now: datetime) -> bool:
        """Whether this is the reader's first rich message (the one that carries the switch): True once."""
        cursor = await self.conn.execute(
            "INSERT INTO formula_prefs (subscriber_id, hint_sent_at) "
            "SELECT id, ? FROM subscribers WHERE chat_id = ? "
            "ON CONFLICT (subscriber_id) DO UPDATE SET hint_sent_at = excluded.hint_sent_at "
            "WHERE formula_prefs.hint_sent_at IS NULL",
            (iso(now), chat_id),
        )
        return cursor.rowcount > 0
