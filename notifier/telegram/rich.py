"""Rich messages (native math) and their memory: which chats refused them, what each reader prefers.

Telegram's rich messages (`sendRichMessage`, Bot API 10.1+) take `<tg-math>` and `<tg-math-block>` elements
holding LaTeX. A message about posts is rendered twice from the same blocks: the HTML (math already readable
Unicode) and a rich variant. The adapter tries the rich one where it has math, the chat has not refused it
and the reader takes native math; a refusal (404 from a server without the method, a 400) sends the HTML
instead and is remembered for that chat in memory and, with a store, in the database.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Button:
    """One inline button: a link (`url`) or a callback (`data`)."""

    text: str
    url: str | None = None
    data: str | None = None


Keyboard = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True, slots=True)
class RichMessage:
    """One message in both forms: the HTML messages (always) and the rich HTML (when it has math)."""

    html: tuple[str, ...]
    rich: str | None
    # The (label, callback data) of the switch to text, shown under the reader's first rich message.
    switch: tuple[str, str] | None = None


class RefusalMemory:
    """The chats that refused a rich message (bounded, oldest forgotten first), and a server-wide refusal."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._chats: OrderedDict[int | str, None] = OrderedDict()
        self.server_refused = False

    def refused(self, chat_id: int | str) -> bool:
        """Whether rich messages are known not to work for this chat."""
        return self.server_refused or chat_id in self._chats

    def remember(self, chat_id: int | str, *, server: bool = False) -> None:
        """Rich messages failed for this chat (`server`: the API has no such method at all)."""
        self.server_refused = self.server_refused or server
        self._chats[chat_id] = None
        self._chats.move_to_end(chat_id)
        while len(self._chats) > self.capacity:
            self._chats.popitem(last=False)


class RefusalStore(Protocol):
    """Where a chat's refusal of rich messages is kept across restarts."""

    async def rich_refused(self, chat_id: int) -> bool:
        """Whether this chat refused a rich message before."""
        ...

    async def remember_rich_refused(self, chat_id: int) -> None:
        """Keep that this chat refuses rich messages."""
        ...


class FormulaPrefs(Protocol):
    """A reader's choice between native math and text (notifier.services.formulas.FormulaChoice)."""

    async def wants_native(self, chat_id: int) -> bool:
        """Whether this chat takes native math."""
        ...

    async def offer_switch(self, chat_id: int) -> bool:
        """Whether the rich message about to go out is this reader's first (it carries the switch)."""
        ...
