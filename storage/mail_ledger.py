"""The weekly email's ledger: one `deliveries` row per (ISO week, address), claimed before the mail is sent.

Row: channel 'email', recipient = the address row id in decimal, item 'weekly:YYYY-Www'. UNIQUE(channel,
recipient, item) is what makes a rerun, a restart or a second process send a week's mail once. Only the
columns channel, recipient, item, status, attempts, last_error, created_at, sent_at and the states 'pending',
'sent', 'failed' are used, so this module is the one place to adapt when `deliveries` is rebuilt.

- pending: claimed by a sender right now; `created_at` holds the time of the latest claim, so a claim
  older than `stale_after` (its sender crashed) may be taken over.
- sent: done for the week (`sent_at`); `last_error` 'skipped: …' when nothing was new, so nothing was sent.
- failed: the last attempt failed; `last_error` starts with 'temporary:' (tried again by a later run while
  attempts < max_attempts, once its retry delay from `created_at` has passed) or 'permanent:' (not again
  this week).

A store wraps one connection and never begins or commits a transaction: the caller owns it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import aiosqlite

from storage.counters import EMAILS_BOUNCED, EMAILS_SENT, CounterStore
from storage.posts import iso

log = logging.getLogger(__name__)

LedgerStatus = Literal["pending", "sent", "failed"]
TEMPORARY = "temporary: "
PERMANENT = "permanent: "
SKIPPED = "skipped: "


def weekly_item(week: str) -> str:
    """The ledger item of the weekly mail of ISO week `week` ('2025-W20')."""
    return f"weekly:{week}"


@dataclass(frozen=True, slots=True)
class Claim:
    """A claimed (address, week): the sender now owns it until it records the outcome."""

    email_id: int
    week: str
    attempts: int


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One address's row for a week."""

    email_id: int
    week: str
    status: LedgerStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


def _next_try(failed: LedgerEntry, retry_after: timedelta) -> datetime:
    """When a failed row may be tried again: its last try plus `retry_after`, doubled after each further try;
    a row never tried (the server was unreachable) at once."""
    if failed.attempts == 0:
        return failed.created_at
    return failed.created_at + retry_after * (1 << (failed.attempts - 1))


class MailLedger:
    """The weekly email's rows of `deliveries`, over one connection whose transaction the caller owns."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def get(self, email_id: int, week: str) -> LedgerEntry | None:
        """The row of this address and week, if any."""
        sql = (
            "SELECT status, attempts, last_error, created_at, sent_at FROM deliveries "
            "WHERE channel = 'email' AND recipient = ? AND item = ?"
        )
        async with self.conn.execute(sql, (str(email_id), weekly_item(week))) as c:
            row = await c.fetchone()
        if row is None:
            return None
        status: LedgerStatus = "sent" if row[0] == "sent" else "pending" if row[0] == "pending" else "failed"
        return LedgerEntry(
            email_id,
            week,
            status,
            int(row[1]),
            None if row[2] is None else str(row[2]),
            datetime.fromisoformat(str(row[3])),
            None if row[4] is None else datetime.fromisoformat(str(row[4])),
        )

    async def claim(
        self,
        email_id: int,
        week: str,
        now: datetime,
        *,
        stale_after: timedelta,
        max_attempts: int,
        retry_after: timedelta = timedelta(0),
    ) -> Claim | None:
        """Claim the week's mail of this address; None when it is sent, being sent, failed for good, or failed
        for now and waiting: after its n-th tried attempt failed, for `retry_after` × 2^(n-1) from then."""
        item = weekly_item(week)
        cursor = await self.conn.execute(
            "INSERT INTO deliveries (channel, recipient, item, status, attempts, created_at) "
            "VALUES ('email', ?, ?, 'pending', 1, ?) ON CONFLICT (channel, recipient, item) DO NOTHING",
            (str(email_id), item, iso(now)),
        )
        inserted = cursor.rowcount
        await cursor.close()
        if inserted:
            return Claim(email_id, week, 1)
        entry = await self.get(email_id, week)
        # Spread the tries of a 4xx over hours, so that a server deferring everyone for an hour (a quota, an
        # outage) does not use them all up; an attempt never tried (server unreachable) does not count.
        if entry is not None and entry.status == "failed" and now < _next_try(entry, retry_after):
            return None
        # Taken over: a temporary failure still worth a try, or a claim whose sender died mid-send.
        cursor = await self.conn.execute(
            "UPDATE deliveries SET status = 'pending', attempts = attempts + 1, created_at = :now "
            "WHERE channel = 'email' AND recipient = :recipient AND item = :item AND ("
            "(status = 'failed' AND last_error LIKE 'temporary:%' AND attempts < :max) "
            "OR (status = 'pending' AND created_at < :stale))",
            {
                "now": iso(now),
                "recipient": str(email_id),
                "item": item,
                "max": max_attempts,
                "stale": iso(now - stale_after),
            },
        )
        taken = cursor.rowcount
        await cursor.close()
        if not taken:
            return None
        entry = await self.get(email_id, week)
        attempts = entry.attempts if entry is not None else 0
        log.info("mail ledger: address %d week %s claimed again (attempt %d)", email_id, week, attempts)
        return Claim(email_id, week, attempts)

    async def _finish(
        self, claim: Claim, status: LedgerStatus, error: str | None, sent_at: str | None
    ) -> None:
        await self.conn.execute(
            "UPDATE deliveries SET status = ?, last_error = ?, sent_at = ? "
            "WHERE channel = 'email' AND recipient = ? AND item = ?",
            (status, error, sent_at, str(claim.email_id), weekly_item(claim.week)),
        )

    async def mark_sent(self, claim: Claim, now: datetime) -> None:
        """The server accepted the mail (counted for /metrics in the same transaction)."""
        await self._finish(claim, "sent", None, iso(now))
        await CounterStore(self.conn).add(EMAILS_SENT)

    async def mark_skipped(self, claim: Claim, reason: str, now: datetime) -> None:
        """Nothing to send this week (nothing new): done for the week all the same."""
        await self._finish(claim, "sent", SKIPPED + reason, iso(now))

    async def mark_temporary_failure(self, claim: Claim, error: str, *, count: bool = True) -> None:
        """A 4xx or a dropped connection: a later run tries again. `count=False` when the address was never
        tried (the server could not be reached at all), so the attempt does not count against it."""
        await self._finish(claim, "failed", TEMPORARY + error, None)
        if not count:
            await self.conn.execute(
                "UPDATE deliveries SET attempts = max(attempts - 1, 0) "
                "WHERE channel = 'email' AND recipient = ? AND item = ?",
                (str(claim.email_id), weekly_item(claim.week)),
            )

    async def mark_permanent_failure(self, claim: Claim, error: str) -> None:
        """A 5xx for this address: not tried again this week (a bounce, counted for /metrics)."""
        await self._finish(claim, "failed", PERMANENT + error, None)
        await CounterStore(self.conn).add(EMAILS_BOUNCED)

    async def week_counts(self, week: str) -> dict[str, int]:
        """How many rows of the week are in each state ('sent', 'skipped', 'pending', 'failed')."""
        sql = (
            "SELECT CASE WHEN last_error LIKE 'skipped:%' THEN 'skipped' ELSE status END, count(*) "
            "FROM deliveries WHERE channel = 'email' AND item = ? GROUP BY 1"
        )
        async with self.conn.execute(sql, (weekly_item(week),)) as c:
            return {str(state): int(count) for state, count in await c.fetchall()}
