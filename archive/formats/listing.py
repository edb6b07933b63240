"""HTML listing pages: category, tag and search pages, and the homepage (date badges without a year)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date

from selectolax.lexbor import LexborHTMLParser, LexborNode

from archive import ParseError
from archive.formats._errors import guarded
from archive.formats._html import (
    block_paragraphs,
    check_complete,
    check_not_challenge,
    error_page_reason,
    looks_like_html,
)
from archive.formats._text import clean_excerpt, decode_page, normalize_inline
from archive.identity import archive_id_from_url
from archive.model import Post, PostDate

__all__ = ["ListingPage", "looks_like_listing", "parse_listing", "parse_listing_page"]

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
    )
}
_FULL_DATE = re.compile(r"(?<!\d)(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?!\d)")
_READERS = re.compile(r"(\d[\d,]*)\s*位读者")
# The homepage badge: `17 Aug` (or `Aug 17`); case-insensitive since themes uppercase it with CSS or not.
_BADGE = re.compile(
    r"(?<![\w])(?:(?P<d1>\d{1,2})\s*(?P<m1>[A-Za-z]{3})[a-z]*|(?P<m2>[A-Za-z]{3})[a-z]*\.?\s*(?P<d2>\d{1,2}))(?![\w])"
)
_TAG = re.compile(r"<[^>]*>")
_READ_MORE = re.compile(r"^\s*点击阅读全文")
# The byline as text, for a theme that does not wrap it in `.submitted`: `By 苏剑林 | 2024-09-01 | N位读者 |
# 引用`, possibly glued to the first excerpt line as in the text captures.
_BYLINE = re.compile(
    r"^(?P<meta>By\s+\S.*?[|｜]\s*\d{4}-\d{1,2}-\d{1,2}(?:\s*[|｜]\s*\d[\d,]*\s*位读者)?"
    r"(?:\s*[|｜]\s*(?:引用)?)?)(?P<rest>.*)$"
)
# The quote link that ends the byline (`… | 26991位读者 | 引用`) when it sits outside `.submitted`.
_QUOTE = "引用"
# Page parts that follow the entries: inside an entry they mean its markup was cut short (the HTML parser
# then nests the rest of the page in it), and their text is never excerpt text.
_AFTER_ENTRIES = "div.Post, #SideBar, #sidebar, #Footer, #footer"
_NAVIGATOR = "ol.page-navigator"
# Markers that the page is the blog's own listing layout, even when it lists nothing.
_LAYOUT_MARKERS = ('id="SideBar"', "id='SideBar'", 'class="page-navigator', 'class="Post', "科学空间")


@dataclass(frozen=True, slots=True)
class ListingPage:
    """The entries of one listing page and the href of its "next page" link, if any."""

    posts: list[Post]
    next_url: str | None


def looks_like_listing(text: str) -> bool:
    """Whether an HTML page carries the blog's listing layout."""
    return any(marker in text for marker in _LAYOUT_MARKERS)


def parse_listing(data: bytes | str) -> list[Post]:
    """The posts of a listing page, in page order."""
    return parse_listing_page(data).posts


@guarded("listing page")
def parse_listing_page(data: bytes | str) -> ListingPage:
    """The posts and the next-page link of a category/tag/search page or of the homepage."""
    text = decode_page(data)
    if not looks_like_html(text):
        raise ParseError("not an HTML page")
    check_not_challenge(text)
    check_complete(text)
    tree = LexborHTMLParser(text)
    posts: list[Post] = []
    for node in tree.css("div.Post"):
        if _in_sidebar(node):
            continue
        post = _entry(node)
        if post is not None:
            posts.append(post)
    if not posts:
        reason = error_page_reason(text)
        if reason is not None:
            raise ParseError(reason)
        if not looks_like_listing(text):
            raise ParseError("not a listing page: no div.Post entries and none of the blog's layout")
    return ListingPage(posts=posts, next_url=_next_url(tree))


def _in_sidebar(node: LexborNode) -> bool:
    """Whether the node sits in `#SideBar`, which repeats the newest titles cut short."""
    parent = node.parent
    while parent is not None:
        if parent.is_element_node and (parent.attributes.get("id") or "").lower() == "sidebar":
            return True
        parent = parent.parent
    return False


