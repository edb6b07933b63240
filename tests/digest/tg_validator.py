"""A small validator for Telegram's HTML parse mode: allowed tags only, balanced, and the length it counts."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

# Tag → the attributes Telegram accepts on it.
ALLOWED: dict[str, frozenset[str]] = {
    "b": frozenset(),
    "strong": frozenset(),
    "i": frozenset(),
    "em": frozenset(),
    "u": frozenset(),
    "ins": frozenset(),
    "s": frozenset(),
    "strike": frozenset(),
    "del": frozenset(),
    "span": frozenset({"class"}),
    "tg-spoiler": frozenset(),
    "a": frozenset({"href"}),
    "code": frozenset({"class"}),
    "pre": frozenset(),
    "blockquote": frozenset({"expandable"}),
}


@dataclass(frozen=True)
class Checked:
    """What the validator found: the visible text and its UTF-16 length."""

    text: str
    utf16: int


class InvalidTelegramHtml(AssertionError):
    """The message would be rejected by Telegram's HTML parser."""


class _Validator(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED:
            raise InvalidTelegramHtml(f"tag <{tag}> is not allowed")
        for name, _ in attrs:
            if name not in ALLOWED[tag]:
                raise InvalidTelegramHtml(f"attribute {name} is not allowed on <{tag}>")
        if tag == "a" and not dict(attrs).get("href"):
            raise InvalidTelegramHtml("<a> without href")
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise InvalidTelegramHtml(f"self-closing <{tag}/> is not allowed")

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            raise InvalidTelegramHtml(f"</{tag}> does not close the open tag {self.stack[-1:] or 'none'}")
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        raise InvalidTelegramHtml("comments are not allowed")

    def handle_decl(self, decl: str) -> None:
        raise InvalidTelegramHtml("declarations are not allowed")

    def handle_pi(self, data: str) -> None:
        raise InvalidTelegramHtml("processing instructions are not allowed")

    def unknown_decl(self, data: str) -> None:
        raise InvalidTelegramHtml("CDATA is not allowed")


def check_telegram_html(message: str, limit: int = 4096) -> Checked:
    """Parse `message` as Telegram would; raise InvalidTelegramHtml unless it is valid and within `limit`."""
    validator = _Validator()
    validator.feed(message)
    validator.close()
    if validator.stack:
        raise InvalidTelegramHtml(f"unclosed tags: {validator.stack}")
    # A bare `<`, `>` or `&` that is not part of a tag or an entity is rejected: all text must be escaped.
    raw_text = _raw_text(message)
    if "<" in raw_text or ">" in raw_text:
        raise InvalidTelegramHtml("an unescaped < or > in the text")
    for index, char in enumerate(raw_text):
        if char == "&" and not _is_entity(raw_text, index):
            raise InvalidTelegramHtml("an unescaped & in the text")
    text = "".join(validator.text)
    utf16 = len(text.encode("utf-16-le", "surrogatepass")) // 2
    if utf16 > limit:
        raise InvalidTelegramHtml(f"{utf16} UTF-16 units, over the limit of {limit}")
    return Checked(text, utf16)


def _raw_text(message: str) -> str:
    """The message with its tags removed but entities left as written."""
    out: list[str] = []
    index = 0
    while index < len(message):
        if message[index] == "<":
            end = message.find(">", index)
            if end < 0:
                raise InvalidTelegramHtml("an unterminated tag")
            index = end + 1
            continue
        out.append(message[index])
        index += 1
    return "".join(out)


def _is_entity(text: str, index: int) -> bool:
    end = text.find(";", index)
    if end < 0 or end - index > 10:
        return False
    name = text[index + 1 : end]
    if name in ("lt", "gt", "amp", "quot"):
        return True
    if name.startswith("#x"):
        return len(name) > 2 and all(c in "0123456789abcdefABCDEF" for c in name[2:])
    return name.startswith("#") and name[1:].isdigit()
