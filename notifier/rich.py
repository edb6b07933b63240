"""Rich-message HTML for a notification: the excerpt's formulas as Telegram's native math.

Telegram's rich messages (Bot API 10.1+) draw LaTeX themselves: `<tg-math>` inline, `<tg-math-block>` for a
display formula. The notification is the digest builder's rendering with its excerpt swapped for one whose
formulas keep their LaTeX source; where Telegram refuses rich messages the sender sends the HTML rendering,
whose excerpt shows the same formulas as Unicode.
"""

from __future__ import annotations

from dataclasses import replace

from markupsafe import escape

from archive.latex import render_math, split_math
from digest.excerpt import ELLIPSIS, drop_repeated_lines
from digest.model import Lang, PostItem
from digest.render import Renderer

# Stands in for the excerpt while the template renders; plain ASCII, so escaping leaves it as it is.
_SLOT = "RICHEXCERPTSLOT"
# Raw characters read for an excerpt of n shown characters (as digest/excerpt.py bounds a hostile one).
_RAW_PER_CHAR = 40


def rich_excerpt(raw: str, max_chars: int) -> str | None:
    """The excerpt as rich HTML, about `max_chars` characters as shown; None when it holds no formula."""
    segments = split_math(drop_repeated_lines(raw[: max(8000, _RAW_PER_CHAR * max_chars)]))
    if not any(segment.kind != "text" for segment in segments):
        return None
    out: list[str] = []
    shown = 0
    for segment in segments:
        if shown >= max_chars:
            out.append(ELLIPSIS)
            break
        if segment.kind == "text":
            text = " ".join(segment.source.split())
            if segment.source[:1].isspace() and out:
                text = " " + text
            take = text[: max_chars - shown]
            out.append(str(escape(take)))
            shown += len(take)
            if len(take) < len(text):
                out.append(ELLIPSIS)
                break
            continue
        source = segment.source.strip()
        if not segment.closed:
            out.append(ELLIPSIS)
            break
        if not source:
            continue
        display = segment.kind != "inline"
        tag = "tg-math-block" if display else "tg-math"
        out.append(f"<{tag}>{escape(source)}</{tag}>")
        shown += len(render_math(source, display=display))
    return "".join(out).strip()


def rich_post_html(
    renderer: Renderer, item: PostItem, raw_excerpt: str, lang: Lang, max_chars: int
) -> str | None:
    """The notification of one post as rich-message HTML, or None when its excerpt has no formula."""
    excerpt = rich_excerpt(raw_excerpt, max_chars)
    if excerpt is None:
        return None
    html = renderer.telegram_post(replace(item, excerpt=_SLOT), lang)
    return html.replace(_SLOT, excerpt)
