"""The post table: identity-aware upserts, the new-post claim, and the read queries every command needs."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite

from archive.identity import series_key, title_key
from archive.model import Post, PostDate, Series
from archive.series import detect_series
from storage.db import Database

log = logging.getLogger(__name__)

POST_COLUMNS = (
    "pk, archive_id, title, title_is_live, year, month, day, readers, excerpt, content, "
    "series_name, series_part, first_seen_at, updated_at"
)


@dataclass(frozen=True, slots=True)
class StoredPost:
    """A post as the store knows it, with its row key and bookkeeping times."""

    pk: int
    post: Post
    first_seen_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What one batch of sightings did to the store."""

    baseline: bool
    new: list[StoredPost]
    updated: int
    unchanged: int
    stored_silently: int
    poll_id: int


@dataclass(frozen=True, slots=True)
class SeriesSummary:
    """One series: its name, how many parts are stored, and the newest part's date."""

    name: str
    key: str
    parts: int
    latest: str | None


def iso(moment: datetime) -> str:
    """Timestamps are stored as UTC ISO strings so that they sort as text."""
    return moment.astimezone(ZoneInfo("UTC")).isoformat(timespec="seconds")


_WRITTEN = (
    "archive_id",
    "title",
    "title_key",
    "title_is_live",
    "year",
    "month",
    "day",
    "readers",
    "excerpt",
    "content",
    "series_name",
    "series_key",
    "series_part",
)


def _values(post: Post) -> tuple[Any, ...]:
    """The `_WRITTEN` columns of a post, in order."""
    series = post.series
    return (
        post.id,
        post.title,
        title_key(post.title),
        int(post.title_is_live),
        post.date.year,
        post.date.month,
        post.date.day,
        post.readers,
        post.excerpt,
        post.content,
        None if series is None else series.name,
        None if series is None else series_key(series.name),
        None if series is None else series.part,
    )


def _row_to_post(row: Sequence[Any]) -> StoredPost:
    series = None if row[10] is None else Series(str(row[10]), int(row[11]))
    post = Post(
        id=row[1],
        title=row[2],
        title_is_live=bool(row[3]),
        date=PostDate(row[4], row[5], row[6]),
        readers=row[7],
        excerpt=row[8],
        content=row[9],
        series=series,
    )
    return StoredPost(pk=int(row[0]), post=post, first_seen_at=row[12], updated_at=row[13])


def merge(stored: Post, seen: Post) -> Post:
    """What the store keeps when a known post is seen again.

    The live site's title spelling wins over a capture's folded one, and so does its excerpt; a known year
    is never lost; an absent reader count, excerpt or full text never erases a present one; a reader count
    never goes down (the site's only grows: a lower one comes from an older capture).
    """
    capture_after_live = stored.title_is_live and not seen.title_is_live
    title = stored.title if capture_after_live else seen.title
    post_date = seen.date if seen.date.year is not None or stored.date.year is None else stored.date
    readers = stored.readers if seen.readers is None else max(seen.readers, stored.readers or 0)
    excerpt = stored.excerpt if capture_after_live and stored.excerpt else seen.excerpt or stored.excerpt
    merged = Post(
        id=stored.id if stored.id is not None else seen.id,
        title=title,
        title_is_live=stored.title_is_live or seen.title_is_live,
        date=post_date,
        readers=readers,
        excerpt=excerpt,
        content=seen.content if seen.content is not None else stored.content,
        series=None,
    )
    return replace(merged, series=detect_series(merged.title))


