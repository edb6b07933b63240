"""Rich messages: what sendRichMessage accepts and how the answered Message holds it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from digest.telegram import decode_attribute
from tests.support.bot_api.faults import _bad
from tests.support.bot_api.models import JSON, RICH_BLOCK_LIMIT, RICH_DEPTH_LIMIT, RICH_TEXT_LIMIT

# -- rich messages --------------------------------------------------------------------------------------

_MATH_BLOCK_HTML = re.compile(r"<tg-math-block\b[^>]*>(.*?)</tg-math-block\s*>", re.S | re.I)
_MATH_INLINE_HTML = re.compile(r"<tg-math\b[^>]*>(.*?)</tg-math\s*>", re.S | re.I)
_MATH_BLOCK_MD = re.compile(r"\$\$(.*?)\$\$", re.S)
_MATH_INLINE_MD = re.compile(r"(?<![\\$])\$([^$\n]+?)\$(?!\$)")
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class _Rich:
    math: tuple[str, ...]
    blocks: tuple[JSON, ...]  # what the answered Message's rich_message holds


def _check_rich(value: Any) -> _Rich:
    """Validate an InputRichMessage: one source, math present and non-empty, within the size limits."""
    if not isinstance(value, dict):
        raise _bad("can't parse rich message JSON object")
    sources = [key for key in ("html", "markdown", "blocks") if value.get(key) is not None]
    if len(sources) != 1:
        raise _bad("exactly one of html, markdown or blocks must be specified in the rich message")
    source = sources[0]
    if source == "blocks":
        blocks = value["blocks"]
        if not isinstance(blocks, list) or not blocks:
            raise _bad("rich message blocks must be a non-empty array")
        math: list[str] = []
        count, depth, chars = _walk_blocks(blocks, math, 1)
        if count > RICH_BLOCK_LIMIT:
            raise _bad(f"too many blocks in the rich message: {count} > {RICH_BLOCK_LIMIT}")
        if depth > RICH_DEPTH_LIMIT:
            raise _bad(f"rich message is nested too deeply: {depth} > {RICH_DEPTH_LIMIT}")
        answered = tuple(_answer_block(block) for block in blocks if isinstance(block, dict))
    else:
        text = value[source]
        if not isinstance(text, str) or not text.strip():
            raise _bad("rich message text is empty")
        if source == "html":
            opened = len(re.findall(r"<tg-math-block\b", text, re.I))
            if opened != len(_MATH_BLOCK_HTML.findall(text)):
                raise _bad(
                    "can't parse rich message: "
                    'Can\'t find end tag corresponding to start tag "tg-math-block"'
                )
            math = [decode_attribute(m) for m in _MATH_BLOCK_HTML.findall(text)]
            rest = _MATH_BLOCK_HTML.sub("\0", text)
            math += [decode_attribute(m) for m in _MATH_INLINE_HTML.findall(rest)]
            chars = len(decode_attribute(_TAG.sub("", text)))
            pieces = [decode_attribute(_TAG.sub("", part)).strip() for part in rest.split("\0")]
        else:
            math = list(_MATH_BLOCK_MD.findall(text))
            rest = _MATH_BLOCK_MD.sub("\0", text)
            math += _MATH_INLINE_MD.findall(rest)
            chars = len(text)
            pieces = [part.strip() for part in rest.split("\0")]
        block_math = iter(m.strip() for m in math)
        answered_list: list[JSON] = []
        for index, piece in enumerate(pieces):
            if index:
                answered_list.append({"type": "mathematical_expression", "expression": next(block_math)})
            if piece:
                answered_list.append({"type": "paragraph", "text": piece})
        answered = tuple(answered_list)
    for expression in math:
        if not expression.strip():
            raise _bad("mathematical expression is empty")
    if chars > RICH_TEXT_LIMIT:
        raise _bad(f"rich message is too long: {chars} > {RICH_TEXT_LIMIT} characters")
    return _Rich(tuple(m.strip() for m in math), answered)


def _walk_blocks(node: Any, math: list[str], depth: int) -> tuple[int, int, int]:
    """(blocks, deepest nesting, characters) of a blocks tree, collecting math expressions on the way."""
    count, deepest, chars = 0, depth, 0
    if isinstance(node, list):
        for item in node:
            c, d, t = _walk_blocks(item, math, depth)
            count, deepest, chars = count + c, max(deepest, d), chars + t
        return count, deepest, chars
    if isinstance(node, str):
        return 0, depth, len(node)
    if not isinstance(node, dict):
        return 0, depth, 0
    if "type" in node:
        count += 1
        if node["type"] == "mathematical_expression":
            expression = node.get("expression")
            if not isinstance(expression, str):
                raise _bad("mathematical expression must be a string")
            math.append(expression)
    for key, value in node.items():
        if key in ("type", "url", "media", "file_id"):
            continue
        c, d, t = _walk_blocks(value, math, depth + 1 if isinstance(value, dict | list) else depth)
        count, deepest, chars = count + c, max(deepest, d), chars + t
    return count, deepest, chars


def _answer_block(block: JSON) -> JSON:
    """A sent block as a received RichBlock: math kept, anything else a paragraph of its text."""
    if block.get("type") == "mathematical_expression":
        return {"type": "mathematical_expression", "expression": str(block.get("expression", ""))}
    if block.get("type") == "divider":
        return {"type": "divider"}
    return {"type": "paragraph", "text": _flatten(block) or " "}


def _flatten(node: Any) -> str:
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return "".join(_flatten(item) for item in node)
    if isinstance(node, dict):
        if node.get("type") == "mathematical_expression":
            return str(node.get("expression", ""))
        return "".join(_flatten(v) for k, v in node.items() if k not in ("type", "url", "media", "file_id"))
    return ""
