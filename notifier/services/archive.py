"""The archive as readers look it up: newest posts, search, series and the message views of posts."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from archive.identity import series_lookup_key as lookup_key
from archive.lookup import match_names
from digest.model import PostItem, build_item
from digest.selection import DigestBuilder
from notifier.config import Config
from notifier.errors import InvalidRequest
from storage.db import Database
from storage.posts import SeriesSummary, StoredPost
from storage.search import MAX_LIMIT, MAX_QUERY_CHARS, QueryTooLongError, SearchHit, search
from storage.subscribers import (
    SeriesRef,
)
from storage.uow import read_stores

log = logging.getLogger(__name__)

MAX_LATEST = 100
MAX_OFFSET = 10_000


class SeriesMatch(Enum):
    """How a typed series name matched the stored series."""

    FOUND = "found"
    AMBIGUOUS = "ambiguous"
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class SeriesDetail:
    """One series: its stored parts in order and the part numbers missing below the highest."""

    summary: SeriesSummary
    posts: list[StoredPost]
    missing: list[int]


@dataclass(frozen=True, slots=True)
class SeriesLookup:
    """The answer to a typed series name: found (with detail), ambiguous (with candidates) or not found."""

    match: SeriesMatch
    detail: SeriesDetail | None = None
    candidates: tuple[SeriesSummary, ...] = ()
    # NOT_FOUND only: the closest names within a typo or two, for a "did you mean" (never acted on unasked).
    suggestions: tuple[SeriesSummary, ...] = ()


def missing_parts(posts: Sequence[StoredPost]) -> list[int]:
    """The part numbers from 1 to the highest stored part that no stored post holds."""
    parts = {s.post.series.part for s in posts if s.post.series is not None}
    return [n for n in range(1, max(parts, default=0) + 1) if n not in parts]


class ArchiveService:
    """The stored archive as readers look it up: the newest posts, search, series, message views."""

    def __init__(self, *, config: Config, db: Database) -> None:
        self.config = config
        self.db = db

    async def post_count(self) -> int:
        """How many posts are stored."""
        return await read_stores(self.db).posts.count()

    async def latest(self, limit: int = 10, offset: int = 0) -> list[StoredPost]:
        """The newest stored posts, newest first; posts whose year is unknown come last."""
        if not 1 <= limit <= MAX_LATEST:
            raise InvalidRequest(f"the count must be from 1 to {MAX_LATEST}")
        if not 0 <= offset <= MAX_OFFSET:
            raise InvalidRequest(f"the offset must be from 0 to {MAX_OFFSET}")
        return await read_stores(self.db).posts.latest(limit, offset)

    async def search(self, query: str, limit: int = 10, offset: int = 0) -> list[SearchHit]:
        """The stored posts matching `query`, best first (see storage/search.py for the ranking)."""
        if not query.strip():
            raise InvalidRequest("the query is empty")
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidRequest(f"the count must be from 1 to {MAX_LIMIT}")
        if not 0 <= offset <= MAX_OFFSET:
            raise InvalidRequest(f"the offset must be from 0 to {MAX_OFFSET}")
        # A pasted paragraph is searched by its first MAX_QUERY_CHARS characters rather than refused.
        try:
            return await search(self.db, query[:MAX_QUERY_CHARS], limit=limit, offset=offset)
        except QueryTooLongError as exc:
            raise InvalidRequest(str(exc)) from None

    async def series_index(self) -> list[SeriesSummary]:
        """Every series with its part count and newest date, newest first."""
        return await read_stores(self.db).posts.series_summaries()

    async def find_series(self, name: str) -> SeriesLookup:
        """A series by any part of its name, spaced and punctuated any way; a name that matches none gets
        the closest names within a typo or two as `suggestions` (archive/lookup.py)."""
        if not lookup_key(name):
            raise InvalidRequest("the series name is empty")
        reads = read_stores(self.db)
        summaries = await reads.posts.series_summaries()
        matches = match_names(name, [s.key for s in summaries])
        chosen = [summaries[i] for i in matches.indexes]
        if matches.how == "typo":
            return SeriesLookup(SeriesMatch.NOT_FOUND, suggestions=tuple(chosen))
        if not chosen:
            return SeriesLookup(SeriesMatch.NOT_FOUND)
        if len(chosen) > 1:
            return SeriesLookup(SeriesMatch.AMBIGUOUS, candidates=tuple(chosen))
        posts = await reads.posts.series_posts(chosen[0].key)
        return SeriesLookup(SeriesMatch.FOUND, SeriesDetail(chosen[0], posts, missing_parts(posts)))

    async def post_by_key(self, pk: int) -> StoredPost | None:
        """The stored post with this row key (a notification's button names its post so)."""
        return await read_stores(self.db).posts.by_pk(pk)

    async def post_items(self, posts: Sequence[StoredPost]) -> list[PostItem]:
        """The message views of stored posts (rendered excerpt, previous part), as messages show them."""
        builder = DigestBuilder(
            self.db,
            link_host=self.config.link_host,
            tz=self.config.tz,
            excerpt_chars=self.config.excerpt_chars,
        )
        return [await builder.item(stored) for stored in posts]

    def hit_items(self, hits: Sequence[SearchHit]) -> list[PostItem]:
        """The message views of search hits (rendered excerpt; no previous-part link, which needs the row)."""
        return [
            build_item(
                StoredPost(pk=hit.post.id or 0, post=hit.post, first_seen_at="", updated_at=""),
                link_host=self.config.link_host,
                excerpt_chars=self.config.excerpt_chars,
            )
            for hit in hits
        ]

    async def series_refs(self) -> dict[str, SeriesRef]:
        """Every series' deep-link number by series key."""
        return await read_stores(self.db).subscribers.series_refs()

    async def series_by_id(self, series_id: int) -> SeriesLookup:
        """A series by its deep-link number (a button or `/start s<id>`)."""
        reads = read_stores(self.db)
        ref = await reads.subscribers.series_by_id(series_id)
        if ref is None:
            return SeriesLookup(SeriesMatch.NOT_FOUND)
        for summary in await reads.posts.series_summaries():
            if summary.key == ref.key:
                posts = await reads.posts.series_posts(summary.key)
                return SeriesLookup(SeriesMatch.FOUND, SeriesDetail(summary, posts, missing_parts(posts)))
        return SeriesLookup(SeriesMatch.NOT_FOUND)
