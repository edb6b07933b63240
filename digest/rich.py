"""Formulas as Telegram draws them: an excerpt re-cut from its LaTeX with formulas as native math elements.

Telegram's rich messages (`sendRichMessage`, Bot API 10.1+) take `<tg-math>` and `<tg-math-block>` elements
holding LaTeX. A message about posts is rendered twice from the same blocks: the HTML the renderer makes (math
as readable Unicode), and a rich variant where each excerpt slot is filled with `rich_excerpt`. The bot's
`/latest` and the sender's notifications both use this one module.
"""

from __future__ import annotations

from dataclasses import replace
from html import escape

from digest.formulas import Formula, excerpt_html, excerpt_slot, fill_slots
from digest.model import PostItem
from digest.render import Renderer

__all__ = ["excerpt_slot", "fill_slots", "rich_excerpt", "rich_post_html"]


def _tg_math(formula: Formula) -> str:
    tag = "tg-math-block" if formula.display else "tg-math"
    return f"<{tag}>{escape(formula.source, quote=False)}</{tag}>"


def rich_excerpt(raw: str, shown: str) -> str | None:
    """The excerpt `shown` (digest Unicode, maybe cut with `…`) as rich HTML with its formulas as LaTeX.

    It covers as many rendered characters as `shown` does, so both variants say the same; None when the
    shown part holds no formula (an HTML message says it as well).
    """
    return excerpt_html(raw, shown, _tg_math, breaks=False)


def rich_post_html(renderer: Renderer, item: PostItem, raw_excerpt: str, lang: str) -> str | None:
    """One post's notification as rich-message HTML, or None when its shown excerpt holds no formula."""
    excerpt = rich_excerpt(raw_excerpt, item.excerpt) if item.excerpt else None
    if excerpt is None:
        return None
    html = renderer.telegram_post(replace(item, excerpt=excerpt_slot(0)), lang)
    return fill_slots(html, [excerpt])
