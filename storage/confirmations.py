"""The queue of confirmation mails (double opt-in), sent after the sign-up is answered.

A row is one mail to one address (`email_id`), asked for by a Telegram reader (`subscriber_id`) or the web
(None). `waiting` rows are due once `next_at` has passed; a failed attempt sets `next_at` later. A row
stays after it is sent, as the record that this reader asked for this address (the bot lists it as
waiting for confirmation) until the link expires and `prune` removes it.

A store wraps one connection and never begins or commits a transaction: the caller owns it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

import aiosqlite

from storage import StorageError
from storage.posts import iso

QueueStatus = Literal["waiting", "sent", "dropped"]
_STATUSES: tuple[QueueStatus, ...] = get_args(QueueStatus)
_COLUMNS = "id, email_id, subscriber_id, lang, status, created_at, next_at, attempts, last_error, sent_at"


@dataclass(frozen=True, slots=True)
class ConfirmationMail:
    """One confirmation mail, waiting or done."""

    id: int
    email_id: int
    subscriber_id: int | None
    lang: str
    status: QueueStatus
    created_at: datetime
    next_at: datetime
    attempts: int
    last_error: str | None
    sent_at: datetime | None


def _row(row: Sequence[Any]) -> ConfirmationMail:
    status = str(row[4])
    if status not in _STATUSES:
        raise StorageError(f"unknown confirmation mail status stored: {status!r}")
    return ConfirmationMail(
        id=int(row[0]),
        email_id=int(row[1]),
        subscriber_id=None if row[2] is None else int(row[2]),
        lang=str(row[3]),
        status=status,
        created_at=datetime.fromisoformat(str(row[5])),
        next_at=datetime.fromisoformat(str(row[6])),
        attempts=int(row[7]),
        last_error=None if row[8] is None else str(row[8]),
        sent_at=None if row[9] is None else datetime.fromisoformat(str(row[9])),
    )


class ConfirmationQueue:
    """Confirmation mails over one connection whose transaction the caller owns."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def enqueue(self, email_id: int, subscriber_id: int | None, lang: str, now: datetime) -> bool:
        """Queue a mail, due now; False when one for this address and asker is already waiting."""
        cursor = await self.conn.execute(
            "INSERT INTO confirmation_mails (email_id, subscriber_id, lang, created_at, next_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (email_id, subscriber_id, lang, iso(now), iso(now)),
        )
        added = cursor.rowcount > 0
        await cursor.close()
        return added

    async def record_unsent(
        self, email_id: int, subscriber_id: int, lang: str, now: datetime, reason: str
    ) -> None:
        """A reader's request that sends no mail (the address had its mails for the day): listed for the
        reader like any other, linking nothing."""
        await self.conn.execute(
            "INSERT INTO confirmation_mails (email_id, subscriber_id, lang, status, created_at, next_at, "
            "last_error) VALUES (?, ?, ?, 'dropped', ?, ?, ?)",
            (email_id, subscriber_id, lang, iso(now), iso(now), reason),
        )

    async def due(self, now: datetime, limit: int = 50) -> list[ConfirmationMail]:
        """Waiting mails whose time has come, oldest first."""
        sql = (
            f"SELECT {_COLUMNS} FROM confirmation_mails WHERE status = 'waiting' AND next_at <= ? "
            "ORDER BY next_at, id LIMIT ?"
        )
        async with self.conn.execute(sql, (iso(now), limit)) as c:
            return [_row(row) for row in await c.fetchall()]

    async def next_due(self) -> datetime | None:
        """When the earliest waiting mail is due; None when nothing waits."""
        sql = "SELECT min(next_at) FROM confirmation_mails WHERE status = 'waiting'"
        async with self.conn.execute(sql) as c:
            row = await c.fetchone()
        return None if row is None or row[0] is None else datetime.fromisoformat(str(row[0]))

    async def mark_sent(self, mail_id: int, now: datetime) -> None:
        """The server took the mail."""
        await self.conn.execute(
            "UPDATE confirmation_mails SET status = 'sent', sent_at = ?, attempts = attempts + 1, "
            "last_error = NULL WHERE id = ?",
            (iso(now), mail_id),
        )

    async def retry_at(self, mail_id: int, when: datetime, error: str) -> None:
        """The attempt failed for now: try again at `when`."""
        await self.conn.execute(
            "UPDATE confirmation_mails SET next_at = ?, attempts = attempts + 1, last_error = ? WHERE id = ?",
            (iso(when), error[:500], mail_id),
        )

    async def drop(self, mail_id: int, reason: str) -> None:
        """Give the mail up (refused for good, expired, or nothing to confirm any more)."""
        await self.conn.execute(
            "UPDATE confirmation_mails SET status = 'dropped', last_error = ? WHERE id = ?",
            (reason[:500], mail_id),
        )

    async def asked_by(self, subscriber_id: int, since: datetime) -> list[int]:
        """The addresses (ids) this reader asked to confirm after `since`, oldest first, whatever became of
        the mail: what the reader sees must not depend on others (a web sign-up) or on the mailbox."""
        sql = (
            "SELECT email_id FROM confirmation_mails WHERE subscriber_id = ? "
            "AND created_at > ? GROUP BY email_id ORDER BY min(id)"
        )
        async with self.conn.execute(sql, (subscriber_id, iso(since))) as c:
            return [int(row[0]) for row in await c.fetchall()]

    async def void_chat_requests(self, email_id: int) -> int:
        """The owner signed up on the web: no Telegram reader's earlier request may link the address any
        more (nor is its mail still sent). How many were voided."""
        cursor = await self.conn.execute(
            "UPDATE confirmation_mails SET status = 'dropped', last_error = 'voided by a web sign-up' "
            "WHERE email_id = ? AND subscriber_id IS NOT NULL AND status != 'dropped'",
            (email_id,),
        )
        count = cursor.rowcount
        await cursor.close()
        return count

    async def withdraw(self, subscriber_id: int, email_id: int | None = None) -> int:
        """Forget this reader's requests (for one address, or all): their links confirm nothing. How many."""
        sql = "DELETE FROM confirmation_mails WHERE subscriber_id = ?"
        args: tuple[int, ...] = (subscriber_id,)
        if email_id is not None:
            sql += " AND email_id = ?"
            args = (subscriber_id, email_id)
        cursor = await self.conn.execute(sql, args)
        count = cursor.rowcount
        await cursor.close()
        return count

    async def asked(self, subscriber_id: int, email_id: int) -> bool:
        """Whether this reader has an unexpired request for this address (its link may still link it)."""
        sql = (
            "SELECT 1 FROM confirmation_mails "
            "WHERE subscriber_id = ? AND email_id = ? AND status != 'dropped'"
        )
        async with self.conn.execute(sql, (subscriber_id, email_id)) as c:
            return await c.fetchone() is not None

    async def prune(self, before: datetime) -> int:
        """Remove requests made before `before` (their links have expired). How many."""
        cursor = await self.conn.execute(
            "DELETE FROM confirmation_mails WHERE created_at < ?", (iso(before),)
        )
        count = cursor.rowcount
        await cursor.close()
        return count
