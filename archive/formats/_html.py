"""Shared HTML helpers: page sanity checks (truncation, challenge, error pages) and block-aware text."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator

from selectolax.lexbor import LexborHTMLParser, LexborNode

from archive import ParseError
from archive.formats._text import Preformatted, normalize_inline, preformatted

__all__ = [
    "block_paragraphs",
    "check_complete",
    "check_not_challenge",
    "error_page_reason",
    "html_fragment_paragraphs",
    "looks_like_html",
    "page_title",
]

# Elements that break a line in a rendering; text inside one never runs into text outside it.
_BLOCK_TAGS = frozenset(
    {
        *("address", "article", "aside", "blockquote", "center", "dd", "details", "div", "dl", "dt"),
        *("figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr"),
        *("li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot"),
        *("th", "thead", "tr", "ul"),
    }
)
# Elements whose whitespace is content: code keeps its line breaks and indentation.
_VERBATIM_TAGS = frozenset({"pre", "listing", "xmp", "plaintext", "textarea"})
_FRAGMENT_PAGE = "<!DOCTYPE html><html><head></head><body>"
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "head", "title", "iframe", "svg"})
_HTML_START = re.compile(r"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S)
_HTML_END = re.compile(r"</html\s*>", re.I)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.I | re.S)
_ERROR_TITLE = re.compile(
    r"\b[45]\d\d\b|not\s+found|bad\s+gateway|service\s+unavailable|gateway\s+time-?out|forbidden"
    r"|internal\s+server\s+error|too\s+many\s+requests|页面没找到|找不到|出错|错误",
    re.I,
)
# A challenge page is tiny: the real pages run to ~100 KiB of markup.
_CHALLENGE_MAX_CHARS = 20_000


def looks_like_html(text: str) -> bool:
    """Whether the text starts like an HTML document."""
    return _HTML_START.match(text[:4096]) is not None


def check_complete(text: str) -> None:
    """ParseError unless the document is closed by `</html>` (a cut download must not look complete)."""
    if _HTML_END.search(text, max(0, len(text) - 4096)) is None:
        raise ParseError("truncated HTML: no closing </html> at the end of the page")


def page_title(text: str) -> str:
    """The document's `<title>` as plain text, or ''."""
    match = _TITLE.search(text[:65536])
    return "" if match is None else normalize_inline(html.unescape(match.group(1)))


def check_not_challenge(text: str) -> None:
    """ParseError for the site's cookie challenge: a tiny page that reloads itself via `window.location`."""
    if len(text) < _CHALLENGE_MAX_CHARS and "window.location" in text and 'class="Post' not in text:
        raise ParseError("cookie challenge page (window.location redirect): retry with the cookie it sets")


def error_page_reason(text: str) -> str | None:
    """Why this looks like an HTTP error page (404, nginx 502, …), or None."""
    title = page_title(text)
    if title and _ERROR_TITLE.search(title):
        return f"error page: {title!r}"
    if re.search(r"<center>\s*nginx", text[:65536], re.I):
        return "error page served by nginx"
    return None


class _End:
    """Stack marker: the element whose children were just emitted is closed."""

    __slots__ = ("block", "mem_id", "verbatim")

    def __init__(self, mem_id: int, block: bool, verbatim: bool) -> None:
        self.mem_id = mem_id
        self.block = block
        self.verbatim = verbatim


def _walk(
    node: LexborNode, skip: Callable[[LexborNode], bool], begin_after: int | None
) -> Iterator[str | None]:
    """Text pieces of the subtree in document order; None marks a block boundary.

    Inside `<pre>` the pieces are `Preformatted` and line breaks are newline pieces, not boundaries.
    With `begin_after` (a mem_id), nothing is emitted until that element has closed: the title of a
    listing entry separates its header furniture (date badge) from the excerpt. An explicit stack instead
    of recursion: hostile input may nest thousands of elements.
    """
    active = begin_after is None
    stack: list[LexborNode | _End] = [node]
    verbatim = 0
    newline = Preformatted("\n")
    while stack:
        current = stack.pop()
        if isinstance(current, _End):
            if current.mem_id == begin_after:
                active = True
            if current.verbatim:
                verbatim -= 1
            if current.block and active:
                yield newline if verbatim else None
            continue
        if current.is_text_node:
            if active:
                text = current.text_content or ""
                yield Preformatted(text) if verbatim else text
            continue
        if not current.is_element_node:
            # Comments, doctypes, processing instructions: never text.
            continue
        tag = current.tag or ""
        if current.mem_id == begin_after:
            # The title itself is not excerpt text: skip its subtree, start emitting after it.
            active = True
            yield None
            continue
        if tag in _SKIP_TAGS or (current is not node and skip(current)):
            continue
        if tag == "br":
            if active:
                yield newline if verbatim else None
            continue
        if tag == "img":
            # An image stands between paragraphs; its alt text is the first of the two caption lines.
            alt = current.attributes.get("alt")
            if active:
                yield newline if verbatim else None
                if alt:
                    yield Preformatted(alt) if verbatim else alt
                yield newline if verbatim else None
            continue
        block = tag in _BLOCK_TAGS
        if block and active:
            yield newline if verbatim else None
        keeps_space = tag in _VERBATIM_TAGS
        if keeps_space:
            verbatim += 1
        stack.append(_End(current.mem_id, block, keeps_space))
        children = list(current.iter(include_text=True))
        stack.extend(reversed(children))


def _paragraph(pieces: list[str]) -> str:
    """One paragraph from its pieces: code keeps its lines and indentation, prose is collapsed."""
    if all(isinstance(piece, Preformatted) for piece in pieces):
        return preformatted("".join(pieces))
    return normalize_inline("".join(pieces))


def block_paragraphs(
    node: LexborNode,
    skip: Callable[[LexborNode], bool] = lambda _: False,
    *,
    begin_after: LexborNode | None = None,
) -> list[str]:
    """The node's text split at block boundaries, whitespace collapsed (LaTeX and `<pre>` code kept).

    `<pre>` blocks come back as `Preformatted` paragraphs.
    """
    paragraphs: list[str] = []
    pieces: list[str] = []
    start = None if begin_after is None else begin_after.mem_id
    for piece in _walk(node, skip, start):
        if piece is None:
            if pieces:
                paragraphs.append(_paragraph(pieces))
                pieces = []
            continue
        pieces.append(piece)
    if pieces:
        paragraphs.append(_paragraph(pieces))
    return [p for p in paragraphs if p]


def html_fragment_paragraphs(fragment: str) -> list[str]:
    """Paragraphs of an HTML fragment (a feed description or content): every node of it, in order."""
    # Parsed as the body of a whole document, not in selectolax's fragment mode: there the fragment's
    # root is only its first node, and a walk from it lost everything after a leading text node. In a
    # document the HTML parser itself keeps every node of the fragment under <body>, even after a stray
    # `</body>` or `</html>`; the explicit <body> keeps leading <title>/<meta> from moving to <head>.
    tree = LexborHTMLParser(_FRAGMENT_PAGE + fragment)
    body = tree.body or tree.root
    if body is None:
        return []
    return block_paragraphs(body)
