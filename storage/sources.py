"""Per-source fetch state: conditional-GET validators, failures and when to try again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from storage.posts import iso


@dataclass(frozen=True, slots=True)
class SourceState:
    """What the store remembers of one source between polls."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    last_success_at: str | None = None
    last_error: str | None = None
    failures: int = 0
    next_attempt_at: str | None = None

    def due(self, now: datetime) -> bool:
        """Whether backoff allows a request at `now`."""
        return self.next_attempt_at is None or iso(now) >= self.next_attempt_at


class SourceStore:
    """Reads and writes the `sources` table."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def get(self, url: str) -> SourceState:
        """The state of `url`, or a blank one for a source never fetched."""
        async with self.conn.execute(
            "SELECT url, etag, last_modified, last_success_at, last_error, failures, next_attempt_at "
            "FROM sources WHERE url = ?",
            (url,),
        ) as c:
            row = await c.fetchone()
        if row is None:
            return SourceState(url)
        return SourceState(row[0], row[1], row[2], row[3], row[4], int(row[5]), row[6])

    async def all(self) -> list[SourceState]:
        """Every source ever fetched."""
        async with self.conn.execute("SELECT url FROM sources ORDER BY url") as c:
            urls = [str(r[0]) for r in await c.fetchall()]
        return [await self.get(url) for url in urls]

    async def record_success(
        self, url: str, *, etag: str | None, last_modified: str | None, now: datetime
    ) -> None:
        """A fetch worked: keep its validators and clear any backoff."""
        await self.conn.execute(
            "INSERT INTO sources (url, etag, last_modified, last_success_at, failures) "
            "VALUES (?, ?, ?, ?, 0) ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, "
            "last_modified = excluded.last_modified, last_success_at = excluded.last_success_at, "
            "failures = 0, next_attempt_at = NULL",
            (url, etag, last_modified, iso(now)),
        )

    async def record_failure(self, url: str, *, error: str, now: datetime, retry_at: datetime) -> int:
        """A fetch or parse failed: record why and when to try again; returns the failure count."""
        await self.conn.execute(
            "INSERT INTO sources (url, last_error, last_error_at, failures, next_attempt_at) "
            "VALUES (?, ?, ?, 1, ?) ON CONFLICT (url) DO UPDATE SET last_error = excluded.last_error, "
            "last_error_at = excluded.last_error_at, failures = sources.failures + 1, "
            "next_attempt_at = excluded.next_attempt_at",
            (url, error, iso(now), iso(retry_at)),
        )
        async with self.conn.execute("SELECT failures FROM sources WHERE url = ?", (url,)) as c:
            row = await c.fetchone()
        return int(row[0]) if row else 1
