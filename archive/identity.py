"""Stable keys for posts and series: normalised titles and archive ids taken from URLs."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

__all__ = [
    "MAX_ARCHIVE_ID",
    "archive_id_from_url",
    "quoted_lead",
    "series_key",
    "series_lookup_key",
    "title_key",
]

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


# Quotes and brackets a name may be typed (or published) inside, as they stand after `title_key`: NFKC
# folds the full-width `＂＇（）［］｛｝＜＞` onto ASCII and leaves the CJK and typographic ones alone.
_OPENERS = "“‘「『《〈【〔〖（([{<\"'"
_CLOSERS = "”’」』》〉】〕〗）)]}>\"'"
_EDGES = _OPENERS + _CLOSERS + " "
# Inside a name a quote is typography only: `"闭门造车"` typed on an ASCII keyboard means `“闭门造车”`.
_QUOTES = str.maketrans(
    {"“": '"', "”": '"', "„": '"', "「": '"', "」": '"', "‘": "'", "’": "'", "『": "'", "』": "'"}
)


def series_lookup_key(typed: str) -> str:
    """The key a series name is matched by, typed or stored: `series_key` less edge quotes and brackets.

    Quotes and brackets of any kind (`“”‘’「」『』《》〈〉【】〔〕〖〗`, ASCII and full-width quotes and
    parentheses, square, curly and angle brackets) at either end are dropped, so `闭门造车`, `"闭门造车"`,
    `《闭门造车》` and `【闭门造车】` all match the stored `“闭门造车”之多模态思路浅谈` by prefix. Quotes
    inside a name are folded to ASCII (`“` and `"` agree) and kept; brackets inside are kept as written.
    Apply it to both sides: it is idempotent and folds a stored key like any typed name.
    """
    return series_key(typed).strip(_EDGES).translate(_QUOTES)


def quoted_lead(name: str) -> str | None:
    """The phrase a series name opens with inside quotes or brackets (`“闭门造车”之…` → `闭门造车`), folded
    by `series_lookup_key`; None when the name does not open that way or the phrase is the whole name.
    """
    key = series_key(name)
    if not key or key[0] not in _OPENERS:
        return None
    closer = _CLOSERS[_OPENERS.index(key[0])]
    end = key.find(closer, 1)
    if end < 0 or not key[end + 1 :].strip(_EDGES):
        return None
    lead = series_lookup_key(key[1:end])
    return lead or None


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
