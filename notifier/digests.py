"""Scheduled Telegram digests: who is due, worked out from the database, and queued once per period.

A reader on a daily digest is due at `digest_hour` (in their own time zone, else TIME_ZONE) every day, a
weekly one at that hour on `digest_day`. The job (every minute) takes each reader's latest due moment; when
it is later than the reader's last digest (or sign-up), it queues a delivery row keyed by the period:
`digest:2025-05-12` or `digest:2025-W20`. The UNIQUE key makes a repeat a no-op, and the sender moves the
reader's last digest time on once it is sent (or found to hold nothing new), so a restart after downtime
queues what fell due once, and neither a restart nor the scheduler's in-memory store can skip or repeat one.
The same job ends pauses (notifier/pausing.py).
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta, tzinfo

from notifier.pausing import end_pauses
from notifier.services.zones import zone_of
from storage.db import Database
from storage.subscribers import Subscriber
from storage.uow import read_stores, unit_of_work

log = logging.getLogger(__name__)

BATCH = 1000


def due_moment(subscriber: Subscriber, now: datetime, tz: tzinfo) -> datetime | None:
    """The latest moment up to `now` at which this reader's digest fell due (None for instant readers),
    read in the reader's own zone (`tz`, TIME_ZONE, when they chose none)."""
    tz = zone_of(subscriber.time_zone, tz)
    local = now.astimezone(tz)
    at = datetime.combine(local.date(), time(subscriber.digest_hour), tzinfo=tz)
    if subscriber.mode == "daily":
        return at if at <= local else at - timedelta(days=1)
    if subscriber.mode == "weekly":
        at -= timedelta(days=(local.weekday() - subscriber.digest_day) % 7)
        return at if at <= local else at - timedelta(days=7)
    return None


def period_item(subscriber: Subscriber, moment: datetime) -> str:
    """The delivery item of the period a due moment opens: `digest:YYYY-MM-DD` or `digest:YYYY-Www`."""
    if subscriber.mode == "weekly":
        year, week, _ = moment.isocalendar()
        return f"digest:{year}-W{week:02d}"
    return f"digest:{moment.date().isoformat()}"


async def enqueue_due_digests(db: Database, now: datetime, tz: tzinfo, *, batch: int = BATCH) -> int:
    """Queue a digest row for every daily or weekly reader due and not yet served, and the digest of every
    pause that ended; how many were queued."""
    queued = await end_pauses(db, now)
    after = 0
    while True:
        readers = await read_stores(db).subscribers.digest_readers(after, batch)
        if not readers:
            break
        after = readers[-1].id
        due: list[tuple[Subscriber, str]] = []
        for reader in readers:
            moment = due_moment(reader, now, tz)
            served = reader.last_digest_at or reader.created_at
            if moment is not None and moment > served:
                due.append((reader, period_item(reader, moment)))
        if due:
            async with unit_of_work(db) as uow:
                for reader, item in due:
                    queued += await uow.deliveries.enqueue(str(reader.chat_id), item, "digest", now)
    if queued:
        log.info("digests: %d queued", queued)
    return queued
