"""Telegram readers: who they are, what they follow, how they want it, and the series numbers of deep links.

A store wraps one connection and never begins or commits a transaction: the caller owns it (`async with
db.transaction() as conn: await SubscriberStore(conn).follow_all(...)`), so several calls commit as one.

A reader is keyed by Telegram's chat id (64-bit; negative for groups and channels). Modes: `instant` (each
new post), or a `daily` / `weekly` digest at `digest_hour` (0-23, in TIME_ZONE) and, for weekly, on
`digest_day`: 0 = Monday … 6 = Sunday, as Python's `date.weekday()` counts.

A delivery row's `recipient` is the chat id in decimal for the `telegram` channel, and the email address row
id in decimal for `email` (never the address, which unsubscribing erases): `forget` and `migrate_chat`
rely on it.
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

log = logging.getLogger(__name__)

Mode = Literal["instant", "daily", "weekly"]
MODES: tuple[Mode, ...] = get_args(Mode)

_COLUMNS = (
    "id, chat_id, chat_type, lang, lang_chosen, mode, digest_hour, digest_day, active, blocked_at, "
    "created_at, last_digest_at, time_zone, paused_since, paused_until"
)
# Readers that can be sent to: not blocked, not switched off.
_REACHABLE = "active = 1 AND blocked_at IS NULL"


class UnknownSubscriber(StorageError):
    """A write that needs a stored reader named a chat that has none (it never sent /start)."""


@dataclass(frozen=True, slots=True)
class Subscriber:
    """One Telegram chat that reads us: a private chat, a group or a channel."""

    id: int
    chat_id: int
    chat_type: str | None
    lang: str
    lang_chosen: bool
    mode: Mode
    digest_hour: int
    digest_day: int
    active: bool
    blocked_at: datetime | None
    created_at: datetime
    last_digest_at: datetime | None
    time_zone: str | None = None  # None: TIME_ZONE
    paused_since: datetime | None = None
    paused_until: datetime | None = None  # None while paused: until /resume

    @property
    def paused(self) -> bool:
        """Whether a pause was set and has not been ended yet (see storage/pauses.py)."""
        return self.paused_since is not None

    @property
    def reachable(self) -> bool:
        """Whether messages may be sent to this chat (not blocked, not switched off)."""
        return self.active and self.blocked_at is None


@dataclass(frozen=True, slots=True)
class Started:
    """What `/start` did: the reader, and whether it was new or came back after a block."""

    subscriber: Subscriber
    created: bool
    reactivated: bool


class FollowChange(enum.Enum):
    """What a subscribe or unsubscribe changed, for the bot to say."""

    ADDED = "added"
    ALREADY = "already"
    REMOVED = "removed"
    NOT_FOLLOWING = "not_following"
    UNKNOWN_SERIES = "unknown_series"


@dataclass(frozen=True, slots=True)
class Follows:
    """What one reader follows: everything, and (besides or instead) some series by key."""

    everything: bool
    series_keys: frozenset[str]

    @property
    def anything(self) -> bool:
        """Whether the reader follows anything at all."""
        return self.everything or bool(self.series_keys)


@dataclass(frozen=True, slots=True)
class SeriesRef:
    """A series with the short stable number deep links use (`/start s<id>`)."""

    id: int
    key: str
    name: str


@dataclass(frozen=True, slots=True)
class SubscriberCounts:
    """Readers by mode (reachable ones only) and how many are blocked or switched off."""

    active: Mapping[Mode, int]
    inactive: int

    @property
    def total(self) -> int:
        """Every stored reader."""
        return sum(self.active.values()) + self.inactive


def _moment(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _mode(value: str) -> Mode:
    if value not in MODES:
        raise StorageError(f"unknown delivery mode stored: {value!r}")
    return value


def _row(row: Sequence[Any]) -> Subscriber:
    return Subscriber(
        id=int(row[0]),
        chat_id=int(row[1]),
        chat_type=None if row[2] is None else str(row[2]),
        lang=str(row[3]),
        lang_chosen=bool(row[4]),
        mode=_mode(str(row[5])),
        digest_hour=int(row[6]),
        digest_day=int(row[7]),
        active=bool(row[8]),
        blocked_at=_moment(row[9]),
        created_at=datetime.fromisoformat(str(row[10])),
        last_digest_at=_moment(row[11]),
        time_zone=None if row[12] is None else str(row[12]),
        paused_since=_moment(row[13]),
        paused_until=_moment(row[14]),
    )


def _check_settings(mode: str, hour: int | None, day: int | None) -> None:
    """ValueError for a mode, hour or weekday outside what the columns accept."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if hour is not None and not 0 <= hour <= 23:
        raise ValueError(f"digest hour must be 0-23, not {hour}")
    if day is not None and not 0 <= day <= 6:
        raise ValueError(f"digest day must be 0 (Monday) to 6 (Sunday), not {day}")


