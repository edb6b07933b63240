"""What the Atom feeds and the series page show: the newest posts, every series with its parts.

Returns data (post views with their dates and series numbers); the web app turns it into Atom and pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from archive.identity import series_lookup_key
from digest.model import PostItem
from digest.selection import DigestBuilder
from storage.db import Database
from storage.posts import SeriesSummary, StoredPost
from storage.subscribers import SeriesRef
from storage.uow import read_stores

FEED_POSTS = 50
# A feed reader shows more than a chat message: a longer excerpt, still cut at a sentence end.
FEED_EXCERPT_CHARS = 600


@dataclass(frozen=True, slots=True)
class FeedPost:
    """A post as a feed shows it: its view (excerpt with the stored LaTeX), when it was published (None for
    a post whose year is unknown) and when it last changed for a reader."""

    item: PostItem
    published: datetime | None
    updated: datetime


@dataclass(frozen=True, slots=True)
class SeriesFeed:
    """A series with its stable number (the feed's URL) and its stored parts in part order."""

    id: int
    key: str
    name: str
    posts: tuple[FeedPost, ...]
    latest: str | None

    @property
    def updated(self) -> datetime | None:
        """The newest change among its parts."""
        return max((post.updated for post in self.posts), default=None)


class Feeds:
    """The posts of the feeds and of the series page, read from the store."""

    def __init__(self, db: Database, *, link_host: str, tz: ZoneInfo) -> None:
        self.db = db
        self.link_host = link_host
        self.tz = tz

    def _builder(self) -> DigestBuilder:
        return DigestBuilder(self.db, link_host=self.link_host, tz=self.tz, excerpt_chars=FEED_EXCERPT_CHARS)

    async def _feed_post(self, builder: DigestBuilder, stored: StoredPost) -> FeedPost:
        date = stored.post.date
        published = (
            None
            if date.year is None
            else datetime.combine(datetime(date.year, date.month, date.day).date(), time.min, tzinfo=self.tz)
        )
        seen = datetime.fromisoformat(stored.first_seen_at) if stored.first_seen_at else None
        updated = published or seen or datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))
        return FeedPost(await builder.item(stored), published, updated)

    async def newest(self, limit: int = FEED_POSTS) -> list[FeedPost]:
        """The newest stored posts, newest first."""
        builder = self._builder()
        posts = await read_stores(self.db).posts.latest(limit)
        return [await self._feed_post(builder, stored) for stored in posts]

    async def _series_feed(
        self, builder: DigestBuilder, ref: SeriesRef, summary: SeriesSummary
    ) -> SeriesFeed:
        posts = await read_stores(self.db).posts.series_posts(summary.key)
        parts = tuple([await self._feed_post(builder, stored) for stored in posts])
        return SeriesFeed(ref.id, summary.key, summary.name, parts, summary.latest)

    async def every_series(self) -> list[SeriesFeed]:
        """Every series with its parts, newest series first."""
        reads = read_stores(self.db)
        refs = await reads.subscribers.series_refs()
        builder = self._builder()
        return [
            await self._series_feed(builder, refs[summary.key], summary)
            for summary in await reads.posts.series_summaries()
            if summary.key in refs
        ]

    async def series(self, series_id: int | str) -> SeriesFeed | None:
        """One series by its stable number or by its name (any spelling the bot's /series takes), or None."""
        reads = read_stores(self.db)
        if isinstance(series_id, str):
            wanted = series_lookup_key(series_id)
            refs = await reads.subscribers.series_refs()
            ref = next((r for key, r in refs.items() if wanted and series_lookup_key(key) == wanted), None)
        else:
            ref = await reads.subscribers.series_by_id(series_id)
        if ref is None:
            return None
        for summary in await reads.posts.series_summaries():
            if summary.key == ref.key:
                return await self._series_feed(self._builder(), ref, summary)
        return None
