"""The tests' check of a Telegram message: the code's own parser of the HTML parse mode (digest/telegram.py,
the one oracle the Bot API double uses too) and Telegram's length limit."""

from __future__ import annotations

from dataclasses import dataclass

from digest.telegram import TELEGRAM_LIMIT, HtmlParseError, parse_telegram_html, utf16_length

# What a refused message raises (the parser's own error: why Telegram would refuse it).
InvalidTelegramHtml = HtmlParseError


@dataclass(frozen=True)
class Checked:
    """What Telegram reads of a message: the visible text and its UTF-16 length."""

    text: str
    utf16: int


def check_telegram_html(html: str) -> Checked:
    """The message as Telegram reads it; HtmlParseError where Telegram refuses it, or it is too long."""
    text, _ = parse_telegram_html(html)
    length = utf16_length(text)
    if length > TELEGRAM_LIMIT:
        raise HtmlParseError(f"message is too long: {length} > {TELEGRAM_LIMIT} UTF-16 units")
    return Checked(text, length)
