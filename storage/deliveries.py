"""The delivery outbox: one row per (channel, recipient, item), worked through by the sender.

A store wraps one connection and never begins or commits a transaction: the caller owns it. A row's
`recipient` is the Telegram chat id in decimal (or `@channelname` for CHANNEL_ID); `item` names what is sent:
`post:<pk>`, `burst:<poll id>` (several new posts as one digest; `payload` holds their pks), or
`digest:<period>` (a scheduled digest, `digest:2025-05-12` or `digest:2025-W20`), or `alert:down:…` /
`alert:up:…` (a failing source, to an admin; `payload` holds the facts as JSON). UNIQUE(channel, recipient,
item) is the dedup: enqueuing twice, from two processes or after a restart, writes one row.

Times the sender compares (`next_attempt_at`, now) are Unix seconds; times shown to people are ISO strings.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

import aiosqlite

from storage.posts import iso

log = logging.getLogger(__name__)

Kind = Literal["post", "burst", "digest", "channel", "alert"]
KINDS: tuple[Kind, ...] = get_args(Kind)
# The one definition of a delivery's states (the table's CHECK constraint says the same): `failed` is a row
# waiting for its retry, not a loss; only `dead` was given up on.
Status = Literal["pending", "sending", "sent", "failed", "dead"]
STATUSES: tuple[Status, ...] = get_args(Status)
WAITING: frozenset[Status] = frozenset({"pending", "sending", "failed"})
GIVEN_UP: frozenset[Status] = frozenset({"dead"})

# Higher goes first: the public channel, then single posts and bursts (news), then scheduled digests.
# An admin's alert (a source is failing) goes before everything: there are few, and they are urgent.
PRIORITY: dict[Kind, int] = {"alert": 30, "channel": 20, "post": 10, "burst": 10, "digest": 0}
# More new posts than this for one reader in one poll go as one burst digest.
BURST_OVER = 3

# A paused reader gets nothing now: the end of the pause sends what came meanwhile (storage/pauses.py).
_REACHABLE_INSTANT = "r.mode = 'instant' AND r.active = 1 AND r.blocked_at IS NULL AND r.paused_since IS NULL"


@dataclass(frozen=True, slots=True)
class Delivery:
    """A due row as the sender needs it, with the reader's language and rich-message memory."""

    id: int
    recipient: str
    item: str
    kind: Kind
    attempts: int
    payload: str | None
    lang: str
    rich_ok: bool
    chat_type: str | None
    created_at: datetime  # when the row was queued: the sender gives up by age, not by attempts

    @property
    def post_pks(self) -> list[int]:
        """The posts of a `post:` or `channel` row (one) or of a burst (its payload), in pk order."""
        if self.kind == "burst":
            return sorted({int(part) for part in (self.payload or "").split(",") if part.strip()})
        if self.item.startswith("post:"):
            return [int(self.item[5:])]
        return []


@dataclass(frozen=True, slots=True)
class FanOut:
    """What one poll's fan-out enqueued: single-post rows, burst digests, channel posts."""

    posts: int = 0
    bursts: int = 0
    channel: int = 0


def _kind(value: str) -> Kind:
    for kind in KINDS:
        if kind == value:
            return kind
    raise ValueError(f"unknown delivery kind {value!r}")


