"""The domain's rules in plain Python: what a new sighting does to a stored post, and which posts are new.

The stores persist what these decide; nothing here reads a clock, a file or the database.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from archive.identity import title_key
from archive.model import Post

__all__ = [
    "NewnessRule",
    "Outcome",
    "announce_cutoff",
    "is_announceable",
    "is_poorer_excerpt",
    "merge",
    "misread_original",
    "sighting_anomaly",
    "sighting_lookup",
]


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


# What a UTF-8 page is misread as before the result is served again as UTF-8: Windows-1252 (the bytes it
# leaves undefined pass through as Latin-1, as browsers and most tools do) and GBK.
_MISREAD_AS = ("sloppy-cp1252", "gbk")


def _misread_bytes(text: str, codec: str) -> bytes | None:
    """The bytes `text` was decoded from under `codec`, or None when it cannot have been."""
    if codec != "sloppy-cp1252":
        try:
            return text.encode(codec)
        except UnicodeEncodeError:
            return None
    out = bytearray()
    for char in text:
        try:
            out += char.encode("cp1252")
        except UnicodeEncodeError:
            if ord(char) > 0xFF:
                return None
            out.append(ord(char))
    return bytes(out)


def misread_original(text: str) -> str | None:
    """The text a mis-decoded UTF-8 string stood for (`æµ‹è¯•` → `测试`), or None when it is not one.

    Only a string whose characters re-encode under a misreading codec into valid UTF-8 different from it
    qualifies; pure ASCII never does.
    """
    if text.isascii():
        return None
    for codec in _MISREAD_AS:
        raw = _misread_bytes(text, codec)
        if raw is None:
            continue
        try:
            original = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if original != text:
            return original
    return None


def sighting_lookup(seen: Iterable[Post]) -> tuple[set[int], set[str]]:
    """The archive ids and title keys whose stored posts `sighting_anomaly` needs to judge `seen`.

    The keys include those of the titles a misread page would have garbled, so a garbled title finds the
    stored post it garbles.
    """
    ids: set[int] = set()
    keys: set[str] = set()
    for post in seen:
        if post.id is not None:
            ids.add(post.id)
        keys.add(title_key(post.title))
        original = misread_original(post.title)
        if original is not None:
            keys.add(title_key(original))
    return ids, keys


def sighting_anomaly(seen: Sequence[Post], known: Iterable[Post], *, store_empty: bool) -> str | None:
    """Why one source's posts must not be stored (the read counts as a failure of the source), or None.

    `known` holds the stored posts sharing an archive id or a title key with `sighting_lookup(seen)`.
    - No posts while the store holds some: the blog always lists posts, so an empty feed or a 200 with an
      error page is a failure, never "nothing new" (on an empty store it is merely nothing yet).
    - A title that is a misread-encoding version of a stored title (`æµ‹è¯•` for `测试`): the page was
      decoded wrongly somewhere, and storing it would garble good titles or invent "new" posts.
    - Most posts carry ids never stored while their titles are stored under other ids: the ids changed
      (a migration, a broken mirror), and taking them would announce every old post again.
    """
    if not seen:
        return None if store_empty else "the page lists no posts"
    known = list(known)
    known_keys = {title_key(post.title): post for post in known}
    for post in seen:
        original = misread_original(post.title)
        if original is None:
            continue
        match = known_keys.get(title_key(original))
        if match is not None and title_key(match.title) != title_key(post.title):
            return (
                f"garbled text, a page in the wrong encoding: {post.title!r} is the stored title "
                f"{match.title!r} misread"
            )
    known_ids = {post.id for post in known if post.id is not None}
    with_ids = [post for post in seen if post.id is not None]
    moved = [
        (match.id, post.id)
        for post in with_ids
        if post.id not in known_ids
        and (match := known_keys.get(title_key(post.title))) is not None
        and match.id is not None
    ]
    if with_ids and 2 * len(moved) > len(with_ids):
        old, new = moved[0]
        return (
            f"the posts' ids changed: {len(moved)} of {len(with_ids)} stored titles come with new ids "
            f"(#{old} is now #{new})"
        )
    return None