class SubscriberStore:
    """Telegram readers and their follows, over one connection whose transaction the caller owns."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def _one(self, sql: str, args: Sequence[Any] | Mapping[str, Any]) -> Subscriber | None:
        async with self.conn.execute(sql, args) as c:
            row = await c.fetchone()
        return None if row is None else _row(row)

    async def _many(self, sql: str, args: Sequence[Any] | Mapping[str, Any]) -> list[Subscriber]:
        async with self.conn.execute(sql, args) as c:
            return [_row(row) for row in await c.fetchall()]

    async def get(self, chat_id: int) -> Subscriber | None:
        """The reader of this chat, if any."""
        return await self._one(f"SELECT {_COLUMNS} FROM subscribers WHERE chat_id = ?", (chat_id,))

    async def _require(self, chat_id: int) -> Subscriber:
        found = await self.get(chat_id)
        if found is None:
            raise UnknownSubscriber(f"no subscriber for chat {chat_id}")
        return found

    async def start(self, chat_id: int, *, chat_type: str | None, lang: str, now: datetime) -> Started:
        """`/start`: create the reader, or reactivate it after a block.

        `lang` is the default Telegram suggests (from the user's language_code); it replaces the stored one
        until the reader chooses a language with `set_language`. A known `chat_type` is refreshed.
        """
        before = await self.get(chat_id)
        if before is None:
            await self.conn.execute(
                "INSERT INTO subscribers (chat_id, chat_type, lang, created_at) VALUES (?, ?, ?, ?)",
                (chat_id, chat_type, lang, iso(now)),
            )
            log.info("subscriber: chat %d (%s) created", chat_id, chat_type)
        else:
            await self.conn.execute(
                "UPDATE subscribers SET chat_type = coalesce(:type, chat_type), "
                "lang = CASE WHEN lang_chosen THEN lang ELSE :lang END, active = 1, blocked_at = NULL "
                "WHERE id = :id",
                {"type": chat_type, "lang": lang, "id": before.id},
            )
            if not before.reachable:
                log.info("subscriber: chat %d reactivated by /start", chat_id)
        after = await self._require(chat_id)
        return Started(after, created=before is None, reactivated=before is not None and not before.reachable)

    async def set_language(self, chat_id: int, lang: str) -> Subscriber:
        """The reader's own choice of language, which Telegram's default no longer overrides."""
        found = await self._require(chat_id)
        await self.conn.execute(
            "UPDATE subscribers SET lang = ?, lang_chosen = 1 WHERE id = ?", (lang, found.id)
        )
        return await self._require(chat_id)

    async def set_mode(
        self, chat_id: int, mode: Mode, *, hour: int | None = None, day: int | None = None
    ) -> Subscriber:
        """Instant, daily or weekly; `hour` (0-23) and `day` (0 = Monday … 6 = Sunday) when given.

        An hour or day left out keeps the stored one, so switching back to a digest keeps its time.
        ValueError for a value out of range.
        """
        _check_settings(mode, hour, day)
        found = await self._require(chat_id)
        await self.conn.execute(
            "UPDATE subscribers SET mode = :mode, digest_hour = coalesce(:hour, digest_hour), "
            "digest_day = coalesce(:day, digest_day) WHERE id = :id",
            {"mode": mode, "hour": hour, "day": day, "id": found.id},
        )
        return await self._require(chat_id)

    async def follows(self, chat_id: int) -> Follows:
        """What this chat follows (nothing for an unknown chat)."""
        sql = (
            "SELECT s.kind, s.series_key FROM subscriptions s JOIN subscribers r ON r.id = s.subscriber_id "
            "WHERE r.chat_id = ?"
        )
        async with self.conn.execute(sql, (chat_id,)) as c:
            rows = await c.fetchall()
        everything = any(kind == "all" for kind, _ in rows)
        return Follows(everything, frozenset(str(key) for kind, key in rows if kind == "series"))

    async def _follow(self, subscriber_id: int, kind: str, key: str, now: datetime) -> FollowChange:
        # The UNIQUE (subscriber_id, kind, series_key) constraint is the dedup; rowcount says which happened.
        cursor = await self.conn.execute(
            "INSERT INTO subscriptions (subscriber_id, kind, series_key, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (subscriber_id, kind, series_key) DO NOTHING",
            (subscriber_id, kind, key, iso(now)),
        )
        added = cursor.rowcount > 0
        await cursor.close()
        return FollowChange.ADDED if added else FollowChange.ALREADY

    async def follow_all(self, chat_id: int, now: datetime) -> FollowChange:
        """`/subscribe`: every new post. ADDED or ALREADY; UnknownSubscriber without a reader."""
        found = await self._require(chat_id)
        return await self._follow(found.id, "all", "", now)

    async def follow_series(self, chat_id: int, series_key: str, now: datetime) -> FollowChange:
        """`/subscribe <series>`: one series by key. ADDED, ALREADY, or UNKNOWN_SERIES if never stored."""
        found = await self._require(chat_id)
        if await self.series_id(series_key) is None:
            return FollowChange.UNKNOWN_SERIES
        return await self._follow(found.id, "series", series_key, now)

    async def _unfollow(self, chat_id: int, where: str, args: Sequence[Any]) -> FollowChange:
        found = await self.get(chat_id)
        if found is None:
            return FollowChange.NOT_FOLLOWING
        cursor = await self.conn.execute(
            f"DELETE FROM subscriptions WHERE subscriber_id = ? AND {where}", (found.id, *args)
        )
        removed = cursor.rowcount > 0
        await cursor.close()
        return FollowChange.REMOVED if removed else FollowChange.NOT_FOLLOWING

    async def unfollow_all(self, chat_id: int) -> FollowChange:
        """`/unsubscribe` alone: every follow (everything and each series). REMOVED or NOT_FOLLOWING."""
        return await self._unfollow(chat_id, "1", ())

    async def unfollow_series(self, chat_id: int, series_key: str) -> FollowChange:
        """`/unsubscribe <series>`: that series only (following all stays). REMOVED or NOT_FOLLOWING."""
        return await self._unfollow(chat_id, "kind = 'series' AND series_key = ?", (series_key,))

    async def block(self, chat_id: int, now: datetime) -> bool:
        """Telegram said 403 (blocked, deactivated) or chat not found: stop sending. Whether it changed."""
        cursor = await self.conn.execute(
            "UPDATE subscribers SET active = 0, blocked_at = ? WHERE chat_id = ? AND blocked_at IS NULL",
            (iso(now), chat_id),
        )
        changed = cursor.rowcount > 0
        await cursor.close()
        if changed:
            log.info("subscriber: chat %d blocked", chat_id)
        return changed

    async def reactivate(self, chat_id: int) -> bool:
        """Sending may resume (the reader came back). Whether it changed."""
        cursor = await self.conn.execute(
            "UPDATE subscribers SET active = 1, blocked_at = NULL "
            "WHERE chat_id = ? AND NOT (active = 1 AND blocked_at IS NULL)",
            (chat_id,),
        )
        changed = cursor.rowcount > 0
        await cursor.close()
        return changed

    async def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> Subscriber | None:
        """A group became a supergroup (`migrate_to_chat_id`): the reader moves, follows and settings kept.

        When the new chat already has a reader (someone used the bot there before the move was noticed),
        the two merge into the new chat's row: follows are united; mode, hour and day are the old chat's
        (the group's long-standing choice); the language is the one chosen, the new chat's if both chose;
        active or blocked is the new chat's (the old one no longer exists); the earlier creation and the
        later last digest are kept. Delivery rows move too, so nothing is sent to the group twice. Returns
        the reader at the new chat id (None when neither chat has one).
        """
        old = await self.get(old_chat_id)
        if old is None or old_chat_id == new_chat_id:
            return await self.get(new_chat_id)
        new = await self.get(new_chat_id)
        if new is None:
            await self.conn.execute(
                "UPDATE subscribers SET chat_id = ?, chat_type = 'supergroup' WHERE id = ?",
                (new_chat_id, old.id),
            )
        else:
            await self.conn.execute(
                "INSERT INTO subscriptions (subscriber_id, kind, series_key, created_at) "
                "SELECT ?, kind, series_key, created_at FROM subscriptions WHERE subscriber_id = ? "
                "ON CONFLICT (subscriber_id, kind, series_key) DO NOTHING",
                (new.id, old.id),
            )
            lang = new.lang if new.lang_chosen or not old.lang_chosen else old.lang
            last = max(
                (moment for moment in (old.last_digest_at, new.last_digest_at) if moment is not None),
                default=None,
            )
            await self.conn.execute(
                "UPDATE subscribers SET lang = :lang, lang_chosen = :chosen, mode = :mode, "
                "digest_hour = :hour, digest_day = :day, created_at = :created, last_digest_at = :last, "
                "time_zone = coalesce(:zone, time_zone), chat_type = 'supergroup' WHERE id = :id",
                {
                    "lang": lang,
                    "chosen": int(old.lang_chosen or new.lang_chosen),
                    "mode": old.mode,
                    "hour": old.digest_hour,
                    "day": old.digest_day,
                    "created": iso(min(old.created_at, new.created_at)),
                    "last": None if last is None else iso(last),
                    "zone": old.time_zone,
                    "id": new.id,
                },
            )
            await self.conn.execute(
                "UPDATE email_addresses SET subscriber_id = ? WHERE subscriber_id = ?", (new.id, old.id)
            )
            await self.conn.execute(
                "UPDATE OR IGNORE watches SET subscriber_id = ? WHERE subscriber_id = ?", (new.id, old.id)
            )
            await self.conn.execute("DELETE FROM subscribers WHERE id = ?", (old.id,))
        # The new chat's own row wins where both hold one item: it is the one sent after the move.
        await self.conn.execute(
            "UPDATE OR IGNORE deliveries SET recipient = ? WHERE channel = 'telegram' AND recipient = ?",
            (str(new_chat_id), str(old_chat_id)),
        )
        await self.conn.execute(
            "DELETE FROM deliveries WHERE channel = 'telegram' AND recipient = ?", (str(old_chat_id),)
        )
        log.info("subscriber: chat %d migrated to %d%s", old_chat_id, new_chat_id, " (merged)" if new else "")
        return await self.get(new_chat_id)

    async def forget(self, chat_id: int) -> bool:
        """`/forget`: the reader, its follows, its deliveries, and every email address it signed up.

        Sign-up events stay: they hold only hashes, expire within a day, and are what stops someone from
        forgetting and signing an address up again to mail it more often. Whether a reader existed.
        """
        await self.conn.execute(
            "DELETE FROM deliveries WHERE channel = 'telegram' AND recipient = ?", (str(chat_id),)
        )
        found = await self.get(chat_id)
        if found is None:
            return False
        await self.conn.execute(
            "DELETE FROM deliveries WHERE channel = 'email' AND recipient IN "
            "(SELECT CAST(id AS TEXT) FROM email_addresses WHERE subscriber_id = ?)",
            (found.id,),
        )
        await self.conn.execute("DELETE FROM email_addresses WHERE subscriber_id = ?", (found.id,))
        # ON DELETE CASCADE takes the follows.
        await self.conn.execute("DELETE FROM subscribers WHERE id = ?", (found.id,))
        log.info("subscriber: chat %d forgotten", chat_id)
        return True

    async def matching_instant(self, series_key: str | None, after_id: int, limit: int) -> list[Subscriber]:
        """Reachable instant readers for a new post, by id after `after_id`: who follows everything, or
        follows the post's series (`series_key`, None for a post outside any series). Keyset pagination:
        pass the last id of one batch as `after_id` of the next."""
        sql = (
            f"SELECT {_COLUMNS} FROM subscribers r WHERE mode = 'instant' AND id > :after AND {_REACHABLE} "
            "AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.subscriber_id = r.id AND "
            "(s.kind = 'all' OR (s.kind = 'series' AND s.series_key = :key))) "
            "ORDER BY id LIMIT :limit"
        )
        return await self._many(sql, {"after": after_id, "key": series_key, "limit": limit})

    async def add_many(self, chat_ids: Sequence[int], *, lang: str, now: datetime) -> None:
        """Private-chat readers following everything, in bulk (imports and benchmarks); known chats kept."""
        stamp = iso(now)
        await self.conn.executemany(
            "INSERT INTO subscribers (chat_id, chat_type, lang, created_at) VALUES (?, 'private', ?, ?) "
            "ON CONFLICT (chat_id) DO NOTHING",
            [(chat_id, lang, stamp) for chat_id in chat_ids],
        )
        await self.conn.executemany(
            "INSERT INTO subscriptions (subscriber_id, kind, series_key, created_at) "
            "SELECT id, 'all', '', ? FROM subscribers WHERE chat_id = ? "
            "ON CONFLICT (subscriber_id, kind, series_key) DO NOTHING",
            [(stamp, chat_id) for chat_id in chat_ids],
        )

    async def digest_readers(self, after_id: int, limit: int) -> list[Subscriber]:
        """Reachable daily and weekly readers with any follow or watch and no pause, by id after `after_id`:
        the digest job works out from each one's settings and last digest whether a digest fell due."""
        sql = (
            f"SELECT {_COLUMNS} FROM subscribers r WHERE id > :after AND {_REACHABLE} "
            "AND mode IN ('daily', 'weekly') AND paused_since IS NULL "
            "AND (EXISTS (SELECT 1 FROM subscriptions s WHERE s.subscriber_id = r.id) "
            "OR EXISTS (SELECT 1 FROM watches w WHERE w.subscriber_id = r.id)) "
            "ORDER BY id LIMIT :limit"
        )
        return await self._many(sql, {"after": after_id, "limit": limit})

    async def mark_digest_sent(self, subscriber_id: int, at: datetime) -> None:
        """Record that this reader got a digest covering everything up to `at`."""
        await self.conn.execute(
            "UPDATE subscribers SET last_digest_at = ? WHERE id = ?", (iso(at), subscriber_id)
        )

    async def counts(self) -> SubscriberCounts:
        """`/stats`: reachable readers by mode, and the blocked or switched-off ones."""
        active: dict[Mode, int] = dict.fromkeys(MODES, 0)
        inactive = 0
        sql = f"SELECT mode, {_REACHABLE}, count(*) FROM subscribers GROUP BY 1, 2"
        async with self.conn.execute(sql) as c:
            for mode, reachable, count in await c.fetchall():
                if reachable:
                    active[_mode(str(mode))] += int(count)
                else:
                    inactive += int(count)
        return SubscriberCounts(active, inactive)

    async def series_by_id(self, series_id: int) -> SeriesRef | None:
        """The series a deep link `/start s<id>` names."""
        async with self.conn.execute("SELECT id, key, name FROM series WHERE id = ?", (series_id,)) as c:
            row = await c.fetchone()
        return None if row is None else SeriesRef(int(row[0]), str(row[1]), str(row[2]))

    async def series_id(self, series_key: str) -> int | None:
        """The short number of a series, by its normalized key, for building a deep link."""
        async with self.conn.execute("SELECT id FROM series WHERE key = ?", (series_key,)) as c:
            row = await c.fetchone()
        return None if row is None else int(row[0])

    async def series_refs(self) -> dict[str, SeriesRef]:
        """Every numbered series by key (one query for a whole /series index)."""
        async with self.conn.execute("SELECT id, key, name FROM series") as c:
            rows = await c.fetchall()
        return {str(row[1]): SeriesRef(int(row[0]), str(row[1]), str(row[2])) for row in rows}