class DeliveryStore:
    """The `deliveries` table on one connection; the caller owns any transaction."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def _run(self, sql: str, args: Sequence[object] | dict[str, object] = ()) -> int:
        await (await self.conn.execute(sql, args)).close()
        # changes(), not rowcount: Python's sqlite3 reports no rowcount for a statement opening with WITH.
        async with self.conn.execute("SELECT changes()") as c:
            row = await c.fetchone()
        return 0 if row is None else int(row[0])

    # --- enqueuing ---------------------------------------------------------------------------------

    async def fan_out(
        self,
        posts: Sequence[tuple[int, str | None]],
        *,
        burst_item: str,
        channel_id: str | None,
        now: datetime,
        burst_over: int = BURST_OVER,
    ) -> FanOut:
        """One row per (reader, new post) for every reachable instant reader whose follows or watches match.

        `posts` are (pk, series key or None); the watches' matches must be in `watch_hits` already
        (`WatchStore.match_new`), and a reader both following and watching gets one row. A reader
        matching more than `burst_over` of them gets one `burst_item` row listing their posts instead.
        Done as INSERT … SELECT so memory stays flat whatever the number of readers; rows are written post
        by post so one reader's messages are spread out.
        """
        if not posts:
            return FanOut()
        new = json.dumps([[pk, key] for pk, key in posts])
        matches = f"""
            WITH new(pk, key) AS (
                SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(:new)),
            m AS (
                SELECT r.chat_id AS chat, n.pk AS pk FROM subscribers r JOIN new n
                WHERE {_REACHABLE_INSTANT} AND (EXISTS (
                    SELECT 1 FROM subscriptions s WHERE s.subscriber_id = r.id
                    AND (s.kind = 'all' OR (s.kind = 'series' AND s.series_key = n.key)))
                    OR EXISTS (
                    SELECT 1 FROM watch_hits h WHERE h.subscriber_id = r.id AND h.post_pk = n.pk))),
            c AS (SELECT chat, count(*) AS n, group_concat(pk) AS pks FROM m GROUP BY chat)
        """
        args: dict[str, object] = {"new": new, "now": iso(now), "over": burst_over}
        single = await self._run(
            matches
            + """
            INSERT INTO deliveries (channel, recipient, item, kind, priority, created_at)
            SELECT 'telegram', CAST(m.chat AS TEXT), 'post:' || m.pk, 'post', :priority, :now
            FROM m JOIN c ON c.chat = m.chat WHERE c.n <= :over
            ORDER BY m.pk, m.chat
            ON CONFLICT (channel, recipient, item) DO NOTHING
            """,
            {**args, "priority": PRIORITY["post"]},
        )
        bursts = 0
        if len(posts) > burst_over:
            bursts = await self._run(
                matches
                + """
                INSERT INTO deliveries (channel, recipient, item, kind, priority, payload, created_at)
                SELECT 'telegram', CAST(c.chat AS TEXT), :item, 'burst', :priority, c.pks, :now
                FROM c WHERE c.n > :over
                ORDER BY c.chat
                ON CONFLICT (channel, recipient, item) DO NOTHING
                """,
                {**args, "item": burst_item, "priority": PRIORITY["burst"]},
            )
        channel = 0
        if channel_id:
            for pk, _ in posts:
                channel += await self.enqueue(channel_id, f"post:{pk}", "channel", now)
        log.info(
            "fan-out of %d new post%s: %d messages, %d burst digests, %d channel posts",
            len(posts),
            "" if len(posts) == 1 else "s",
            single,
            bursts,
            channel,
        )
        return FanOut(single, bursts, channel)

    async def enqueue(
        self, recipient: str, item: str, kind: Kind, now: datetime, *, payload: str | None = None
    ) -> bool:
        """One Telegram row, unless (recipient, item) is already queued. Whether it was written."""
        return (
            await self._run(
                "INSERT INTO deliveries (channel, recipient, item, kind, priority, payload, created_at) "
                "VALUES ('telegram', ?, ?, ?, ?, ?, ?) ON CONFLICT (channel, recipient, item) DO NOTHING",
                (recipient, item, kind, PRIORITY[kind], payload, iso(now)),
            )
            > 0
        )

    async def exists(self, recipient: str, item: str) -> bool:
        """Whether a Telegram row for (recipient, item) exists, in any state."""
        sql = "SELECT 1 FROM deliveries WHERE channel = 'telegram' AND recipient = ? AND item = ?"
        async with self.conn.execute(sql, (recipient, item)) as c:
            return await c.fetchone() is not None

    # --- the sender ---------------------------------------------------------------------------------

    async def due(self, now: float, limit: int) -> list[Delivery]:
        """Telegram rows to send now (pending, or failed and due again), most urgent first, then oldest."""
        sql = """
            SELECT d.id, d.recipient, d.item, d.kind, d.attempts, d.payload,
                   coalesce(s.lang, 'zh'), coalesce(s.rich_ok, 1), s.chat_type, d.created_at
            FROM deliveries d LEFT JOIN subscribers s ON s.chat_id = CAST(d.recipient AS INTEGER)
            WHERE d.channel = 'telegram' AND d.status IN ('pending', 'failed') AND d.next_attempt_at <= ?
            ORDER BY d.priority DESC, d.id LIMIT ?
        """
        async with self.conn.execute(sql, (now, limit)) as c:
            rows = await c.fetchall()
        return [
            Delivery(
                int(r[0]),
                str(r[1]),
                str(r[2]),
                _kind(str(r[3])),
                int(r[4]),
                None if r[5] is None else str(r[5]),
                str(r[6]),
                bool(r[7]),
                None if r[8] is None else str(r[8]),
                datetime.fromisoformat(str(r[9])),
            )
            for r in rows
        ]

    async def claim(self, ids: Sequence[int]) -> list[int]:
        """Mark these rows `sending` (committed before any request); the ids that were still due."""
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        sql = (
            "UPDATE deliveries SET status = 'sending', attempts = attempts + 1 "
            f"WHERE id IN ({marks}) AND status IN ('pending', 'failed') RETURNING id"
        )
        async with self.conn.execute(sql, list(ids)) as c:
            claimed = {int(row[0]) for row in await c.fetchall()}
        return [delivery_id for delivery_id in ids if delivery_id in claimed]

    async def defer(self, delivery_id: int, until: float) -> None:
        """Not yet: the chat's own rate or a 429 holds it until `until`; the attempt does not count."""
        await self._run(
            "UPDATE deliveries SET next_attempt_at = ?, attempts = max(attempts - (status = 'sending'), 0), "
            "status = CASE status WHEN 'sending' THEN 'pending' ELSE status END WHERE id = ?",
            (until, delivery_id),
        )

    async def mark_sent(
        self, delivery_id: int, message_id: int | None, now: datetime, note: str | None = None
    ) -> None:
        """Sent, with Telegram's message id (None when nothing needed sending: `note` says why)."""
        await self._run(
            "UPDATE deliveries SET status = 'sent', message_id = ?, sent_at = ?, last_error = ? WHERE id = ?",
            (message_id, iso(now), note, delivery_id),
        )

    async def mark_sent_many(self, sent: Sequence[tuple[int, int | None, str | None]], now: datetime) -> None:
        """Several rows sent: (id, message id, note) each, in one statement."""
        stamp = iso(now)
        await self.conn.executemany(
            "UPDATE deliveries SET status = 'sent', message_id = ?, sent_at = ?, last_error = ? WHERE id = ?",
            [(message_id, stamp, note, delivery_id) for delivery_id, message_id, note in sent],
        )

    async def mark_failed(self, delivery_id: int, error: str, retry_at: float) -> None:
        """An attempt failed for a reason that may pass: try again at `retry_at`."""
        await self._run(
            "UPDATE deliveries SET status = 'failed', last_error = ?, next_attempt_at = ? WHERE id = ?",
            (error, retry_at, delivery_id),
        )

    async def mark_dead(self, delivery_id: int, error: str) -> None:
        """Given up, with the reason kept."""
        await self._run(
            "UPDATE deliveries SET status = 'dead', last_error = ? WHERE id = ?", (error, delivery_id)
        )

    async def drop_recipient(self, recipient: str, reason: str) -> int:
        """Every waiting Telegram row of a chat that can no longer be reached turns dead; how many."""
        return await self._run(
            "UPDATE deliveries SET status = 'dead', last_error = ? "
            "WHERE channel = 'telegram' AND recipient = ? AND status IN ('pending', 'failed')",
            (reason, recipient),
        )

    async def move(self, delivery_id: int, recipient: str) -> bool:
        """Readdress one row (a migrated group) and put it back as due now; False if the new chat has it."""
        return (
            await self._run(
                "UPDATE OR IGNORE deliveries SET recipient = ?, status = 'pending', next_attempt_at = 0 "
                "WHERE id = ?",
                (recipient, delivery_id),
            )
            > 0
        )

    async def release_in_flight(self) -> int:
        """After a crash or a takeover: rows left `sending` were perhaps sent, perhaps not: send again."""
        return await self._run(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = 0 "
            "WHERE channel = 'telegram' AND status = 'sending'"
        )

    async def rich_refused(self, chat_id: int) -> bool:
        """Whether Telegram refused a rich message in this chat before."""
        async with self.conn.execute("SELECT rich_ok FROM subscribers WHERE chat_id = ?", (chat_id,)) as c:
            row = await c.fetchone()
        return row is not None and not row[0]

    async def remember_rich_refused(self, chat_id: int) -> None:
        """Telegram refused a rich message in this chat: send it HTML from now on."""
        await self._run("UPDATE subscribers SET rich_ok = 0 WHERE chat_id = ?", (chat_id,))

    # --- reporting ----------------------------------------------------------------------------------

    async def counts(self, channel: str = "telegram") -> dict[Status, int]:
        """Rows by state (every state present, zero when none), for /stats and the metrics."""
        found: dict[Status, int] = dict.fromkeys(STATUSES, 0)
        sql = "SELECT status, count(*) FROM deliveries WHERE channel = ? GROUP BY status"
        async with self.conn.execute(sql, (channel,)) as c:
            for status, count in await c.fetchall():
                for known in STATUSES:
                    if known == status:
                        found[known] = int(count)
        return found

    async def errors(self, channel: str = "telegram") -> dict[str, int]:
        """Dead rows by reason (the text before the first colon of last_error)."""
        sql = (
            "SELECT CASE WHEN instr(last_error, ':') > 0 "
            "THEN substr(last_error, 1, instr(last_error, ':') - 1) "
            "ELSE coalesce(last_error, '') END, count(*) FROM deliveries "
            "WHERE channel = ? AND status = 'dead' GROUP BY 1"
        )
        async with self.conn.execute(sql, (channel,)) as c:
            return {str(reason): int(count) for reason, count in await c.fetchall()}
