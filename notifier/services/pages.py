"""The digests the web pages show: an ISO week, a span of days, any period."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

from digest.model import Digest
from digest.selection import DigestBuilder
from notifier.config import Clock, Config
from notifier.mail.weekly import week_monday
from storage.db import Database

log = logging.getLogger(__name__)

# The longest span a browser digest page shows: a weekly email covers about a week, a late one a few.
PAGE_SPAN_DAYS = 31


class PagesService:
    """The digests the web app shows: an ISO week, a span of days, any period."""

    def __init__(self, *, config: Config, db: Database, clock: Clock) -> None:
        self.config = config
        self.db = db
        self.clock = clock

    async def digest_for_period(self, since: date, now: datetime | None = None) -> Digest:
        """The digest of every post dated from `since` to now (possibly empty)."""
        builder = DigestBuilder(
            self.db,
            link_host=self.config.link_host,
            tz=self.config.tz,
            excerpt_chars=self.config.excerpt_chars,
        )
        return await builder.for_period(since, now or self.clock())

    async def week_digest(self, week: str) -> Digest | None:
        """The digest of ISO week '2025-W20' (its posts by date, up to now for this week); None for a week
        that is malformed or has not begun."""
        try:
            monday = week_monday(week)
        except ValueError:
            return None
        tz = self.config.tz
        now = self.clock()
        start = datetime.combine(monday, time.min, tzinfo=tz)
        if start > now:
            return None
        end = min(now, start + timedelta(days=7) - timedelta(microseconds=1))
        return await self.digest_for_period(monday, end)

    async def span_digest(self, first: date, last: date) -> Digest | None:
        """The digest of the posts dated `first` to `last` (both included, up to now): the period one weekly
        email covered; None for an empty, inverted, future or longer than PAGE_SPAN_DAYS span."""
        tz = self.config.tz
        now = self.clock()
        start = datetime.combine(first, time.min, tzinfo=tz)
        if last < first or (last - first).days > PAGE_SPAN_DAYS or start > now:
            return None
        end = min(now, datetime.combine(last, time.max, tzinfo=tz))
        return await self.digest_for_period(first, end)
