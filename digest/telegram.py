"""Telegram's measure of a message: UTF-16 code units of its text once tags and entities are parsed."""

from __future__ import annotations

from html.parser import HTMLParser

TELEGRAM_LIMIT = 4096

# The tags Telegram's HTML parse mode accepts (https://core.telegram.org/bots/api#html-style).
ALLOWED_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "a",
        "code",
        "pre",
        "blockquote",
    }
)


def utf16_length(text: str) -> int:
    """How many UTF-16 code units `text` takes: characters beyond the BMP count twice."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def telegram_length(html: str) -> int:
    """The length Telegram checks against its 4,096 limit, for a message in its HTML parse mode."""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    return utf16_length("".join(collector.parts))
