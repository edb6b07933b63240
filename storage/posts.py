"""The post table: finding a sighting's stored post, writing what the domain decided, and the read queries."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite

from archive.identity import series_key, title_key
from archive.model import Post, PostDate

log = logging.getLogger(__name__)

POST_COLUMNS = (
    "pk, archive_id, title, title_is_live, year, month, day, readers, excerpt, content, "
    "series_name, series_part, first_seen_at, updated_at"
)

# Values bound in one `IN (...)` list.
_IN_CHUNK = 500


@dataclass(frozen=True, slots=True)
class StoredPost:
    """A post as the store knows it, with its row key and bookkeeping times."""

    pk: int
    post: Post
    first_seen_at: str
    updated_at: str


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
    # The series columns serve queries; the post derives its series from the title itself.
    post = Post(
        id=row[1],
        title=row[2],
        title_is_live=bool(row[3]),
        date=PostDate(row[4], row[5], row[6]),
        readers=row[7],
        excerpt=row[8],
        content=row[9],
    )
    return StoredPost(pk=int(row[0]), post=post, first_seen_at=row[12], updated_at=row[13])


class PostStore:
    """Posts and their reader counts over time, on one connection; the caller owns any transaction."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def find(self, post: Post) -> StoredPost | None:
        """The stored post that is this sighting: by archive id, else by normalized title."""
        conn = self.conn
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

    async def insert(self, post: Post, now: datetime) -> StoredPost:
        """Store a post never seen before."""
        stamp = iso(now)
        cursor = await self.conn.execute(
            f"INSERT INTO posts ({', '.join(_WRITTEN)}, first_seen_at, updated_at) "
            f"VALUES ({', '.join('?' * (len(_WRITTEN) + 2))})",
            (*_values(post), stamp, stamp),
        )
        pk = cursor.lastrowid
        assert pk is not None
        return StoredPost(pk, post, stamp, stamp)

    async def update(self, stored: StoredPost, post: Post, now: datetime) -> StoredPost:
        """Replace what is stored of `stored` with `post`."""
        stamp = iso(now)
        assignments = ", ".join(f"{column} = ?" for column in _WRITTEN)
        await self.conn.execute(
            f"UPDATE posts SET {assignments}, updated_at = ? WHERE pk = ?", (*_values(post), stamp, stored.pk)
        )
        return StoredPost(stored.pk, post, stored.first_seen_at, stamp)

    async def observe_readers(self, pk: int, readers: int, now: datetime) -> None:
        """Record a reader count when it differs from the last one recorded: growth is read off these."""
        async with self.conn.execute(
            "SELECT readers FROM reader_counts WHERE post_pk = ? ORDER BY observed_at DESC LIMIT 1", (pk,)
        ) as c:
            row = await c.fetchone()
        if row is None or int(row[0]) != readers:
            await self.conn.execute(
                "INSERT OR REPLACE INTO reader_counts (post_pk, observed_at, readers) VALUES (?, ?, ?)",
                (pk, iso(now), readers),
            )

    async def is_empty(self) -> bool:
        """Whether no post is stored."""
        async with self.conn.execute("SELECT NOT EXISTS (SELECT 1 FROM posts)") as c:
            row = await c.fetchone()
        return bool(row and row[0])

    async def count(self) -> int:
        """How many posts are stored."""
        async with self.conn.execute("SELECT count(*) FROM posts") as c:
            row = await c.fetchone()
        return int(row[0]) if row else 0

    async def newest_date(self) -> str | None:
        """The date of the newest stored post with a known year."""
        async with self.conn.execute("SELECT max(date) FROM posts") as c:
            row = await c.fetchone()
        return None if row is None else row[0]

    async def latest(self, limit: int = 10, offset: int = 0) -> list[StoredPost]:
        """Newest first; posts whose year is unknown come last."""
        sql = (
            f"SELECT {POST_COLUMNS} FROM posts "
            "ORDER BY date IS NULL, date DESC, archive_id DESC, month DESC, day DESC, pk DESC "
            "LIMIT ? OFFSET ?"
        )
        async with self.conn.execute(sql, (limit, offset)) as c:
            return [_row_to_post(r) for r in await c.fetchall()]

    async def since(self, start: date, end: date | None = None) -> list[StoredPost]:
        """Posts dated on or after `start` (and before `end`), oldest first."""
        sql = f"SELECT {POST_COLUMNS} FROM posts WHERE date >= ?"
        args: list[Any] = [start.isoformat()]
        if end is not None:
            sql += " AND date < ?"
            args.append(end.isoformat())
        sql += " ORDER BY date, archive_id"
        async with self.conn.execute(sql, args) as c:
            return [_row_to_post(r) for r in await c.fetchall()]

    async def by_pk(self, pk: int) -> StoredPost | None:
        """The post with this row key (a delivery row names its post so)."""
        async with self.conn.execute(f"SELECT {POST_COLUMNS} FROM posts WHERE pk = ?", (pk,)) as c:
            row = await c.fetchone()
        return None if row is None else _row_to_post(row)

    async def by_archive_id(self, archive_id: int) -> StoredPost | None:
        """The post with this archive id."""
        async with self.conn.execute(
            f"SELECT {POST_COLUMNS} FROM posts WHERE archive_id = ?", (archive_id,)
        ) as c:
            row = await c.fetchone()
        return None if row is None else _row_to_post(row)

    async def sharing(self, archive_ids: Collection[int], title_keys: Collection[str]) -> list[StoredPost]:
        """The stored posts that have one of these archive ids or title keys (each post once)."""
        found: dict[int, StoredPost] = {}
        for column, values in (("archive_id", sorted(archive_ids)), ("title_key", sorted(title_keys))):
            # Chunks stay far below SQLite's limit on bound parameters, however long the page.
            for start in range(0, len(values), _IN_CHUNK):
                chunk = values[start : start + _IN_CHUNK]
                sql = f"SELECT {POST_COLUMNS} FROM posts WHERE {column} IN ({', '.join('?' * len(chunk))})"
                async with self.conn.execute(sql, chunk) as c:
                    for row in await c.fetchall():
                        stored = _row_to_post(row)
                        found[stored.pk] = stored
        return list(found.values())

    async def series_summaries(self) -> list[SeriesSummary]:
        """Every series with its part count and newest date, newest series first."""
        sql = (
            "SELECT series_key, count(DISTINCT series_part), max(date), "
            "(SELECT p2.series_name FROM posts p2 WHERE p2.series_key = p.series_key "
            " ORDER BY p2.title_is_live DESC, p2.date DESC LIMIT 1) "
            "FROM posts p WHERE series_key IS NOT NULL GROUP BY series_key "
            "ORDER BY max(date) IS NULL, max(date) DESC, series_key"
        )
        async with self.conn.execute(sql) as c:
            return [SeriesSummary(str(r[3]), str(r[0]), int(r[1]), r[2]) for r in await c.fetchall()]

    async def series_posts(self, key: str) -> list[StoredPost]:
        """The stored parts of one series, in part order (halves by date)."""
        sql = (
            f"SELECT {POST_COLUMNS} FROM posts WHERE series_key = ? "
            "ORDER BY series_part, date IS NULL, date, archive_id"
        )
        async with self.conn.execute(sql, (key,)) as c:
            return [_row_to_post(r) for r in await c.fetchall()]

    async def reader_history(self, pk: int) -> list[tuple[str, int]]:
        """(observed_at, readers) for one post, oldest first."""
        async with self.conn.execute(
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
        async with self.conn.execute(sql, args) as c:
            return [(_row_to_post(r[:-1]), int(r[-1])) for r in await c.fetchall()]
