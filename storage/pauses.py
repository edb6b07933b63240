"""A reader's pause and time zone: /pause, /resume, the end of a pause, and the zone digests are timed in.

A store wraps one connection and never begins or commits a transaction: the caller owns it. While
`paused_since` is set nothing is sent to the reader (the fan-out and the digest job skip them); when the pause
ends (`paused_until` passed, or /resume set it to now) the job reads `missed` (the posts announced meanwhile
that the reader follows or watches), queues them as one digest and calls `finish`, all in one transaction,
so a restart neither loses nor repeats that digest.
"""

from __future__ import annotations

import logging
from datetime import datetime

import aiosqlite

from storage.posts import iso
from storage.subscribers import _COLUMNS, Subscriber, _row

log = logging.getLogger(__name__)


class PauseStore:
    """Pauses and time zones of Telegram readers, over one connection whose transaction the caller owns."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def _changed(self, sql: str, args: tuple[object, ...]) -> bool:
        cursor = await self.conn.execute(sql, args)
        changed = cursor.rowcount > 0
        await cursor.close()
        return changed

    async def set_time_zone(self, chat_id: int, zone: str | None) -> bool:
        """The zone (an IANA name or `UTC+08:00`; None: TIME_ZONE) the reader's digest hour is read in."""
        return await self._changed("UPDATE subscribers SET time_zone = ? WHERE chat_id = ?", (zone, chat_id))

    async def pause(self, chat_id: int, now: datetime, until: datetime | None) -> bool:
        """Pause until `until` (None: until /resume); a pause already running keeps its start. Whether a
        reader was found."""
        return await self._changed(
            "UPDATE subscribers SET paused_since = coalesce(paused_since, ?), paused_until = ? "
            "WHERE chat_id = ?",
            (iso(now), None if until is None else iso(until), chat_id),
        )

    async def resume(self, chat_id: int, now: datetime) -> bool:
        """/resume: the pause ends now (the job sends what came meanwhile). Whether one was running."""
        return await self._changed(
            "UPDATE subscribers SET paused_until = ? WHERE chat_id = ? AND paused_since IS NOT NULL",
            (iso(now), chat_id),
        )

    async def ended(self, now: datetime, limit: int) -> list[Subscriber]:
        """Readers whose pause has ended by `now` and is not finished yet, oldest pause first."""
        sql = (
            f"SELECT {_COLUMNS} FROM subscribers WHERE paused_since IS NOT NULL AND paused_until <= ? "
            "ORDER BY paused_until, id LIMIT ?"
        )
        async with self.conn.execute(sql, (iso(now), limit)) as c:
            return [_row(row) for row in await c.fetchall()]

    async def missed(self, subscriber_id: int, since: datetime, until: datetime) -> list[int]:
        """Posts announced after `since` and by `until` that the reader follows or whose watches matched."""
        sql = """
            SELECT o.post_pk FROM outbox o JOIN posts p ON p.pk = o.post_pk
            WHERE o.queued_at > :since AND o.queued_at <= :until AND (
                EXISTS (SELECT 1 FROM subscriptions s WHERE s.subscriber_id = :id
                        AND (s.kind = 'all' OR (s.kind = 'series' AND s.series_key = p.series_key)))
                OR EXISTS (SELECT 1 FROM watch_hits h WHERE h.subscriber_id = :id AND h.post_pk = o.post_pk))
            ORDER BY o.post_pk
        """
        args = {"since": iso(since), "until": iso(until), "id": subscriber_id}
        async with self.conn.execute(sql, args) as c:
            return [int(row[0]) for row in await c.fetchall()]

    async def finish(self, subscriber_id: int) -> None:
        """The pause is over and what it held is queued: clear it."""
        await self.conn.execute(
            "UPDATE subscribers SET paused_since = NULL, paused_until = NULL WHERE id = ?", (subscriber_id,)
        )
