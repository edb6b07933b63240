"""Seeding and reading a real store in tests, through the same unit of work and rules as the application."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from archive.model import Post
from notifier.ingest.sightings import IngestResult, ingest_poll, store_silently
from storage.db import Database
from storage.uow import Stores, read_stores, unit_of_work


async def seed(db: Database, posts: Iterable[Post], *, now: datetime) -> tuple[int, int, int]:
    """Store sightings silently, as a backfill does: (inserted, updated, unchanged)."""
    async with unit_of_work(db) as uow:
        counts = await store_silently(uow, posts, now)
    return counts.inserted, counts.updated, counts.unchanged


async def ingest(
    db: Database,
    posts: Sequence[Post],
    *,
    now: datetime,
    tz: ZoneInfo,
    max_age_days: int,
    channel_id: str | None = None,
) -> IngestResult:
    """One poll's sightings, as the poller stores them (deliveries fanned out in the same transaction)."""
    async with unit_of_work(db) as uow:
        return await ingest_poll(uow, posts, now=now, tz=tz, max_age_days=max_age_days, channel_id=channel_id)


def reads(db: Database) -> Stores:
    """The stores on the read-only connection."""
    return read_stores(db)
