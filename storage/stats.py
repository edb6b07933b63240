"""Figures for the bot's admin /stats: the last poll and the deliveries, read without assuming their states.

Delivery states grow with the sender (pending, sending, sent, failed, dead …): counts are grouped by whatever
`status` holds, so a new state shows up here without a change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from storage.posts import iso


@dataclass(frozen=True, slots=True)
class LastPoll:
    """The newest poll: when it started and finished, whether it succeeded, how many posts were new."""

    started_at: datetime
    finished_at: datetime | None
    ok: bool
    new_count: int


@dataclass(frozen=True, slots=True)
class DeliveryCounts:
    """Deliveries by status: all of them, and those sent (or created, if never sent) since a moment."""

    by_status: Mapping[str, int]
    since_by_status: Mapping[str, int]


class StatsStore:
    """Read-only figures over one connection."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def last_poll(self) -> LastPoll | None:
        """The newest poll record, if any."""
        sql = "SELECT started_at, finished_at, ok, new_count FROM polls ORDER BY id DESC LIMIT 1"
        async with self.conn.execute(sql) as c:
            row = await c.fetchone()
        if row is None:
            return None
        return LastPoll(
            started_at=datetime.fromisoformat(str(row[0])),
            finished_at=None if row[1] is None else datetime.fromisoformat(str(row[1])),
            ok=bool(row[2]),
            new_count=int(row[3]),
        )

    async def deliveries(self, since: datetime) -> DeliveryCounts:
        """Deliveries by status, overall and since `since` (by when sent, else when created)."""
        async with self.conn.execute("SELECT status, count(*) FROM deliveries GROUP BY status") as c:
            overall = {str(status): int(count) for status, count in await c.fetchall()}
        sql = (
            "SELECT status, count(*) FROM deliveries WHERE coalesce(sent_at, created_at) >= ? GROUP BY status"
        )
        async with self.conn.execute(sql, (iso(since),)) as c:
            recent = {str(status): int(count) for status, count in await c.fetchall()}
        return DeliveryCounts(overall, recent)

    async def deliveries_by_channel(self) -> dict[tuple[str, str], int]:
        """Deliveries by (channel, status): the outbox depth by state for the metrics."""
        sql = "SELECT channel, status, count(*) FROM deliveries GROUP BY channel, status"
        async with self.conn.execute(sql) as c:
            return {(str(channel), str(status)): int(n) for channel, status, n in await c.fetchall()}

    async def emails_by_state(self) -> dict[str, int]:
        """Email addresses by state: pending, confirmed, unsubscribed, and bounced (given up on)."""
        sql = (
            "SELECT CASE WHEN bounced_at IS NOT NULL THEN 'bounced' ELSE status END, count(*) "
            "FROM email_addresses GROUP BY 1"
        )
        async with self.conn.execute(sql) as c:
            return {str(state): int(n) for state, n in await c.fetchall()}