def _next_url(tree: LexborHTMLParser) -> str | None:
    """The href of `ol.page-navigator li.next a` in the main column."""
    for link in tree.css("ol.page-navigator li.next a"):
        href = (link.attributes.get("href") or "").strip()
        if href and not _in_sidebar(link):
            return href
    return None


def _entry(node: LexborNode) -> Post | None:
    """One `div.Post` as a Post; None when it has no title link to a post (never a made-up id)."""
    link = node.css_first("h2 a")
    if link is None:
        return None
    ident = archive_id_from_url(link.attributes.get("href") or "")
    title = normalize_inline(link.text())
    if ident is None or not title:
        return None
    heading = link.parent
    while heading is not None and heading.tag != "h2":
        heading = heading.parent
    _check_closed(node, ident)
    navigators = {nav.mem_id for nav in node.css(_NAVIGATOR)}
    # `span.submitted` on the live site; any element with that class will do.
    submitted = node.css_first(".submitted")
    meta = normalize_inline(submitted.text()) if submitted is not None else ""
    submitted_id = submitted.mem_id if submitted is not None else None

    def furniture(candidate: LexborNode) -> bool:
        """The byline, the quote link, the "read more" link and a page navigator are not excerpt."""
        if candidate.mem_id == submitted_id or candidate.mem_id in navigators:
            return True
        if candidate.tag != "a":
            return False
        text = candidate.text().strip()
        return text == _QUOTE or _READ_MORE.match(text) is not None

    paragraphs = block_paragraphs(node, furniture, begin_after=heading)
    byline = _BYLINE.match(paragraphs[0]) if submitted is None and paragraphs else None
    if byline is not None:
        meta = byline.group("meta")
        paragraphs[:1] = [byline.group("rest").strip()] if byline.group("rest").strip() else []
    if paragraphs and paragraphs[0] == _QUOTE:
        # The quote link's text when it follows the byline outside `.submitted`.
        paragraphs.pop(0)
    post_date = _full_date(meta) or _badge_date(node, heading)
    if post_date is None:
        raise ParseError(f"listing entry {ident} ({title!r}) has no recognisable date")
    readers_match = _READERS.search(meta)
    readers = int(readers_match.group(1).replace(",", "")) if readers_match else None
    return Post(
        id=ident,
        title=title,
        date=post_date,
        readers=readers,
        excerpt=clean_excerpt(paragraphs),
        content=None,
        title_is_live=True,
    )


def _check_closed(node: LexborNode, ident: int) -> None:
    """ParseError when the entry holds what follows the entries: its markup was cut short."""
    for inner in node.css(_AFTER_ENTRIES):
        if inner.mem_id != node.mem_id:
            what = inner.attributes.get("id") or "next entry"
            raise ParseError(
                f"listing entry {ident} is not closed before the {what}: the page is truncated or broken"
            )


def _full_date(meta: str) -> PostDate | None:
    """`YYYY-MM-DD` from a byline, validated."""
    match = _FULL_DATE.search(meta)
    if match is None:
        return None
    year, month, day = (int(part) for part in match.groups())
    try:
        date(year, month, day)
    except ValueError:
        return None
    return PostDate(year, month, day)


def _badge_date(node: LexborNode, heading: LexborNode | None) -> PostDate | None:
    """The homepage's yearless `17 Aug` badge: before the title inside the entry, or just before it."""
    markup = node.html or ""
    cut = markup.lower().find("<h2")
    candidates = [markup[:cut] if cut >= 0 else ""]
    # Some themes put the badge beside the entry rather than inside it.
    previous = node.prev
    hops = 0
    while previous is not None and hops < 3:
        if previous.is_element_node:
            if "Post" in (previous.attributes.get("class") or "").split():
                break
            candidates.append(previous.html or "")
        previous = previous.prev
        hops += 1
    for fragment in candidates:
        found = _badge_in(html.unescape(_TAG.sub(" ", fragment)))
        if found is not None:
            return found
    return None


def _badge_in(text: str) -> PostDate | None:
    """The first valid day + English month abbreviation in the text."""
    for match in _BADGE.finditer(text):
        day_text = match.group("d1") or match.group("d2")
        month_text = (match.group("m1") or match.group("m2")).lower()
        month = _MONTHS.get(month_text)
        if month is None:
            continue
        day = int(day_text)
        try:
            # 2000 is a leap year: `29 Feb` must stay possible without knowing the year.
            date(2000, month, day)
        except ValueError:
            continue
        return PostDate(None, month, day)
    return None
