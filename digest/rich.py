"""Formulas as Telegram draws them: an excerpt re-cut from its LaTeX with formulas as native math elements.

Telegram's rich messages (`sendRichMessage`, Bot API 10.1+) take `<tg-math>` and `<tg-math-block>` elements
holding LaTeX. A message about posts is rendered twice from the same blocks: the HTML the renderer makes (math
as readable Unicode), and a rich variant where each excerpt slot is filled with `rich_excerpt`. The bot's
`/latest` and the sender's notifications both use this one module.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from html import escape

from archive.latex import render_math, split_math
from digest.excerpt import ELLIPSIS, drop_repeated_lines
from digest.model import PostItem
from digest.render import Renderer

__all__ = ["excerpt_slot", "fill_slots", "rich_excerpt", "rich_post_html"]

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


def rich_post_html(renderer: Renderer, item: PostItem, raw_excerpt: str, lang: str) -> str | None:
    """One post's notification as rich-message HTML, or None when its shown excerpt holds no formula."""
    excerpt = rich_excerpt(raw_excerpt, item.excerpt) if item.excerpt else None
    if excerpt is None:
        return None
    html = renderer.telegram_post(replace(item, excerpt=excerpt_slot(0)), lang)
    return fill_slots(html, [excerpt])
