"""What a digest holds: for a recipient, everything new since their last digest; for a period, its posts.

A builder serves one run: each post's message view and each period's most-read list are made once and
shared by every recipient of the run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from digest.excerpt import DEFAULT_EXCERPT_CHARS
from digest.model import Digest, MostRead, PostItem, build_item, home_url
from storage.db import Database
from storage.posts import StoredPost
from storage.recipients import Recipient, RecipientStore
from storage.uow import read_stores

log = logging.getLogger(__name__)

FIRST_DIGEST_DAYS = 7
MOST_READ_LIMIT = 5


class DigestBuilder:
    """Builds digests from the store; the clock is always passed in (`now`), never read.

    One builder serves one run: post views, most-read lists and selection windows are cached in it.
    """

    def __init__(
        self,
        db: Database,
        *,
        link_host: str,
        tz: ZoneInfo,
        excerpt_chars: int = DEFAULT_EXCERPT_CHARS,
        most_read_limit: int = MOST_READ_LIMIT,
        cached: bool = True,
    ) -> None:
        self.posts = read_stores(db).posts
        self.recipients = RecipientStore(db)
        self.link_host = link_host
        self.tz = tz
        self.excerpt_chars = excerpt_chars
        self.most_read_limit = most_read_limit
        # False re-renders every excerpt from its LaTeX (the naive baseline of the bench).
        self.cached = cached
        self._items: dict[int, PostItem] = {}
        self._most_read: dict[tuple[datetime, datetime], tuple[MostRead, ...]] = {}
        self._window: dict[tuple[datetime, datetime, bool], tuple[list[StoredPost], dict[int, str]]] = {}

    async def item(self, stored: StoredPost) -> PostItem:
        """The message view of a stored post, with its previous part's link; made once per post and run."""
        found = self._items.get(stored.pk)
        if found is None:
            previous = await self.recipients.previous_part(stored.pk) if stored.post.series else None
            found = build_item(
                stored,
                link_host=self.link_host,
                excerpt_chars=self.excerpt_chars,
                previous=previous,
                cached=self.cached,
            )
            self._items[stored.pk] = found
        return found

    async def most_read(self, start: datetime, end: datetime) -> tuple[MostRead, ...]:
        """The posts whose reader count grew most between `start` and `end`."""
        key = (start, end)
        found = self._most_read.get(key)
        if found is None:
            growth = await self.posts.reader_growth(start, end, limit=self.most_read_limit)
            found = tuple([MostRead(await self.item(stored), grown) for stored, grown in growth])
            self._most_read[key] = found
        return found

    def _day(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()

    async def _new_posts(
        self, since: datetime, now: datetime, first: bool
    ) -> tuple[list[StoredPost], dict[int, str]]:
        """Posts new to a recipient whose last digest was at `since` (or who never had one: `first`)."""
        key = (since, now, first)
        cached = self._window.get(key)
        if cached is not None:
            return cached
        since_date = self._day(since)
        found = await self.recipients.posts_new_between(since, now, since_date)
        if first:
            # A first digest covers the last days by date, whenever the store learned of the posts.
            known = {p.pk for p in found}
            dated = await self.posts.since(since_date, self._day(now) + timedelta(days=1))
            found = sorted(
                found + [p for p in dated if p.pk not in known],
                key=lambda p: (p.post.date.iso(), p.post.id or 0, p.pk),
            )
        keys = await self.recipients.series_keys_of([p.pk for p in found])
        self._window[key] = (found, keys)
        return found, keys

    async def for_recipient(self, recipient: Recipient, now: datetime) -> Digest | None:
        """Everything new since the recipient's last digest (the last seven days for a first one), or None.

        New parts of series the recipient follows go in their own section; other posts are included when
        the recipient follows everything or their watched words caught them. A digest with nothing new is
        None: it is not sent.
        """
        first = recipient.last_digest_at is None
        since = (
            now - timedelta(days=FIRST_DIGEST_DAYS)
            if recipient.last_digest_at is None
            else recipient.last_digest_at
        )
        posts, keys = await self._new_posts(since, now, first)
        watched = await self.recipients.watched_among(recipient, [p.pk for p in posts])
        followed: list[PostItem] = []
        others: list[PostItem] = []
        for stored in posts:
            if keys.get(stored.pk) in recipient.series_keys:
                followed.append(await self.item(stored))
            elif recipient.follows_all or stored.pk in watched:
                others.append(await self.item(stored))
        if not followed and not others:
            log.debug("digest: nothing new for %s recipient %d", recipient.channel, recipient.id)
            return None
        return Digest(
            start=self._day(since),
            end=self._day(now),
            home_url=home_url(self.link_host),
            posts=tuple(others),
            series_updates=tuple(followed),
            most_read=await self.most_read(since, now),
        )

    async def for_period(self, start: date, now: datetime, *, follows: Sequence[str] = ()) -> Digest:
        """The digest of every post dated from `start` to `now` (the command line's view), possibly empty."""
        posts = await self.posts.since(start, self._day(now) + timedelta(days=1))
        keys = await self.recipients.series_keys_of([p.pk for p in posts])
        wanted = set(follows)
        followed = [await self.item(p) for p in posts if keys.get(p.pk) in wanted]
        others = [await self.item(p) for p in posts if keys.get(p.pk) not in wanted]
        start_moment = datetime.combine(start, time.min, tzinfo=self.tz)
        return Digest(
            start=start,
            end=self._day(now),
            home_url=home_url(self.link_host),
            posts=tuple(others),
            series_updates=tuple(followed),
            most_read=await self.most_read(start_moment, now),
        )
