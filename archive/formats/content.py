"""The full archive page `/content.html`: year headings, month items and one `N日: <a>title</a>` per post."""

from __future__ import annotations

import html
import re
from datetime import date

from archive import ParseError
from archive.formats._errors import guarded
from archive.formats._html import check_complete, check_not_challenge, error_page_reason, looks_like_html
from archive.formats._text import decode_page, normalize_inline
from archive.identity import archive_id_from_url
from archive.model import Post, PostDate

__all__ = ["looks_like_content", "parse_content"]

# One left-to-right scan over the raw HTML, so the cost is linear in the page size whatever the nesting.
# An anchor is consumed whole, so digits inside titles ("2024年", "3月") are never read as headings.
# Scripts, styles and comments are consumed whole so their text is not read either. Bounded repeats keep a
# page full of unclosed tags from turning the scan quadratic.
_TOKENS = re.compile(
    r"<!--.{0,100000}?-->"
    r"|<(?P<raw>script|style)\b.{0,200000}?</(?P=raw)\s*>"
    r"|<a\b(?P<attrs>[^>]{0,2000})>(?P<inner>.{0,4000}?)</a\s*>"
    r"|(?<!\d)(?P<year>\d{4})\s*年"
    r"|(?<!\d)(?P<month>\d{1,2})\s*月"
    r"|(?<!\d)(?P<day>\d{1,2})\s*日\s*[:：]",
    re.S | re.I,
)
_HREF = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)
_TAG = re.compile(r"<[^>]*>")
# A year heading: `2025年 (共60篇)`, or a bare `2025年` closing its element (the count is optional).
_YEAR_MARK = re.compile(r"\d{4}\s*年\s*(?:(?:<[^>]{0,200}>\s*)*[（(]\s*共\s*\d+\s*篇|</)")
_DAY_LINE = re.compile(r"\d{1,2}\s*日\s*[:：]\s*<a\b", re.I)
# The title link follows its day label closely; a link further away is not that day's post.
_MAX_DAY_TO_LINK = 400


def looks_like_content(text: str) -> bool:
    """Whether an HTML page is the full archive (`2025年 (共60篇)` headings and `16日: <a…>` lines)."""
    return _YEAR_MARK.search(text) is not None and _DAY_LINE.search(text) is not None


@guarded("archive page")
def parse_content(data: bytes | str) -> list[Post]:
    """Every post of `/content.html` with id, title and full date, in page order."""
    text = decode_page(data)
    if not looks_like_html(text):
        raise ParseError("not an HTML page")
    check_not_challenge(text)
    check_complete(text)
    if not looks_like_content(text):
        reason = error_page_reason(text)
        raise ParseError(reason or "not the archive page: no `YYYY年 (共N篇)` headings with `N日:` lines")
    posts: list[Post] = []
    year: int | None = None
    month: int | None = None
    day: int | None = None
    day_end = 0
    for match in _TOKENS.finditer(text):
        if match.group("year") is not None:
            value = int(match.group("year"))
            # The blog started in 2009; a four-digit number far outside its life is not a heading.
            if 1990 <= value <= 2200:
                year, month, day = value, None, None
        elif match.group("month") is not None:
            value = int(match.group("month"))
            month, day = (value, None) if 1 <= value <= 12 else (None, None)
        elif match.group("day") is not None:
            day, day_end = int(match.group("day")), match.end()
        elif match.group("attrs") is not None:
            if day is None:
                continue
            if match.start() - day_end > _MAX_DAY_TO_LINK:
                day = None
                continue
            post = _post(match.group("attrs"), match.group("inner"), year, month, day)
            if post is not None:
                posts.append(post)
                # The `( <a …#PostComment>0</a>)` link after the title belongs to the same line.
                day = None
    return posts


def _post(attrs: str, inner: str, year: int | None, month: int | None, day: int) -> Post | None:
    """The post a title link under a day label names, or None when it is not one."""
    href_match = _HREF.search(attrs)
    if href_match is None or year is None or month is None:
        return None
    href = html.unescape(next(group for group in href_match.groups() if group is not None))
    if "#" in href:
        # The comment-count link (`…#PostComment`) is not the title link.
        return None
    ident = archive_id_from_url(href)
    title = normalize_inline(html.unescape(_TAG.sub("", inner)))
    if ident is None or not title:
        return None
    try:
        date(year, month, day)
    except ValueError:
        return None
    return Post(
        id=ident,
        title=title,
        date=PostDate(year, month, day),
        readers=None,
        excerpt="",
        content=None,
        title_is_live=True,
    )