class PostStore:
    """Posts, their reader counts over time, and the outbox of announced posts."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def _find(self, conn: aiosqlite.Connection, post: Post) -> StoredPost | None:
        """The stored post that is this sighting: by archive id, else by normalized title."""
        key = title_key(post.title)
        if post.id is not None:
            async with conn.execute(
                f"SELECT {POST_COLUMNS} FROM posts WHERE archive_id = ?", (post.id,)
            ) as c:
                row = await c.fetchone()
            if row is not None:
                return _row_to_post(row)
            # Seen before without an id (a text capture): the same title makes it the same post.
            async with conn.execute(
                f"SELECT {POST_COLUMNS} FROM posts WHERE title_key = ? AND archive_id IS NULL", (key,)
            ) as c:
                row = await c.fetchone()
            return None if row is None else _row_to_post(row)
        async with conn.execute(
            f"SELECT {POST_COLUMNS} FROM posts WHERE title_key = ? ORDER BY date DESC", (key,)
        ) as c:
            rows = list(await c.fetchall())
        if not rows:
            return None
        candidates = [_row_to_post(r) for r in rows]
        # Two posts may share a title across the years; the month and day pick the right one.
        for candidate in candidates:
            if (candidate.post.date.month, candidate.post.date.day) == (post.date.month, post.date.day):
                return candidate
        return candidates[0]

    async def _insert(self, conn: aiosqlite.Connection, post: Post, now: str) -> int:
        cursor = await conn.execute(
            f"INSERT INTO posts ({', '.join(_WRITTEN)}, first_seen_at, updated_at) "
            f"VALUES ({', '.join('?' * (len(_WRITTEN) + 2))})",
            (*_values(post), now, now),
        )
        pk = cursor.lastrowid
        assert pk is not None
        return pk

    async def _update(self, conn: aiosqlite.Connection, pk: int, post: Post, now: str) -> None:
        assignments = ", ".join(f"{column} = ?" for column in _WRITTEN)
        await conn.execute(
            f"UPDATE posts SET {assignments}, updated_at = ? WHERE pk = ?", (*_values(post), now, pk)
        )

    async def _observe_readers(self, conn: aiosqlite.Connection, pk: int, readers: int, now: str) -> None:
        """Record a reader count when it differs from the last one recorded: growth is read off these."""
        async with conn.execute(
            "SELECT readers FROM reader_counts WHERE post_pk = ? ORDER BY observed_at DESC LIMIT 1", (pk,)
        ) as c:
            row = await c.fetchone()
        if row is None or int(row[0]) != readers:
            await conn.execute(
                "INSERT OR REPLACE INTO reader_counts (post_pk, observed_at, readers) VALUES (?, ?, ?)",
                (pk, now, readers),
            )

    async def _upsert_one(self, conn: aiosqlite.Connection, post: Post, now: str) -> tuple[StoredPost, str]:
        """Store one sighting; say whether it was `inserted`, `updated` or `unchanged`."""
        found = await self._find(conn, post)
        if found is None:
            pk = await self._insert(conn, post, now)
            outcome, stored = "inserted", StoredPost(pk, post, now, now)
        else:
            merged = merge(found.post, post)
            if merged == found.post:
                outcome, stored = "unchanged", found
            else:
                await self._update(conn, found.pk, merged, now)
                outcome, stored = "updated", StoredPost(found.pk, merged, found.first_seen_at, now)
        if stored.post.readers is not None:
            await self._observe_readers(conn, stored.pk, stored.post.readers, now)
        return stored, outcome

    async def upsert(self, posts: Iterable[Post], *, now: datetime) -> tuple[int, int, int]:
        """Store sightings silently (backfill, reader refresh): (inserted, updated, unchanged)."""
        counts = {"inserted": 0, "updated": 0, "unchanged": 0}
        stamp = iso(now)
        async with self.db.transaction() as conn:
            for post in posts:
                _, outcome = await self._upsert_one(conn, post, stamp)
                counts[outcome] += 1
        return counts["inserted"], counts["updated"], counts["unchanged"]

    async def last_successful_poll(self) -> datetime | None:
        """When the last poll that fetched at least one source finished."""
        async with self.db.conn.execute("SELECT max(finished_at) FROM polls WHERE ok = 1") as c:
            row = await c.fetchone()
        return None if row is None or row[0] is None else datetime.fromisoformat(row[0])

    async def ingest(
        self, posts: Sequence[Post], *, now: datetime, tz: ZoneInfo, max_age_days: int
    ) -> IngestResult:
        """One poll's sightings in one transaction: upsert them and claim the new ones in the outbox.

        New means: an identity never stored before, with a known year, dated no earlier than `max_age_days`
        before the last successful poll (or before now, when none). The first poll of an empty store is a
        baseline and announces nothing. The claim is `outbox.post_pk UNIQUE`, so two pollers announce once.
        """
        stamp = iso(now)
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT NOT EXISTS (SELECT 1 FROM posts)") as c:
                row = await c.fetchone()
            baseline = bool(row and row[0])
            async with conn.execute("SELECT max(finished_at) FROM polls WHERE ok = 1") as c:
                last = await c.fetchone()
            anchor = now if last is None or last[0] is None else datetime.fromisoformat(last[0])
            cutoff: date = anchor.astimezone(tz).date() - timedelta(days=max_age_days)
            cursor = await conn.execute(
                "INSERT INTO polls (started_at, baseline) VALUES (?, ?)", (stamp, int(baseline))
            )
            poll_id = cursor.lastrowid
            assert poll_id is not None
            # The same post in two sources of one poll is one sighting: its first outcome counts, and
            # newness is judged on what the store knows after the whole poll, so a homepage entry without
            # a year is dated by the archive page read in the same poll, whatever the source order.
            outcomes: dict[int, str] = {}
            final: dict[int, StoredPost] = {}
            for post in posts:
                stored, outcome = await self._upsert_one(conn, post, stamp)
                outcomes.setdefault(stored.pk, outcome)
                final[stored.pk] = stored
            new: list[StoredPost] = []
            counts = {"inserted": 0, "updated": 0, "unchanged": 0}
            silent = 0
            for pk, outcome in outcomes.items():
                counts[outcome] += 1
                stored = final[pk]
                if outcome != "inserted":
                    continue
                if baseline or not _is_recent(stored.post, cutoff):
                    silent += 1
                    continue
                claim = await conn.execute(
                    "INSERT OR IGNORE INTO outbox (post_pk, poll_id, queued_at) VALUES (?, ?, ?)",
                    (pk, poll_id, stamp),
                )
                if claim.rowcount == 1:
                    new.append(stored)
            updated, unchanged = counts["updated"], counts["unchanged"]
            await conn.execute(
                "UPDATE polls SET finished_at = ?, ok = 1, new_count = ? WHERE id = ?",
                (stamp, len(new), poll_id),
            )
        for item in new:
            log.info("poll %d: new post id=%s title=%s", poll_id, item.post.id, item.post.title)
        return IngestResult(baseline, new, updated, unchanged, silent, poll_id)

    async def count(self) -> int:
        """How many posts are stored."""
        async with self.db.conn.execute("SELECT count(*) FROM posts") as c:
            row = await c.fetchone()
        return int(row[0]) if row else 0

    async def newest_date(self) -> str | None:
        """The date of the newest stored post with a known year."""
        async with self.db.conn.execute("SELECT max(date) FROM posts") as c:
            row = await c.fetchone()
        return None if row is None else row[0]

    async def latest(self, limit: int = 10, offset: int = 0) -> list[StoredPost]:
        """Newest first; posts whose year is unknown come last."""
        sql = (
            f"SELECT {POST_COLUMNS} FROM posts "
            "ORDER BY date IS NULL, date DESC, archive_id DESC, month DESC, day DESC, pk DESC "
            "LIMIT ? OFFSET ?"
        )
        async with self.db.conn.execute(sql, (limit, offset)) as c:
            return [_row_to_post(r) for r in await c.fetchall()]

    async def since(self, start: date, end: date | None = None) -> list[StoredPost]:
        """Posts dated on or after `start` (and before `end`), oldest first."""
        sql = f"SELECT {POST_COLUMNS} FROM posts WHERE date >= ?"
        args: list[Any] = [start.isoformat()]
        if end is not None:
            sql += " AND date < ?"
            args.append(end.isoformat())
        sql += " ORDER BY date, archive_id"
        async with self.db.conn.execute(sql, args) as c:
            return [_row_to_post(r) for r in await c.fetchall()]

    async def by_archive_id(self, archive_id: int) -> StoredPost | None:
        """The post with this archive id."""
        async with self.db.conn.execute(
            f"SELECT {POST_COLUMNS} FROM posts WHERE archive_id = ?", (archive_id,)
        ) as c:
            row = await c.fetchone()
        return None if row is None else _row_to_post(row)

    async def series_summaries(self) -> list[SeriesSummary]:
        """Every series with its part count and newest date, newest series first."""
        sql = (
            "SELECT series_key, count(DISTINCT series_part), max(date), "
            "(SELECT p2.series_name FROM posts p2 WHERE p2.series_key = p.series_key "
            " ORDER BY p2.title_is_live DESC, p2.date DESC LIMIT 1) "
            "FROM posts p WHERE series_key IS NOT NULL GROUP BY series_key "
            "ORDER BY max(date) IS NULL, max(date) DESC, series_key"
        )
        async with self.db.conn.execute(sql) as c:
            return [SeriesSummary(str(r[3]), str(r[0]), int(r[1]), r[2]) for r in await c.fetchall()]

    async def series_posts(self, key: str) -> list[StoredPost]:
        """The stored parts of one series, in part order (halves by date)."""
        sql = (
            f"SELECT {POST_COLUMNS} FROM posts WHERE series_key = ? "
            "ORDER BY series_part, date IS NULL, date, archive_id"
        )
        async with self.db.conn.execute(sql, (key,)) as c:
            return [_row_to_post(r) for r in await c.fetchall()]

    async def reader_history(self, pk: int) -> list[tuple[str, int]]:
        """(observed_at, readers) for one post, oldest first."""
        async with self.db.conn.execute(
            "SELECT observed_at, readers FROM reader_counts WHERE post_pk = ? ORDER BY observed_at", (pk,)
        ) as c:
            return [(str(r[0]), int(r[1])) for r in await c.fetchall()]

    async def reader_growth(
        self, start: datetime, end: datetime, limit: int = 5
    ) -> list[tuple[StoredPost, int]]:
        """The posts whose reader count grew most between `start` and `end`, with the growth."""
        sql = f"""
            WITH before AS (
                SELECT post_pk, readers FROM reader_counts r1
                WHERE observed_at = (SELECT max(observed_at) FROM reader_counts r2
                                     WHERE r2.post_pk = r1.post_pk AND r2.observed_at <= ?)
            ), first_in AS (
                SELECT post_pk, readers FROM reader_counts r1
                WHERE observed_at = (SELECT min(observed_at) FROM reader_counts r2
                                     WHERE r2.post_pk = r1.post_pk AND r2.observed_at > ?)
            ), after AS (
                SELECT post_pk, readers FROM reader_counts r1
                WHERE observed_at = (SELECT max(observed_at) FROM reader_counts r2
                                     WHERE r2.post_pk = r1.post_pk AND r2.observed_at <= ?)
            )
            SELECT {", ".join("p." + c.strip() for c in POST_COLUMNS.split(","))},
                   after.readers - coalesce(before.readers, first_in.readers, after.readers) AS growth
            FROM after JOIN posts p ON p.pk = after.post_pk
            LEFT JOIN before ON before.post_pk = after.post_pk
            LEFT JOIN first_in ON first_in.post_pk = after.post_pk
            WHERE growth > 0
            ORDER BY growth DESC, p.date DESC LIMIT ?
        """
        args = (iso(start), iso(start), iso(end), limit)
        async with self.db.conn.execute(sql, args) as c:
            return [(_row_to_post(r[:-1]), int(r[-1])) for r in await c.fetchall()]


def _is_recent(post: Post, cutoff: date) -> bool:
    if post.date.year is None:
        return False
    try:
        return date(post.date.year, post.date.month, post.date.day) >= cutoff
    except ValueError:
        return False
