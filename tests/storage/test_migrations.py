"""Upgrades in place: a database of the previous schema opens migrated, every row kept."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite

from archive.identity import series_key
from archive.model import Post, PostDate
from archive.series import detect_series
from storage.counters import CounterStore
from storage.db import database, migrations
from storage.deliveries import DeliveryStore
from storage.emails import EmailStore, address_hash
from storage.posts import iso
from storage.subscribers import SubscriberStore
from tests.support.schema import database_at
from tests.support.store import seed

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 5, 10, 12, 0, tzinfo=TZ)
STAMP = iso(NOW - timedelta(days=40))

POSTS = [
    ("MoE环游记：2、不患寡而患不均", 10735, "2025-02-28"),
    ("低秩近似之路（一）：伪逆", 10366, "2024-09-15"),
    ("MoE环游记：1、从几何意义出发", 10699, "2025-02-21"),
    ("Muon优化器赏析：从向量到矩阵的本质跨越", 10592, "2024-12-10"),
    ("低秩近似之路（二）：SVD", 10407, "2024-10-01"),
]

# The columns of schema version 3, which must come through an upgrade unchanged.
OLD_COLUMNS = {
    "posts": "pk, archive_id, title, title_key, year, month, day, readers, excerpt, series_name, series_key, "
    "series_part, first_seen_at, updated_at",
    "reader_counts": "post_pk, observed_at, readers",
    "subscribers": "id, chat_id, lang, created_at, active, blocked_at, last_digest_at",
    "subscriptions": "id, subscriber_id, kind, series_key, created_at",
    "deliveries": "id, channel, recipient, item, status, attempts, last_error, created_at, sent_at",
}


def key_of(title: str) -> str:
    """The series key of a post title."""
    found = detect_series(title)
    assert found is not None
    return series_key(found.name)


async def rows(conn: aiosqlite.Connection, sql: str) -> list[tuple[Any, ...]]:
    """Every row of a query, as tuples."""
    async with conn.execute(sql) as c:
        return [tuple(row) for row in await c.fetchall()]


async def fill_version_3(path: Path) -> None:
    """A store as release 3 left it: posts, readers, follows, deliveries, addresses in every state."""
    async with database_at(path, 3) as db:
        assert await db.schema_version() == 3
        posts = [
            Post(
                id=ident,
                title=title,
                date=PostDate.from_iso(day),
                readers=100 + n,
            )
            for n, (title, ident, day) in enumerate(POSTS)
        ]
        await seed(db, posts, now=NOW - timedelta(days=50))
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO subscribers (id, chat_id, lang, created_at, active, blocked_at, last_digest_at) "
                "VALUES (1, 7000000001, 'en', ?, 1, NULL, ?), (2, -1002000000001, 'zh', ?, 0, ?, NULL), "
                "(3, 42, 'zh', ?, 1, NULL, NULL)",
                (STAMP, STAMP, STAMP, STAMP, STAMP),
            )
            await conn.execute(
                "INSERT INTO subscriptions (subscriber_id, kind, series_key, created_at) VALUES "
                "(1, 'series', ?, ?), (1, 'series', ?, ?), (2, 'all', '', ?), (3, 'all', '', ?)",
                (key_of(POSTS[0][0]), STAMP, key_of(POSTS[1][0]), STAMP, STAMP, STAMP),
            )
            await conn.execute(
                "INSERT INTO email_addresses (id, address, lang, created_at, confirm_token, confirmed_at, "
                "unsubscribed_at, last_digest_at) VALUES "
                "(1, 'Reader@Example.org', 'en', ?, NULL, ?, NULL, ?), "
                "(2, 'pending@example.org', 'zh', ?, 'tok-2', NULL, NULL, NULL), "
                "(3, 'left@example.org', 'zh', ?, NULL, ?, ?, ?)",
                (STAMP, STAMP, STAMP, STAMP, STAMP, STAMP, STAMP, STAMP),
            )
            await conn.execute(
                "INSERT INTO deliveries (channel, recipient, item, status, attempts, created_at, sent_at) "
                "VALUES ('telegram', '7000000001', 'post:10735', 'sent', 1, ?, ?)",
                (STAMP, STAMP),
            )


async def test_a_version_3_store_upgrades_in_place_with_nothing_lost(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    await fill_version_3(path)
    async with database_at(path, 3) as old:
        before = {
            table: await rows(old.conn, f"SELECT {cols} FROM {table} ORDER BY 1, 2")
            for table, cols in OLD_COLUMNS.items()
        }
    assert all(before.values())

    async with database(path) as db:
        assert await db.schema_version() == migrations()[-1][0] >= 4
        for table, cols in OLD_COLUMNS.items():
            assert await rows(db.conn, f"SELECT {cols} FROM {table} ORDER BY 1, 2") == before[table], table
        assert await rows(db.conn, "PRAGMA integrity_check") == [("ok",)]
        assert await rows(db.conn, "PRAGMA foreign_key_check") == []

        # Readers gained settings at their defaults; chats stored before say nothing of their type.
        readers = SubscriberStore(db.conn)
        first = await readers.get(7000000001)
        assert first is not None
        assert (first.lang, first.lang_chosen, first.mode, first.chat_type) == ("en", False, "instant", None)
        assert first.created_at == first.last_digest_at == NOW - timedelta(days=40)
        group = await readers.get(-1002000000001)
        assert group is not None and not group.reachable
        assert (await readers.follows(7000000001)).series_keys == {key_of(POSTS[0][0]), key_of(POSTS[1][0])}
        counts = await readers.counts()
        assert dict(counts.active) == {"instant": 2, "daily": 0, "weekly": 0} and counts.inactive == 1

        # Every series stored got a number, oldest series first.
        assert await rows(db.conn, "SELECT id, key, name FROM series ORDER BY id") == [
            (1, key_of(POSTS[1][0]), "低秩近似之路"),
            (2, key_of(POSTS[0][0]), "MoE环游记"),
        ]
        # Addresses: each state mapped; the unsubscribed one keeps only its hash, as if unsubscribed today.
        emails = EmailStore(db.conn)
        confirmed, pending, left = [await emails.get(n) for n in (1, 2, 3)]
        assert confirmed is not None and pending is not None and left is not None
        assert (confirmed.address, confirmed.status, confirmed.lang) == (
            "Reader@Example.org",
            "confirmed",
            "en",
        )
        assert confirmed.confirmed_at == confirmed.last_digest_at == NOW - timedelta(days=40)
        assert confirmed.address_hash == address_hash("reader@example.org")
        assert (pending.address, pending.status, pending.confirmed_at) == (
            "pending@example.org",
            "pending",
            None,
        )
        assert await rows(db.conn, "SELECT confirm_token FROM email_addresses WHERE id = 2") == [("tok-2",)]
        assert (left.address, left.status, left.address_hash) == (
            None,
            "unsubscribed",
            address_hash("left@example.org"),
        )
        assert left.unsubscribed_at == left.confirmed_at == NOW - timedelta(days=40)
        assert [(r.id, r.address) for r in await EmailStore(db.conn).receiving(0, 10)] == [
            (1, "Reader@Example.org")
        ]
        reachable = "SELECT chat_id FROM subscribers WHERE active = 1 AND blocked_at IS NULL ORDER BY id"
        assert await rows(db.conn, reachable) == [(7000000001,), (42,)]

        # The new triggers number a series stored after the upgrade, and the stores write the new tables.
        await seed(
            db,
            [
                Post(id=10300, title="从谱范数梯度到新式权重衰减", date=PostDate.from_iso("2025-03-01")),
                Post(
                    id=10800,
                    title="矩阵符号函数（一）：定义",
                    date=PostDate.from_iso("2025-04-01"),
                ),
            ],
            now=NOW,
        )
        assert await readers.series_id(key_of("矩阵符号函数（一）：定义")) == 3
        async with db.transaction() as conn:
            again = await EmailStore(conn).sign_up("LEFT@example.org", lang="en", now=NOW)
        assert again.email.id == 3 and again.email.status == "pending"


async def test_two_old_spellings_of_one_address_keep_the_subscribed_one(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    async with database_at(path, 3) as old, old.transaction() as conn:
        # SQLite's NOCASE folds ASCII only: these were two rows, they are one address.
        await conn.execute(
            "INSERT INTO email_addresses (id, address, created_at, confirmed_at) VALUES "
            "(1, 'élise@example.org', ?, NULL), (2, 'Élise@example.org', ?, ?), "
            "(3, 'other@example.org', ?, ?)",
            (STAMP, STAMP, STAMP, STAMP, STAMP),
        )
    async with database(path) as db:
        kept = await rows(db.conn, "SELECT id, address, status FROM email_addresses ORDER BY id")
    assert kept == [(2, "Élise@example.org", "confirmed"), (3, "other@example.org", "confirmed")]


async def test_version_7_admits_alert_rows_and_keeps_every_delivery(tmp_path: Path) -> None:
    path = tmp_path / "v6.sqlite3"
    async with database_at(path, 6) as old:
        await old.conn.execute(
            "INSERT INTO deliveries (channel, recipient, item, kind, priority, status, attempts, "
            "next_attempt_at, message_id, payload, last_error, created_at, sent_at) VALUES "
            "('telegram', '42', 'burst:7', 'burst', 10, 'sent', 1, 12.5, 99, '1,2', NULL, ?, ?)",
            (STAMP, STAMP),
        )
    async with database(path) as db:
        assert await db.schema_version() >= 7
        kept = await rows(db.conn, "SELECT * FROM deliveries")
        assert kept == [
            (1, "telegram", "42", "burst:7", "burst", 10, "sent", 1, 12.5, 99, "1,2", None, STAMP, STAMP)
        ]
        async with db.transaction() as conn:
            await DeliveryStore(conn).enqueue("42", "alert:down:x@never", "alert", NOW, payload="{}")
        assert len(await rows(db.conn, "SELECT id FROM deliveries WHERE kind = 'alert'")) == 1


async def test_version_8_adds_counters_that_start_from_what_the_outbox_shows_done(tmp_path: Path) -> None:
    path = tmp_path / "v7.sqlite3"
    async with database_at(path, 7) as old:
        await old.conn.execute(
            "INSERT INTO deliveries (channel, recipient, item, kind, status, message_id, last_error, "
            "created_at) VALUES "
            "('telegram', '1', 'post:1', 'post', 'sent', 11, NULL, ?), "
            "('telegram', '2', 'post:1', 'post', 'sent', 12, NULL, ?), "
            "('telegram', '3', 'digest:2025-05-09', 'digest', 'sent', NULL, 'nothing new', ?), "
            "('telegram', '4', 'post:1', 'post', 'dead', NULL, 'blocked: Forbidden', ?), "
            "('email', '1', 'weekly:2025-W18', 'post', 'sent', NULL, NULL, ?), "
            "('email', '2', 'weekly:2025-W18', 'post', 'sent', NULL, 'skipped: nothing new', ?), "
            "('email', '3', 'weekly:2025-W18', 'post', 'failed', NULL, 'permanent: 550 no such user', ?), "
            "('email', '4', 'weekly:2025-W18', 'post', 'failed', NULL, 'temporary: 451 later', ?)",
            (STAMP,) * 8,
        )
    async with database(path) as db:
        assert await db.schema_version() >= 8
        counters = CounterStore(db.conn)
        assert await counters.all() == {
            ("messages_sent", ""): 2,
            ("emails_sent", ""): 1,
            ("emails_bounced", ""): 1,
        }
        async with db.transaction() as conn:
            await CounterStore(conn).add("messages_sent", by=3)
            await CounterStore(conn).add("messages_failed", "429")
        assert (await counters.all())[("messages_sent", "")] == 5
        assert (await counters.all())[("messages_failed", "429")] == 1
        assert len(await rows(db.conn, "SELECT * FROM deliveries")) == 8
