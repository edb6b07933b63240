"""What the digest builder asks the store: who receives digests, what they follow, what is new for them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from storage.db import Database
from storage.posts import POST_COLUMNS, StoredPost, _row_to_post, iso
from storage.preferences import PreferenceStore
from storage.watches import WatchStore

log = logging.getLogger(__name__)

Channel = Literal["telegram", "email"]

_P_COLUMNS = ", ".join("p." + column.strip() for column in POST_COLUMNS.split(","))


@dataclass(frozen=True, slots=True)
class Recipient:
    """One reader of digests: a Telegram chat or an email address, with what they follow."""

    channel: Channel
    id: int
    address: str
    lang: Literal["zh", "en"]
    last_digest_at: datetime | None
    follows_all: bool
    series_keys: frozenset[str]
    # Watched words (the /watch query language, any line matching): an email reader's preference. A
    # Telegram reader's watches matched at fan-out time instead (`watch_hits`), read by `watched_among`.
    words: tuple[str, ...] = ()


def _lang(value: str) -> Literal["zh", "en"]:
    return "en" if value == "en" else "zh"


def _moment(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class RecipientStore:
    """Digest recipients, their follows and last digests, and the posts new to them."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def posts_new_between(self, since: datetime, until: datetime, since_date: date) -> list[StoredPost]:
        """Posts that became known after `since` and by `until`, oldest first.

        A post counts when it was announced (outbox) in that interval, or first stored in it while dated no
        earlier than `since_date`; so a post found after an outage is still included, while a backfill of old
        posts is not. Posts with an unknown year are left out.
        """
        sql = f"""
            SELECT {_P_COLUMNS} FROM posts p LEFT JOIN outbox o ON o.post_pk = p.pk
            WHERE p.date IS NOT NULL AND (
                (o.queued_at > :since AND o.queued_at <= :until)
                OR (p.first_seen_at > :since AND p.first_seen_at <= :until AND p.date >= :since_date)
            )
            ORDER BY p.date, p.archive_id, p.pk
        """
        args = {"since": iso(since), "until": iso(until), "since_date": since_date.isoformat()}
        async with self.db.conn.execute(sql, args) as c:
            return [_row_to_post(row) for row in await c.fetchall()]

    async def series_keys_of(self, pks: list[int]) -> dict[int, str]:
        """The normalized series key of each of these posts that belongs to a series."""
        if not pks:
            return {}
        marks = ", ".join("?" for _ in pks)
        sql = f"SELECT pk, series_key FROM posts WHERE series_key IS NOT NULL AND pk IN ({marks})"
        async with self.db.conn.execute(sql, pks) as c:
            return {int(pk): str(key) for pk, key in await c.fetchall()}

    async def previous_part(self, pk: int) -> StoredPost | None:
        """The nearest earlier stored part of this post's series with an id (the first half for `（下）`)."""
        sql = f"""
            SELECT {_P_COLUMNS} FROM posts p JOIN posts cur ON cur.pk = :pk
            WHERE cur.series_key IS NOT NULL AND p.series_key = cur.series_key AND p.pk != cur.pk
              AND p.archive_id IS NOT NULL
              AND (p.series_part < cur.series_part
                   OR (p.series_part = cur.series_part AND coalesce(p.date, '') < coalesce(cur.date, '')))
            ORDER BY p.series_part DESC, p.date DESC, p.archive_id DESC LIMIT 1
        """
        async with self.db.conn.execute(sql, {"pk": pk}) as c:
            row = await c.fetchone()
        return None if row is None else _row_to_post(row)

    async def watched_among(self, recipient: Recipient, pks: list[int]) -> set[int]:
        """Which of these posts the recipient's watches caught: Telegram watches matched at fan-out time,
        and posts matching an email reader's words."""
        found: set[int] = set()
        if recipient.follows_all:
            # Everything is in their digest anyway.
            return found
        if recipient.channel == "telegram":
            found |= set(await WatchStore(self.db.conn).hits_among(recipient.id, pks))
        if recipient.words:
            found |= await PreferenceStore(self.db.conn).matching(recipient.words, pks)
        return found
