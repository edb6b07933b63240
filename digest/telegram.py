"""Telegram's HTML parse mode, the one oracle of the code and the tests: what a text under parse_mode HTML
carries (its text and entities) or why Telegram refuses it, and the length Telegram measures (UTF-16 code
units of the parsed text) against its 4,096 limit. The tests' local Bot API parses with this very function."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

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


def telegram_length(html: str) -> int:
    """The length Telegram checks against its 4,096 limit, for a message in its HTML parse mode (for text
    it would refuse, the length of the source: an upper bound, so a limit check errs on the safe side)."""
    try:
        # Untrimmed: the renderers measure pieces that are joined into one message.
        text, _ = parse_telegram_html(html, trim=False)
    except HtmlParseError:
        return utf16_length(html)
    return utf16_length(text)


class HtmlParseError(ValueError):
    """Why Telegram's HTML parser refuses a text (the part after "can't parse entities: ")."""


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
    "tg-time": "date_time",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6}));")
_SPECIAL = re.compile(r"[<&]")


@dataclass
class _Open:
    tag: str
    start: int  # UTF-16 offset in the parsed text
    attrs: dict[str, str]
    language: str | None = None


def _decode_entity(match: re.Match[str]) -> str | None:
    named, decimal, hexadecimal = match.groups()
    if named is not None:
        return _NAMED_ENTITIES[named]
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def decode_attribute(raw: str) -> str:
    """An attribute value as Telegram reads it: entities decoded, any other `&` kept as written."""

    # Inside attribute values Telegram decodes entities and keeps any other '&' as written.
    def one(match: re.Match[str]) -> str:
        decoded = _decode_entity(match)
        return match.group(0) if decoded is None else decoded

    return _ENTITY.sub(one, raw)


def parse_telegram_html(source: str, *, trim: bool = True) -> tuple[str, list[JSON]]:
    """Parse `source` as Telegram's HTML parse mode does: (trimmed text, entities); HtmlParseError if refused.

    Stricter than Telegram in one way, as its documentation asks: a bare '&' in text is refused. With
    `trim=False` the edges' whitespace is kept: a piece of a message is measured as it will stand inside it.
    """
    out: list[str] = []
    pos = 0  # UTF-16 offset in the parsed text
    stack: list[_Open] = []
    entities: list[JSON] = []
    i, n = 0, len(source)

    def at(index: int) -> int:
        return len(source[:index].encode("utf-8", "surrogatepass"))

    while i < n:
        special = _SPECIAL.search(source, i)
        stop = n if special is None else special.start()
        if stop > i:
            chunk = source[i:stop]
            out.append(chunk)
            pos += utf16_length(chunk)
            i = stop
            continue
        if source[i] == "&":
            match = _ENTITY.match(source, i)
            decoded = None if match is None else _decode_entity(match)
            if match is None or decoded is None:
                raise HtmlParseError(f'Character "&" is reserved and must be escaped at byte offset {at(i)}')
            out.append(decoded)
            pos += utf16_length(decoded)
            i = match.end()
            continue
        begin = i
        i += 1
        if i < n and source[i] == "/":
            if not stack:
                raise HtmlParseError(f"Unexpected end tag at byte offset {at(begin)}")
            j = i + 1
            while j < n and not source[j].isspace() and source[j] != ">":
                j += 1
            name = source[i + 1 : j].lower()
            while j < n and source[j].isspace():
                j += 1
            if j >= n or source[j] != ">":
                raise HtmlParseError(f"Unclosed end tag at byte offset {at(begin)}")
            top = stack.pop()
            if name and name != top.tag:
                raise HtmlParseError(
                    f"Unmatched end tag at byte offset {at(begin)}, "
                    f'expected "</{top.tag}>", found "</{name}>"'
                )
            _close(top, pos, stack, entities)
            i = j + 1
            continue
        j = i
        while j < n and not source[j].isspace() and source[j] != ">":
            j += 1
        if j >= n:
            raise HtmlParseError(f"Unclosed start tag at byte offset {at(begin)}")
        name = source[i:j].lower()
        if name not in _HTML_TAGS:
            raise HtmlParseError(f'Unsupported start tag "{name}" at byte offset {at(begin)}')
        attrs, i = _attributes(source, j, name, at(begin))
        _check_tag(name, attrs, at(begin))
        stack.append(_Open(name, pos, attrs))
    if stack:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    text = "".join(out)
    return _trim(text, entities) if trim else (text, entities)


