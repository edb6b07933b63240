"""The shape of the live site: where the archive page, the listings and the category pages are."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from urllib.parse import urlsplit

from archive.model import Post

__all__ = ["CATEGORY_SLUGS", "MAX_PAGES_PER_CATEGORY", "category_page_url", "feed_has_gap", "site_root"]

CATEGORY_SLUGS = (
    "Everything",
    "Astronomy",
    "Mathematics",
    "Phy-chem",
    "Big-Data",
    "Biology",
    "Photograph",
    "Questions",
    "Life-Feeling",
    "Resources",
)
MAX_PAGES_PER_CATEGORY = 500


def site_root(source: str) -> str | None:
    """`scheme://host` of an http(s) source: where `/content.html` and the listings live."""
    parts = urlsplit(source)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def category_page_url(root: str, slug: str, page: int) -> str:
    """`/category/{slug}/` for page 1, `/category/{slug}/{page}/` after it."""
    return f"{root}/category/{slug}/" if page == 1 else f"{root}/category/{slug}/{page}/"


def feed_has_gap(feed_posts: Sequence[Post], newest_stored: str | None) -> bool:
    """The feed's oldest item is newer than anything stored: posts may have been missed in between."""
    dated = [p.date for p in feed_posts if p.date.year is not None]
    if newest_stored is None or not dated:
        return False
    oldest = min(dated)
    assert oldest.year is not None
    return date(oldest.year, oldest.month, oldest.day).isoformat() > newest_stored
