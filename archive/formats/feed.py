"""RSS 2.0 and Atom feeds of the blog (`/feed`, `/feed/atom/`), read with feedparser."""

from __future__ import annotations

import calendar
import io
import time
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import feedparser

from archive import ParseError
from archive.formats._errors import guarded
from archive.formats._html import html_fragment_paragraphs
from archive.formats._text import clean_excerpt, decode_page, normalize_inline
from archive.identity import archive_id_from_url
from archive.model import Post, PostDate

__all__ = ["looks_like_feed", "parse_feed"]

# feedparser reports a wrong declared charset as an error although it decoded fine; that one is harmless.
_HARMLESS_BOZO = ("CharacterEncodingOverride",)


def looks_like_feed(text: str) -> bool:
    """Whether the text starts like an RSS or Atom document."""
    head = text[:2048].lstrip().lower()
    if head.startswith("<?xml"):
        return "<rss" in text[:8192].lower() or "<feed" in text[:8192].lower()
    return head.startswith(("<rss", "<feed"))


@guarded("feed")
def parse_feed(data: bytes | str, *, tz: ZoneInfo) -> list[Post]:
    """The posts of an RSS 2.0 or Atom feed, dated in `tz`, in feed order."""
    text = decode_page(data)
    raw = data if isinstance(data, bytes) else text.encode("utf-8")
    # A BytesIO, never bytes or str: feedparser would treat those as a file name or URL and do I/O.
    parsed = feedparser.parse(io.BytesIO(raw), resolve_relative_uris=False, sanitize_html=True)
    version = str(parsed.get("version") or "")
    if not version.startswith(("rss", "atom")):
        raise ParseError("not an RSS or Atom feed")
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        if type(exc).__name__ not in _HARMLESS_BOZO:
            # A cut or broken document: feedparser's loose parser would still guess at items.
            raise ParseError(f"malformed feed: {exc}")
    posts: list[Post] = []
    for entry in parsed.get("entries", []):
        post = _entry_post(entry, tz)
        if post is not None:
            posts.append(post)
    return posts


def _entry_post(entry: Any, tz: ZoneInfo) -> Post | None:
    """One feed item as a Post; None for an item that does not link to a post."""
    link = str(entry.get("link") or "")
    ident = archive_id_from_url(link) if link else None
    if ident is None:
        # Some feeds put the post URL only in the guid.
        guid = str(entry.get("id") or "")
        ident = archive_id_from_url(guid) if guid else None
    title = normalize_inline(str(entry.get("title") or ""))
    if ident is None or not title:
        return None
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    if not isinstance(stamp, time.struct_time):
        raise ParseError(f"feed item {ident} has no usable publication date")
    # feedparser normalises every date to UTC; the blog's calendar day is the one in its own zone.
    moment = datetime.fromtimestamp(calendar.timegm(stamp), UTC).astimezone(tz)
    excerpt = _text_of(entry.get("summary_detail"), entry.get("summary"))
    content: str | None = None
    contents = entry.get("content") or []
    if contents:
        content = _text_of(contents[0], contents[0].get("value")) or None
    return Post(
        id=ident,
        title=title,
        date=PostDate(moment.year, moment.month, moment.day),
        readers=None,
        excerpt=excerpt,
        content=content,
        title_is_live=True,
    )


def _text_of(detail: Any, value: Any) -> str:
    """Plain text of a feed text construct, HTML or not."""
    if not value:
        return ""
    kind = str(detail.get("type", "text/html")) if detail else "text/html"
    if kind == "text/plain":
        return clean_excerpt([str(value)])
    return clean_excerpt(html_fragment_paragraphs(str(value)))
