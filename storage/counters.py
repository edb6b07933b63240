"""Monotonic event counters for `/metrics`, kept in the database beside the events they count.

A counter is (name, label) → value. The caller increments it inside the unit of work that records the event
(a row sent, an attempt failed, a mail accepted), so the count commits or rolls back with the event itself:
a restart or a second process on the same file changes nothing. A store wraps one connection and never
begins or commits a transaction.
"""

from __future__ import annotations

from typing import Final

import aiosqlite

# The counters' names, as stored; `/metrics` exposes each as kexue_<name>_total.
MESSAGES_SENT: Final = "messages_sent"
MESSAGES_FAILED: Final = "messages_failed"  # labelled with the reason of the failed attempt
TELEGRAM_429: Final = "telegram_429"
# Replies to readers dropped because they could not go out before their deadline (stale).
REPLIES_DROPPED: Final = "replies_dropped"
EMAILS_SENT: Final = "emails_sent"
EMAILS_BOUNCED: Final = "emails_bounced"


class CounterStore:
    """The `counters` table on one connection; the caller owns any transaction."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def add(self, name: str, label: str = "", by: int = 1) -> None:
        """Add `by` (≥ 0) to the counter `name` with `label`."""
        if by < 0:
            raise ValueError("counters only grow")
        if by == 0:
            return
        await self.conn.execute(
            "INSERT INTO counters (name, label, value) VALUES (?, ?, ?) "
            "ON CONFLICT (name, label) DO UPDATE SET value = value + excluded.value",
            (name, label, by),
        )

    async def all(self) -> dict[tuple[str, str], int]:
        """Every counter as (name, label) → value."""
        async with self.conn.execute("SELECT name, label, value FROM counters") as c:
            return {(str(name), str(label)): int(value) for name, label, value in await c.fetchall()}
