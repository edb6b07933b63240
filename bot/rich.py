"""Formulas as Telegram draws them: posts sent as rich messages with native math, else as HTML with Unicode.

Telegram's rich messages (`sendRichMessage`, Bot API 10.1+) take `<tg-math>` and `<tg-math-block>` elements
holding LaTeX. A message about posts is rendered twice from the same blocks: the HTML the digest renderer
makes (math already readable Unicode), and a rich variant where each excerpt is re-cut from the stored LaTeX
with its formulas as math elements. `RichSender.send` tries the rich one where it has math and the chat has
not refused it; a refusal (404 from a server without the method, a 400) sends the HTML messages instead and
is remembered for that chat, in memory, for the life of the process (a restart tries once more).

The sender of notifications (issue 10) reuses `RichSender` and `rich_excerpt` as they are.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramNotFound
from aiogram.types import InlineKeyboardMarkup, InputRichMessage, Message

from archive.latex import render_math, split_math
from digest.excerpt import ELLIPSIS, drop_repeated_lines

log = logging.getLogger(__name__)

# A placeholder for an excerpt inside rendered HTML: NUL never comes out of a template otherwise.
_SLOT = "\x00rich:{}\x00"
_SLOT_RE = re.compile("\x00rich:([0-9]+)\x00")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BREAKS = re.compile(r"\s*\n\s*")
_MAX_RAW = 8000


def rich_excerpt(raw: str, shown: str) -> str | None:
    """The excerpt `shown` (digest Unicode, maybe cut with `…`) as rich HTML with its formulas as LaTeX.

    It covers as many rendered characters as `shown` does, so both variants say the same; None when the
    shown part holds no formula (an HTML message says it as well).
    """
    cut = shown.endswith(ELLIPSIS)
    target = len(shown.removesuffix(ELLIPSIS).rstrip())
    parts: list[str] = []
    used = 0
    math = False
    for segment in split_math(drop_repeated_lines(raw[:_MAX_RAW])):
        if used >= target or not segment.closed:
            break
        if segment.kind == "text" or segment.source.startswith(("\\ref", "\\eqref")):
            text = segment.source if segment.kind == "text" else render_math(segment.source)
            text = _BREAKS.sub("\n", _SPACES.sub(" ", text))
            if not parts:
                text = text.lstrip()
            piece = text[: target - used]
            parts.append(escape(piece, quote=False))
            used += len(piece)
            continue
        source = segment.source.strip()
        if not source:
            continue
        display = segment.kind == "display"
        tag = "tg-math-block" if display else "tg-math"
        parts.append(f"<{tag}>{escape(source, quote=False)}</{tag}>")
        used += len(render_math(source, display=display))
        math = True
    if not math:
        return None
    text = "".join(parts).rstrip()
    return text + ELLIPSIS if cut else text


def excerpt_slot(index: int) -> str:
    """The placeholder a rich variant puts where excerpt `index` goes (see `fill_slots`)."""
    return _SLOT.format(index)


def fill_slots(html: str, excerpts: Sequence[str]) -> str:
    """`html` with each placeholder replaced by its rich excerpt (already escaped HTML)."""
    return _SLOT_RE.sub(lambda m: excerpts[int(m.group(1))], html)


@dataclass(frozen=True, slots=True)
class RichMessage:
    """One message in both forms: the HTML messages (always) and the rich HTML (when it has math)."""

    html: tuple[str, ...]
    rich: str | None


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


class RichSender:
    """Sends a `RichMessage`: rich when enabled, it has math and the chat takes it; else its HTML."""

    def __init__(self, *, enabled: bool = True, memory: RefusalMemory | None = None) -> None:
        self.enabled = enabled
        self.memory = memory or RefusalMemory()

    async def send(
        self,
        bot: Bot,
        chat_id: int | str,
        message: RichMessage,
        reply_markup: InlineKeyboardMarkup | None = None,
    ) -> list[Message]:
        """Send `message` to `chat_id`, the keyboard under its last part; the messages sent."""
        if self.enabled and message.rich is not None and not self.memory.refused(chat_id):
            try:
                sent = await bot.send_rich_message(
                    chat_id, InputRichMessage(html=message.rich), reply_markup=reply_markup
                )
                return [sent]
            except TelegramNotFound:
                log.warning("chat %s: the Bot API has no sendRichMessage; sending HTML from now on", chat_id)
                self.memory.remember(chat_id, server=True)
            except TelegramBadRequest as exc:
                log.info("chat %s: rich message refused (%s); HTML from now on", chat_id, exc.message)
                self.memory.remember(chat_id)
        out: list[Message] = []
        last = len(message.html) - 1
        for index, html in enumerate(message.html):
            markup = reply_markup if index == last else None
            out.append(await bot.send_message(chat_id, html, reply_markup=markup))
        return out
