"""Recognise which of the blog's formats some bytes are, and parse them with the matching parser."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from archive import ParseError
from archive.formats._errors import guarded
from archive.formats._html import check_not_challenge, error_page_reason, looks_like_html
from archive.formats._text import decode_page
from archive.formats.capture import looks_like_capture, parse_capture
from archive.formats.content import looks_like_content, parse_content
from archive.formats.feed import looks_like_feed, parse_feed
from archive.formats.listing import looks_like_listing, parse_listing
from archive.model import Post

__all__ = ["FORMATS", "detect", "parse"]

FORMATS = ("feed", "listing", "content", "capture")


@guarded("input")
def detect(data: bytes | str) -> str:
    """The format of the input: "feed", "listing", "content" or "capture"; ParseError if none."""
    text = decode_page(data)
    if looks_like_feed(text):
        return "feed"
    if looks_like_html(text) or text.lstrip().startswith("<"):
        check_not_challenge(text)
        # The archive page is itself a Typecho page (a `div.Post` around the list): test it first.
        if looks_like_content(text):
            return "content"
        if 'class="Post' in text or "class='Post" in text:
            return "listing"
        reason = error_page_reason(text)
        if reason is not None:
            raise ParseError(reason)
        if looks_like_listing(text):
            return "listing"
        raise ParseError("unrecognised HTML/XML page: not a feed, listing or archive page of the blog")
    if looks_like_capture(text):
        return "capture"
    raise ParseError("unrecognised input: not a feed, an HTML page of the blog, or a text capture")


def parse(data: bytes | str, *, tz: ZoneInfo) -> list[Post]:
    """Detect the format and parse; `tz` dates feed items (the other formats carry calendar dates)."""
    kind = detect(data)
    if kind == "feed":
        return parse_feed(data, tz=tz)
    if kind == "content":
        return parse_content(data)
    if kind == "listing":
        return parse_listing(data)
    return parse_capture(data)
