"""How each Telegram reader sees formulas: native math in rich messages, or readable text in HTML.

The reader's choice lives in the database (storage/formula_prefs.py); one who never chose follows the chat
(private: native, group or channel: text). The first rich message a reader receives offers a one-tap switch to
text: `offer_switch` answers True for that message only, whichever process sends it.
"""

from __future__ import annotations

import logging

from notifier.config import Clock
from storage.db import Database
from storage.formula_prefs import FormulaDisplay, FormulaPref
from storage.uow import read_stores, unit_of_work

log = logging.getLogger(__name__)

# The switch's callback data, as bot/formula_buttons.py's FormulaButton packs it (the bot parses it):
# `fx:text:<again>:<a>:<b>`; the sender of notifications writes it with again = "p" and a = the post's key.
SWITCH_PREFIX = "fx"
AGAIN_POST = "p"


def switch_data(again: str, a: int = 0, b: int = 0) -> str:
    """The callback data of the switch to text that sends a message again (`again`: what, `a`, `b`: which)."""
    return f"{SWITCH_PREFIX}:text:{again}:{a}:{b}"


class FormulaChoice:
    """Reads and changes a reader's formula display, and hands out the one-time switch offer."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def preference(self, chat_id: int) -> FormulaPref:
        """The reader's formula display (their choice, or their chat kind's default)."""
        return await read_stores(self.db).formula_prefs.get(chat_id)

    async def wants_native(self, chat_id: int) -> bool:
        """Whether messages to this chat should carry native math (rich messages)."""
        return (await self.preference(chat_id)).display == "native"

    async def choose(self, chat_id: int, display: FormulaDisplay) -> bool:
        """Keep the reader's choice; False for a chat that is no reader."""
        async with unit_of_work(self.db) as uow:
            done = await uow.formula_prefs.choose(chat_id, display)
        if done:
            log.info("chat %d: formulas shown as %s", chat_id, display)
        return done

    async def offer_switch(self, chat_id: int) -> bool:
        """Whether the rich message about to go to this chat is the reader's first (it carries the switch).

        A reader who chose for themselves is never offered it; a chat that never sent /start is offered it
        every time (nothing can be kept for it, and a button is better than no way out).
        """
        preference = await self.preference(chat_id)
        if preference.chosen:
            return False
        if not preference.reader:
            return True
        async with unit_of_work(self.db) as uow:
            return await uow.formula_prefs.claim_hint(chat_id, self.clock())
