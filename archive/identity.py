"""Stable keys for posts and series: normalised titles and archive ids taken from URLs."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

__all__ = ["MAX_ARCHIVE_ID", "archive_id_from_url", "series_key", "title_key"]

# Typecho ids are small (about 12,000 in 2026); anything far beyond is a malformed link, not a post.
MAX_ARCHIVE_ID = 10**9

_WHITESPACE = re.compile(r"\s+")
# `/index.php/archives/N` is Typecho's URL when rewriting is off; `/comment-page-N` paginates comments.
_ARCHIVE_PATH = re.compile(r"(?:/index\.php)?/archives/([0-9]{1,10})(?:/comment-page-\d+)?/?")


def title_key(title: str) -> str:
    """A comparison key for a title: NFKC, whitespace collapsed and stripped, casefolded."""
    # NFKC first so full-width spaces and punctuation fold before whitespace is collapsed.
    folded = unicodedata.normalize("NFKC", title)
    return _WHITESPACE.sub(" ", folded).strip().casefold()


def series_key(name: str) -> str:
    """A comparison key for a series name, normalised like `title_key` and without `【】` brackets."""
    key = title_key(name)
    # NFKC leaves 【】 alone; a name may be handed in with or without them.
    return key.strip("【】[] ")


def archive_id_from_url(url: str) -> int | None:
    """The post id of an `/archives/{id}` URL on any host (or relative), else None."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        # urlsplit rejects some malformed netlocs (e.g. an unbalanced `[`): not a post link.
        return None
    if parts.scheme not in ("", "http", "https"):
        return None
    match = _ARCHIVE_PATH.fullmatch(parts.path)
    if match is None:
        return None
    ident = int(match.group(1))
    if not 0 < ident <= MAX_ARCHIVE_ID:
        return None
    return ident
