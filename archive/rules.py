"""The domain's rules in plain Python: what a new sighting does to a stored post, and which posts are new.

The stores persist what these decide; nothing here reads a clock, a file or the database.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from archive.model import Post

__all__ = ["NewnessRule", "Outcome", "announce_cutoff", "is_announceable", "is_poorer_excerpt", "merge"]


class Outcome(Enum):
    """What storing one sighting did."""

    INSERTED = "inserted"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


# What a source appends to a cut excerpt, and what separates words; neither decides whether texts agree.
_TRAILING_ELLIPSIS = re.compile(r"(?:\.{3,}|…+|⋯+|\[\.\.\.\]|［…］)\s*$")
_NOISE = re.compile(r"[\s\u200b]+")


def _comparable(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _NOISE.sub("", _TRAILING_ELLIPSIS.sub("", folded.strip()))


def is_poorer_excerpt(candidate: str, stored: str) -> bool:
    """Whether `candidate` says nothing `stored` does not: empty, or a cut-off beginning of it.

    `众所周知……` against a stored excerpt that starts `众所周知，` is poorer; a rewritten excerpt is not.
    """
    mine = _comparable(candidate)
    if not mine:
        return True
    theirs = _comparable(stored)
    return len(mine) < len(theirs) and theirs.startswith(mine)


def _richer(a: str | None, b: str | None) -> str | None:
    """The longer of two texts (the first on a tie), so that no source makes the index poorer."""
    if not a:
        return b or a
    if not b:
        return a
    return b if len(b) > len(a) else a


def merge(stored: Post, seen: Post) -> Post:
    """What the store keeps when a known post is seen again.

    - The live site's title spelling wins over a capture's folded one.
    - A known year is never lost; a reader count never goes down (a lower one comes from an older capture)
      and an absent one never erases a present one.
    - The excerpt shown: the newest source's, unless it is empty or a cut-off version of the stored one, or
      it comes from a capture while the stored one is live.
    - `content` holds the richest text any source gave beyond the shown excerpt (the feed's full text, or a
      longer excerpt the shown one replaced), so the search index never loses a word a reader could find.
    """
    capture_after_live = stored.title_is_live and not seen.title_is_live
    title = stored.title if capture_after_live else seen.title
    post_date = seen.date if seen.date.year is not None or stored.date.year is None else stored.date
    readers = stored.readers if seen.readers is None else max(seen.readers, stored.readers or 0)
    keep_stored_excerpt = bool(stored.excerpt) and (
        capture_after_live or is_poorer_excerpt(seen.excerpt, stored.excerpt)
    )
    excerpt = stored.excerpt if keep_stored_excerpt else seen.excerpt
    dropped = seen.excerpt if keep_stored_excerpt else stored.excerpt
    content = _richer(stored.content, seen.content)
    if dropped and len(dropped) > len(excerpt) and not is_poorer_excerpt(dropped, excerpt):
        # A richer excerpt gave way to a shorter one: its words stay searchable.
        content = _richer(content, dropped)
    return Post(
        id=stored.id if stored.id is not None else seen.id,
        title=title,
        title_is_live=stored.title_is_live or seen.title_is_live,
        date=post_date,
        readers=readers,
        excerpt=excerpt,
        content=content,
    )


def announce_cutoff(
    last_successful_poll: datetime | None, now: datetime, tz: ZoneInfo, max_age_days: int
) -> date:
    """The earliest date a never-seen post may carry and still be announced.

    Anchored on the last successful poll (else now), so a long outage still announces what it missed.
    """
    anchor = now if last_successful_poll is None else last_successful_poll
    try:
        return anchor.astimezone(tz).date() - timedelta(days=max_age_days)
    except OverflowError:
        return date.min


@dataclass(frozen=True, slots=True)
class NewnessRule:
    """The newness rule of one poll: a baseline announces nothing; otherwise dated on or after the cutoff."""

    baseline: bool
    cutoff: date

    def announces(self, post: Post) -> bool:
        """Whether a post stored for the first time by this poll is announced."""
        return not self.baseline and is_announceable(post, self.cutoff)


def is_announceable(post: Post, cutoff: date) -> bool:
    """A never-seen post is announced when its year is known and it is dated no earlier than `cutoff`."""
    if post.date.year is None:
        return False
    try:
        return date(post.date.year, post.date.month, post.date.day) >= cutoff
    except ValueError:
        return False