def _attributes(source: str, j: int, tag: str, offset: int) -> tuple[dict[str, str], int]:
    """Read a start tag's attributes from `j`; return them and the index after '>'."""
    n = len(source)
    attrs: dict[str, str] = {}
    unclosed = HtmlParseError(f"Unclosed start tag at byte offset {offset}")
    while True:
        while j < n and source[j].isspace():
            j += 1
        if j >= n:
            raise unclosed
        if source[j] == ">":
            return attrs, j + 1
        start = j
        while j < n and not source[j].isspace() and source[j] not in "=>":
            j += 1
        name = source[start:j].lower()
        if not name:
            raise HtmlParseError(f'Empty attribute name in the tag "{tag}" at byte offset {offset}')
        while j < n and source[j].isspace():
            j += 1
        if j >= n:
            raise unclosed
        if source[j] != "=":
            if tag == "blockquote" and name == "expandable":
                attrs[name] = ""
                continue
            raise HtmlParseError(
                "Expected equal sign in declaration of an attribute "
                f'of the tag "{tag}" at byte offset {offset}'
            )
        j += 1
        while j < n and source[j].isspace():
            j += 1
        if j >= n:
            raise unclosed
        if source[j] in "\"'":
            end = source.find(source[j], j + 1)
            if end < 0:
                raise unclosed
            raw = source[j + 1 : end]
            j = end + 1
        else:
            start = j
            while j < n and not source[j].isspace() and source[j] != ">":
                j += 1
            raw = source[start:j]
        attrs[name] = decode_attribute(raw)


def _check_tag(tag: str, attrs: Mapping[str, str], offset: int) -> None:
    if tag == "span" and attrs.get("class") != "tg-spoiler":
        raise HtmlParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
    if tag == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
        raise HtmlParseError(f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset {offset}')
    if tag == "tg-time" and not attrs.get("unix", "").isdigit():
        raise HtmlParseError(f'Tag "tg-time" must have attribute "unix" at byte offset {offset}')


def _close(top: _Open, pos: int, stack: list[_Open], entities: list[JSON]) -> None:
    parent = stack[-1] if stack else None
    if top.tag == "code" and parent is not None and parent.tag == "pre" and parent.start == top.start:
        # <pre><code class="language-x"> is one pre entity with a language, as Telegram reads it.
        css = top.attrs.get("class", "")
        if css.startswith("language-"):
            parent.language = css.removeprefix("language-")
        return
    length = pos - top.start
    if length == 0:
        return
    entity: JSON = {"type": _HTML_TAGS[top.tag], "offset": top.start, "length": length}
    if top.tag == "a":
        href = top.attrs.get("href")
        if not href:
            return
        entity["url"] = href
    elif top.tag == "pre" and top.language:
        entity["language"] = top.language
    elif top.tag == "blockquote" and "expandable" in top.attrs:
        entity["type"] = "expandable_blockquote"
    elif top.tag == "tg-emoji":
        entity["custom_emoji_id"] = top.attrs["emoji-id"]
    elif top.tag == "tg-time":
        entity["unix_time"] = int(top.attrs["unix"])
        if "format" in top.attrs:
            entity["date_time_format"] = top.attrs["format"]
    entities.append(entity)


def _trim(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """Telegram trims outer whitespace; entities move with the text and lose what was cut."""
    stripped = text.strip()
    if not stripped:
        return "", []
    left = utf16_length(text[: len(text) - len(text.lstrip())])
    size = utf16_length(stripped)
    kept: list[JSON] = []
    for entity in entities:
        start = max(entity["offset"] - left, 0)
        end = min(entity["offset"] + entity["length"] - left, size)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    kept.sort(key=lambda e: (e["offset"], -e["length"]))
    return stripped, kept
