"""The email store against a real SQLite file: double opt-in, unsubscribing to a hash, bounces, limits."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from storage.db import Database
from storage.emails import EmailStore, SignUpOutcome, address_hash
from storage.subscribers import SubscriberStore

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 5, 10, 12, 0, tzinfo=TZ)


def test_the_hash_is_sha256_of_the_stripped_casefolded_address() -> None:
    expected = hashlib.sha256(b"reader@example.org").hexdigest()
    assert address_hash(" Reader@Example.ORG\n") == expected
    # casefold, not lower: ß and ss are one address, as a casefolding mail host sees them.
    assert address_hash("STRASSE@example.org") == address_hash("straße@example.org")


async def test_double_opt_in_from_pending_to_confirmed_with_the_consent_time(db: Database) -> None:
    async with db.transaction() as conn:
        signed = await EmailStore(conn).sign_up(" Reader@Example.org ", lang="en", now=NOW)
    assert signed.outcome is SignUpOutcome.NEW
    email = signed.email
    assert (email.address, email.status, email.lang, email.created_at) == (
        "Reader@Example.org",
        "pending",
        "en",
        NOW,
    )
    assert email.address_hash == address_hash("reader@example.org") and not email.receives
    assert await EmailStore(db.conn).receiving(0, 10) == []
    consent = NOW + timedelta(minutes=5)
    async with db.transaction() as conn:
        store = EmailStore(conn)
        confirmed = await store.confirm(email.id, consent)
        again = await store.confirm(email.id, consent + timedelta(days=1))
    assert confirmed is not None and confirmed.status == "confirmed" and confirmed.confirmed_at == consent
    # A second click keeps the first consent time.
    assert again == confirmed
    [recipient] = await EmailStore(db.conn).receiving(0, 10)
    assert (recipient.id, recipient.address, recipient.lang) == (email.id, "Reader@Example.org", "en")
    assert [e.id for e in await EmailStore(db.conn).receiving(0, 10)] == [email.id]
    async with db.transaction() as conn:
        assert await EmailStore(conn).confirm(email.id + 1, consent) is None


async def test_signing_up_again_changes_nothing_about_a_confirmed_address(db: Database) -> None:
    async with db.transaction() as conn:
        store = EmailStore(conn)
        first = await store.sign_up("reader@example.org", lang="zh", now=NOW)
        await store.confirm(first.email.id, NOW)
        pending = await store.sign_up("other@example.org", lang="zh", now=NOW)
    async with db.transaction() as conn:
        store = EmailStore(conn)
        subs = SubscriberStore(conn)
        stranger = (await subs.start(99, chat_type="private", lang="en", now=NOW)).subscriber
        again = await store.sign_up("READER@example.org", lang="en", now=NOW)
        resent = await store.sign_up("Other@Example.org", lang="en", now=NOW)
    assert again.outcome is SignUpOutcome.CONFIRMED
    assert (again.email.address, again.email.lang, again.email.subscriber_id) == (
        "reader@example.org",
        "zh",
        None,
    )
    assert resent.outcome is SignUpOutcome.PENDING and resent.email.id == pending.email.id
    # A sign-up links nobody: only the reader's own confirmation does.
    assert (resent.email.address, resent.email.lang, resent.email.subscriber_id) == (
        "Other@Example.org",
        "en",
        None,
    )
    async with db.transaction() as conn:
        linked = await EmailStore(conn).confirm(resent.email.id, NOW, subscriber_id=stranger.id)
    assert linked is not None and linked.subscriber_id == stranger.id
    # One row per address hash, whoever inserts.
    with pytest.raises(Exception, match="UNIQUE"):
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO email_addresses (address, address_hash, created_at) VALUES ('x', ?, 'now')",
                (address_hash("reader@example.org"),),
            )


async def test_unsubscribing_keeps_only_the_hash_and_a_later_sign_up_is_known(db: Database) -> None:
    async with db.transaction() as conn:
        store = EmailStore(conn)
        email = (await store.sign_up("reader@example.org", lang="zh", now=NOW)).email
        await store.confirm(email.id, NOW)
        assert await store.unsubscribe(email.id, NOW + timedelta(days=7))
        assert not await store.unsubscribe(email.id, NOW + timedelta(days=8))
    gone = await EmailStore(db.conn).get(email.id)
    assert gone is not None
    assert (gone.address, gone.status, gone.unsubscribed_at) == (
        None,
        "unsubscribed",
        NOW + timedelta(days=7),
    )
    assert gone.address_hash == address_hash("reader@example.org")
    async with db.conn.execute("SELECT * FROM email_addresses") as c:
        [row] = await c.fetchall()
    assert not any("example.org" in str(value) for value in row)
    assert await EmailStore(db.conn).receiving(0, 10) == []
    # A stale confirmation link confirms nothing.
    async with db.transaction() as conn:
        assert await EmailStore(conn).confirm(email.id, NOW + timedelta(days=9)) is None
    async with db.transaction() as conn:
        back = await EmailStore(conn).sign_up("Reader@example.org", lang="en", now=NOW + timedelta(days=30))
    assert back.outcome is SignUpOutcome.RETURNING and back.email.id == email.id
    assert (back.email.address, back.email.status, back.email.confirmed_at) == (
        "Reader@example.org",
        "pending",
        None,
    )
    # The table itself refuses an unsubscribed row that still holds an address.
    with pytest.raises(Exception, match="CHECK"):
        async with db.transaction() as conn:
            await conn.execute("UPDATE email_addresses SET status = 'unsubscribed' WHERE id = ?", (email.id,))


async def test_three_consecutive_weeks_of_permanent_failures_bounce(db: Database) -> None:
    async with db.transaction() as conn:
        store = EmailStore(conn)
        email = (await store.sign_up("gone@example.org", lang="zh", now=NOW)).email
        await store.confirm(email.id, NOW)
        await store.record_permanent_failure(email.id, "2025-W19", NOW)
        await store.record_permanent_failure(email.id, "2025-W20", NOW)
        # A delivery in between breaks the run.
        await store.record_delivered(email.id)
        await store.record_permanent_failure(email.id, "2025-W21", NOW)
        twice = await store.record_permanent_failure(email.id, "2025-W21", NOW)
        assert twice is not None and (twice.failed_weeks, twice.bounced_at) == (1, None)
        await store.record_permanent_failure(email.id, "2025-W22", NOW)
        bounced = await store.record_permanent_failure(email.id, "2025-W23", NOW + timedelta(days=14))
    assert bounced is not None and bounced.failed_weeks == 3
    assert bounced.bounced_at == NOW + timedelta(days=14) and not bounced.receives
    assert await EmailStore(db.conn).receiving(0, 10) == []
    assert await EmailStore(db.conn).receiving(0, 10) == []
    async with db.transaction() as conn:
        back = await EmailStore(conn).sign_up("gone@example.org", lang="zh", now=NOW + timedelta(days=20))
    assert back.outcome is SignUpOutcome.RETURNING
    assert (back.email.status, back.email.bounced_at, back.email.failed_weeks) == ("pending", None, 0)


async def test_receiving_pages_by_id(db: Database) -> None:
    async with db.transaction() as conn:
        store = EmailStore(conn)
        ids = []
        for n in range(5):
            email = (await store.sign_up(f"r{n}@example.org", lang="zh", now=NOW)).email
            if n != 2:
                await store.confirm(email.id, NOW)
            ids.append(email.id)
        await store.mark_digest_sent(ids[0], NOW)
    reader = EmailStore(db.conn)
    first = await reader.receiving(0, 2)
    rest = await reader.receiving(first[-1].id, 10)
    assert [e.id for e in first + rest] == [ids[0], ids[1], ids[3], ids[4]]
    assert first[0].last_digest_at == NOW and first[1].last_digest_at is None


async def test_sign_up_events_are_counted_within_a_window_and_pruned(db: Database) -> None:
    async with db.transaction() as conn:
        store = EmailStore(conn)
        for hours in (30, 20, 2, 1):
            await store.record_event("confirmation_mail", "Reader@example.org", NOW - timedelta(hours=hours))
        await store.record_event("signup_ip", "203.0.113.9", NOW)
    reader = EmailStore(db.conn)
    day = NOW - timedelta(days=1)
    assert await reader.count_events("confirmation_mail", "reader@EXAMPLE.org", day) == 3
    assert await reader.count_events("signup_ip", "203.0.113.9", day) == 1
    assert await reader.count_events("signup_telegram", "203.0.113.9", day) == 0
    async with db.conn.execute("SELECT key_hash FROM signup_events") as c:
        assert all("example" not in row[0] and "203" not in row[0] for row in await c.fetchall())
    async with db.transaction() as conn:
        assert await EmailStore(conn).prune_events(day) == 1
    assert await reader.count_events("confirmation_mail", "reader@example.org", NOW - timedelta(days=7)) == 3
