"""Poll cycles and the outbox: when the archive was last read, and which posts were claimed as new."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from storage.posts import iso


class PollStore:
    """The `polls` and `outbox` tables on one connection; the caller owns any transaction."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def last_successful(self) -> datetime | None:
        """When the last poll that stored what it read finished."""
        async with self.conn.execute("SELECT max(finished_at) FROM polls WHERE ok = 1") as c:
            row = await c.fetchone()
        return None if row is None or row[0] is None else datetime.fromisoformat(row[0])

    async def start(self, now: datetime, *, baseline: bool) -> int:
        """Open a poll record; returns its id."""
        cursor = await self.conn.execute(
            "INSERT INTO polls (started_at, baseline) VALUES (?, ?)", (iso(now), int(baseline))
        )
        poll_id = cursor.lastrowid
        assert poll_id is not None
        return poll_id

    async def finish(self, poll_id: int, now: datetime, *, new_count: int) -> None:
        """Close a poll record as successful."""
        await self.conn.execute(
            "UPDATE polls SET finished_at = ?, ok = 1, new_count = ? WHERE id = ?",
            (iso(now), new_count, poll_id),
        )

    async def claim(self, post_pk: int, poll_id: int, now: datetime) -> bool:
        """Claim a post as new in the outbox; False when another poll (or process) already claimed it.

        `outbox.post_pk UNIQUE` is the claim: two pollers on one file announce each post once.
        """
        cursor = await self.conn.execute(
            "INSERT OR IGNORE INTO outbox (post_pk, poll_id, queued_at) VALUES (?, ?, ?)",
            (post_pk, poll_id, iso(now)),
        )
        return cursor.rowcount == 1
