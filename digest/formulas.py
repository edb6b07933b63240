"""An excerpt with its formulas kept as formulas, for destinations that can draw them.

The digest shows an excerpt as readable Unicode, cut to a length (digest/excerpt.py). A destination that draws
math re-walks the stored LaTeX over exactly the stretch the reader is shown and gets text pieces and
`Formula` pieces: Telegram's rich messages write them as `<tg-math>` (digest/rich.py), the mail as `cid:`
images (digest/formula_png.py), the web pages as MathML (digest/mathml.py), the Atom feeds as image links.
Each destination gives a function from a formula to its HTML, or None to show the Unicode text instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from html import escape

from archive.latex import render_math, split_math
from digest.excerpt import ELLIPSIS, drop_repeated_lines
from digest.model import Digest, PostItem
from digest.render import Renderer

_SPACES = re.compile(r"[ \t\r\f\v]+")
_BREAKS = re.compile(r"\s*\n\s*")
_MAX_RAW = 8000
# A placeholder for an excerpt inside rendered HTML: NUL never comes out of a template otherwise.
_SLOT = "\x00rich:{}\x00"
_SLOT_RE = re.compile("\x00rich:([0-9]+)\x00")


@dataclass(frozen=True, slots=True)
class Formula:
    """One formula of an excerpt: its LaTeX, whether it is displayed, and its readable Unicode text."""

    source: str
    display: bool
    text: str


Piece = str | Formula
FormulaHtml = Callable[[Formula], str | None]


@dataclass(frozen=True, slots=True)
class Pieces:
    """The shown stretch of an excerpt as text and formulas; `cut` when the digest shows `…` after it."""

    items: tuple[Piece, ...]
    cut: bool

    @property
    def formulas(self) -> tuple[Formula, ...]:
        """The formulas among the pieces, in order."""
        return tuple(piece for piece in self.items if isinstance(piece, Formula))


def excerpt_pieces(raw: str, shown: str) -> Pieces:
    """The stored excerpt `raw` as pieces covering as many rendered characters as `shown` (the digest's
    Unicode excerpt, maybe cut with `…`), so every variant says the same."""
    cut = shown.endswith(ELLIPSIS)
    target = len(shown.removesuffix(ELLIPSIS).rstrip())
    pieces: list[Piece] = []
    used = 0
    for segment in split_math(drop_repeated_lines(raw[:_MAX_RAW])):
        if used >= target or not segment.closed:
            break
        if segment.kind == "text" or segment.source.startswith(("\\ref", "\\eqref")):
            text = segment.source if segment.kind == "text" else render_math(segment.source)
            text = _BREAKS.sub("\n", _SPACES.sub(" ", text))
            if not pieces:
                text = text.lstrip()
            piece = text[: target - used]
            pieces.append(piece)
            used += len(piece)
            continue
        source = segment.source.strip()
        if not source:
            continue
        display = segment.kind == "display"
        rendered = render_math(source, display=display)
        pieces.append(Formula(source, display, rendered.strip()))
        used += len(rendered)
    if pieces and isinstance(pieces[-1], str):
        pieces[-1] = pieces[-1].rstrip()
    return Pieces(tuple(pieces), cut)


def _text_html(text: str) -> str:
    return "<br>\n".join(escape(line, quote=False) for line in text.split("\n"))


def excerpt_html(raw: str, shown: str, formula_html: FormulaHtml, *, breaks: bool = True) -> str | None:
    """The shown excerpt as HTML with each formula as `formula_html` writes it (its escaped Unicode text
    where that gives None); None when the shown part holds no formula (the plain excerpt says it all).

    `breaks` writes line breaks as `<br>` (a page or a mail); without, they stay as they are (Telegram).
    """
    pieces = excerpt_pieces(raw, shown)
    if not pieces.formulas:
        return None
    out: list[str] = []
    for piece in pieces.items:
        if isinstance(piece, str):
            out.append(_text_html(piece) if breaks else escape(piece, quote=False))
            continue
        html = formula_html(piece)
        out.append(html if html is not None else escape(piece.text, quote=False))
    text = "".join(out)
    return text + ELLIPSIS if pieces.cut else text


def excerpt_slot(index: int) -> str:
    """The placeholder a variant puts where excerpt `index` goes (see `fill_slots`)."""
    return _SLOT.format(index)


def fill_slots(html: str, excerpts: Sequence[str]) -> str:
    """`html` with each placeholder replaced by its excerpt (already escaped HTML)."""
    return _SLOT_RE.sub(lambda m: excerpts[int(m.group(1))], html)


def email_html(renderer: Renderer, digest: Digest, lang: str, formula_html: FormulaHtml) -> str:
    """The digest's email HTML (the mail's HTML part, the "view in the browser" page) with each formula of
    its excerpts as `formula_html` writes it."""
    excerpts: list[str] = []

    def slotted(item: PostItem) -> PostItem:
        html = excerpt_html(item.raw_excerpt, item.excerpt, formula_html) if item.excerpt else None
        if html is None:
            return item
        excerpts.append(html)
        return replace(item, excerpt=excerpt_slot(len(excerpts) - 1))

    drawn = replace(
        digest,
        posts=tuple(map(slotted, digest.posts)),
        series_updates=tuple(map(slotted, digest.series_updates)),
    )
    html = renderer.email_html(drawn, lang)
    return fill_slots(html, excerpts) if excerpts else html
