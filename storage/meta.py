"""Facts the service keeps between runs (when reader counts were last refreshed) and crawl progress."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from storage.posts import iso


class MetaStore:
    """Key-value facts and resumable crawl checkpoints."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def get(self, key: str) -> str | None:
        """The value of `key`, or None."""
        async with self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)) as c:
            row = await c.fetchone()
        return None if row is None else str(row[0])

    async def put(self, key: str, value: str) -> None:
        """Set `key` to `value`."""
        await self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def done_items(self, crawl: str) -> set[str]:
        """The items of `crawl` already finished."""
        async with self.conn.execute("SELECT item FROM crawl_state WHERE crawl = ?", (crawl,)) as c:
            return {str(r[0]) for r in await c.fetchall()}

    async def mark_done(self, crawl: str, item: str, now: datetime) -> None:
        """Checkpoint one finished item of `crawl`."""
        await self.conn.execute(
            "INSERT OR REPLACE INTO crawl_state (crawl, item, done_at) VALUES (?, ?, ?)",
            (crawl, item, iso(now)),
        )

    async def reset_crawl(self, crawl: str) -> None:
        """Forget the checkpoints of a finished crawl, so the next one starts afresh."""
        await self.conn.execute("DELETE FROM crawl_state WHERE crawl = ?", (crawl,))
