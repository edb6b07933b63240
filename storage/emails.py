"""Email readers: double opt-in (pending → confirmed, with the consent time), unsubscribing, bounces, and the
sign-up events that rate-limit confirmation mails.

A store wraps one connection and never begins or commits a transaction: the caller owns it.

An address is identified by `address_hash()`: sha256 (plain, unkeyed, hex) of the address stripped and
casefolded. Unsubscribing erases the address and keeps that hash, so a later sign-up of the same address is
known to come back; `/forget` (SubscriberStore.forget) removes addresses signed up from the bot entirely.
A delivery row's `recipient` for the `email` channel is the address row id in decimal, never the address.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

import aiosqlite

from storage import StorageError
from storage.posts import iso
from storage.textnorm import address_hash

__all__ = [
    "EmailAddress",
    "EmailStatus",
    "EmailStore",
    "SignUp",
    "SignUpOutcome",
    "SignupKind",
    "address_hash",
]

log = logging.getLogger(__name__)

EmailStatus = Literal["pending", "confirmed", "unsubscribed"]
_STATUSES: tuple[EmailStatus, ...] = get_args(EmailStatus)

# What a sign-up limit counts (issue 11): confirmation mails sent to one address, sign-ups started by one
# Telegram user, sign-ups started from one IP address.
SignupKind = Literal["confirmation_mail", "signup_telegram", "signup_ip", "signup_all"]

# A permanent failure in this many consecutive weeks marks the address bounced.
BOUNCE_WEEKS = 3

_COLUMNS = (
    "id, address, address_hash, status, lang, subscriber_id, created_at, confirmed_at, unsubscribed_at, "
    "last_digest_at, failed_weeks, bounced_at"
)


@dataclass(frozen=True, slots=True)
class EmailAddress:
    """One address and where it stands; `address` is None once unsubscribed (only the hash is kept)."""

    id: int
    address: str | None
    address_hash: str
    status: EmailStatus
    lang: str
    subscriber_id: int | None
    created_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None
    last_digest_at: datetime | None
    failed_weeks: int
    bounced_at: datetime | None

    @property
    def receives(self) -> bool:
        """Whether weekly digests go to this address: confirmed and not bounced."""
        return self.status == "confirmed" and self.bounced_at is None


class SignUpOutcome(enum.Enum):
    """What a sign-up found. The answer to the person signing up must not reveal it (issue 11)."""

    NEW = "new"  # never seen: now pending
    PENDING = "pending"  # already pending, still pending: a confirmation mail may be sent again
    CONFIRMED = "confirmed"  # already receiving: nothing changed
    RETURNING = "returning"  # unsubscribed or bounced before: pending again, to be confirmed anew


@dataclass(frozen=True, slots=True)
class SignUp:
    """The outcome of a sign-up and the address row as it now stands."""

    outcome: SignUpOutcome
    email: EmailAddress


def _moment(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _status(value: str) -> EmailStatus:
    if value not in _STATUSES:
        raise StorageError(f"unknown email status stored: {value!r}")
    return value


def _row(row: Sequence[Any]) -> EmailAddress:
    return EmailAddress(
        id=int(row[0]),
        address=None if row[1] is None else str(row[1]),
        address_hash=str(row[2]),
        status=_status(str(row[3])),
        lang=str(row[4]),
        subscriber_id=None if row[5] is None else int(row[5]),
        created_at=datetime.fromisoformat(str(row[6])),
        confirmed_at=_moment(row[7]),
        unsubscribed_at=_moment(row[8]),
        last_digest_at=_moment(row[9]),
        failed_weeks=int(row[10]),
        bounced_at=_moment(row[11]),
    )


class EmailStore:
    """Email addresses and sign-up events, over one connection whose transaction the caller owns."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def _one(self, sql: str, args: Sequence[Any] | Mapping[str, Any]) -> EmailAddress | None:
        async with self.conn.execute(sql, args) as c:
            row = await c.fetchone()
        return None if row is None else _row(row)

    async def _changed(self, sql: str, args: Sequence[Any] | Mapping[str, Any]) -> int:
        cursor = await self.conn.execute(sql, args)
        count = cursor.rowcount
        await cursor.close()
        return count

    async def get(self, email_id: int) -> EmailAddress | None:
        """The address row with this id (the id a signed token carries)."""
        return await self._one(f"SELECT {_COLUMNS} FROM email_addresses WHERE id = ?", (email_id,))

    async def find(self, address: str) -> EmailAddress | None:
        """The row of this address in any spelling, unsubscribed ones included (found by hash)."""
        sql = f"SELECT {_COLUMNS} FROM email_addresses WHERE address_hash = ?"
        return await self._one(sql, (address_hash(address),))

    async def by_subscriber(self, subscriber_id: int) -> list[EmailAddress]:
        """The addresses a Telegram reader signed up from the bot, oldest first."""
        sql = f"SELECT {_COLUMNS} FROM email_addresses WHERE subscriber_id = ? ORDER BY id"
        async with self.conn.execute(sql, (subscriber_id,)) as c:
            return [_row(row) for row in await c.fetchall()]

    async def sign_up(self, address: str, *, lang: str, now: datetime) -> SignUp:
        """Start (or restart) the double opt-in of `address`, from the web or from a Telegram reader.

        A confirmed address is left exactly as it is, so that nobody can re-link or re-language someone
        else's subscription; otherwise the row becomes pending with this spelling and language. A sign-up
        never links the address to a reader: only that reader's own confirmation does (`confirm`), and an
        address coming back after unsubscribing or bouncing loses the link its old confirmation made.
        """
        spelled = address.strip()
        if not spelled:
            raise ValueError("an empty email address")
        found = await self.find(spelled)
        if found is None:
            await self.conn.execute(
                "INSERT INTO email_addresses (address, address_hash, lang, created_at) VALUES (?, ?, ?, ?)",
                (spelled, address_hash(spelled), lang, iso(now)),
            )
            outcome = SignUpOutcome.NEW
        elif found.receives:
            outcome = SignUpOutcome.CONFIRMED
        else:
            returning = found.status != "pending"
            await self.conn.execute(
                "UPDATE email_addresses SET address = ?, status = 'pending', lang = ?, "
                "subscriber_id = CASE WHEN ? THEN NULL ELSE subscriber_id END, "
                "confirmed_at = NULL, failed_weeks = 0, last_failed_week = NULL, bounced_at = NULL "
                "WHERE id = ?",
                (spelled, lang, returning, found.id),
            )
            outcome = SignUpOutcome.PENDING if found.status == "pending" else SignUpOutcome.RETURNING
        email = await self.find(spelled)
        if email is None:
            raise StorageError("an email address vanished while it was being signed up")
        log.info("email: address %d sign-up (%s)", email.id, outcome.value)
        return SignUp(outcome, email)

    async def confirm(
        self, email_id: int, now: datetime, *, subscriber_id: int | None = None
    ) -> EmailAddress | None:
        """Pending → confirmed, storing `now` as the consent time; with `subscriber_id` (the confirmation
        link that reader asked for) the address is linked to that reader too, confirmed before or not.
        An address already confirmed keeps its consent time; None when the row is gone or unsubscribed since
        (a stale link confirms nothing)."""
        await self._changed(
            "UPDATE email_addresses SET status = 'confirmed', confirmed_at = ?, unsubscribed_at = NULL "
            "WHERE id = ? AND status = 'pending'",
            (iso(now), email_id),
        )
        if subscriber_id is not None:
            await self._changed(
                "UPDATE email_addresses SET subscriber_id = ? WHERE id = ? AND status = 'confirmed'",
                (subscriber_id, email_id),
            )
        found = await self.get(email_id)
        return found if found is not None and found.status == "confirmed" else None

    async def unsubscribe(self, email_id: int, now: datetime) -> bool:
        """Stop mailing and erase the address, keeping its hash. Whether it changed anything."""
        changed = await self._changed(
            "UPDATE email_addresses SET status = 'unsubscribed', address = NULL, confirm_token = NULL, "
            "unsubscribed_at = ?, failed_weeks = 0, last_failed_week = NULL "
            "WHERE id = ? AND status != 'unsubscribed'",
            (iso(now), email_id),
        )
        if changed:
            log.info("email: address %d unsubscribed", email_id)
        return changed > 0

    async def set_language(self, email_id: int, lang: str) -> bool:
        """The language of this address's mail. Whether the row exists."""
        return await self._changed("UPDATE email_addresses SET lang = ? WHERE id = ?", (lang, email_id)) > 0

    async def receiving(self, after_id: int, limit: int) -> list[EmailAddress]:
        """Confirmed, unbounced addresses by id after `after_id` (keyset pagination, like the sender's)."""
        sql = (
            f"SELECT {_COLUMNS} FROM email_addresses WHERE status = 'confirmed' AND bounced_at IS NULL "
            "AND id > ? ORDER BY id LIMIT ?"
        )
        async with self.conn.execute(sql, (after_id, limit)) as c:
            return [_row(row) for row in await c.fetchall()]

    async def mark_digest_sent(self, email_id: int, at: datetime) -> None:
        """Record that this address got a digest covering everything up to `at`."""
        await self.conn.execute(
            "UPDATE email_addresses SET last_digest_at = ? WHERE id = ?", (iso(at), email_id)
        )

    async def record_permanent_failure(
        self, email_id: int, week: str, now: datetime, *, bounce_weeks: int = BOUNCE_WEEKS
    ) -> EmailAddress | None:
        """A permanent (5xx) failure in ISO week `week` (`2025-W09`): counted once per week; the
        `bounce_weeks`-th consecutive week marks the address bounced at `now`. The row as it now stands."""
        await self.conn.execute(
            "UPDATE email_addresses SET "
            "failed_weeks = CASE WHEN last_failed_week IS :week THEN failed_weeks ELSE failed_weeks + 1 END, "
            "last_failed_week = :week WHERE id = :id",
            {"week": week, "id": email_id},
        )
        bounced = await self._changed(
            "UPDATE email_addresses SET bounced_at = ? "
            "WHERE id = ? AND bounced_at IS NULL AND failed_weeks >= ?",
            (iso(now), email_id, bounce_weeks),
        )
        if bounced:
            log.warning(
                "email: address %d bounced after %d weeks of permanent failures", email_id, bounce_weeks
            )
        return await self.get(email_id)

    async def record_delivered(self, email_id: int) -> None:
        """A mail was accepted: the run of failed weeks is broken."""
        await self.conn.execute(
            "UPDATE email_addresses SET failed_weeks = 0, last_failed_week = NULL WHERE id = ?", (email_id,)
        )

    async def record_event(self, kind: SignupKind, key: str, now: datetime) -> None:
        """A sign-up event for a limit; `key` (an address, a Telegram user id, an IP) is kept hashed."""
        await self.conn.execute(
            "INSERT INTO signup_events (kind, key_hash, at) VALUES (?, ?, ?)",
            (kind, address_hash(key), iso(now)),
        )

    async def count_events(self, kind: SignupKind, key: str, since: datetime) -> int:
        """How many `kind` events `key` had after `since` (e.g. now minus a day)."""
        sql = "SELECT count(*) FROM signup_events WHERE kind = ? AND key_hash = ? AND at > ?"
        async with self.conn.execute(sql, (kind, address_hash(key), iso(since))) as c:
            row = await c.fetchone()
        return 0 if row is None else int(row[0])

    async def prune_events(self, before: datetime) -> int:
        """Drop sign-up events older than `before`; they only matter within a limit's window. How many."""
        return await self._changed("DELETE FROM signup_events WHERE at < ?", (iso(before),))
