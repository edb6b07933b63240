"""Pauses and time zones on a real SQLite file: the digest after a pause, digest hours in a reader's zone."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from notifier.digests import due_moment, enqueue_due_digests
from notifier.services.zones import COMMON_ZONES, is_known, offset_name, zone_of
from storage.db import Database
from storage.subscribers import Subscriber
from storage.uow import read_stores, unit_of_work
from tests.notifier.test_delivery import BASELINE, post, reader, rows
from tests.support.store import ingest

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 5, 10, 12, 0, tzinfo=TZ)


def test_zone_names() -> None:
    assert offset_name(8) == "UTC+08:00" and offset_name(-5) == "UTC-05:00" and offset_name(0) == "UTC+00:00"
    assert all(is_known(zone) for zone in COMMON_ZONES)
    assert not is_known("Mars/Olympus") and not is_known("UTC+15:00")
    assert zone_of(None, TZ) is TZ and zone_of("Mars/Olympus", TZ) is TZ
    assert datetime(2025, 1, 1, tzinfo=zone_of("UTC-05:00", TZ)).utcoffset() == timedelta(hours=-5)


def test_a_digest_falls_due_at_the_hour_of_the_readers_zone() -> None:
    base = Subscriber(1, 1, "private", "en", True, "daily", 8, 0, True, None, NOW, None)
    # 08:00 in New York is 12:00 UTC (summer time) and 20:00 in Shanghai.
    in_new_york = dataclasses.replace(base, time_zone="America/New_York")
    now = datetime(2025, 5, 10, 12, 30, tzinfo=UTC)
    moment = due_moment(in_new_york, now, TZ)
    assert moment is not None and moment.astimezone(UTC) == datetime(2025, 5, 10, 12, 0, tzinfo=UTC)
    default = due_moment(base, now, TZ)
    assert default is not None and default.astimezone(UTC) == datetime(2025, 5, 10, 0, 0, tzinfo=UTC)
    offset = due_moment(dataclasses.replace(base, time_zone="UTC-05:00"), now, TZ)
    assert offset is not None and offset.astimezone(UTC) == datetime(2025, 5, 9, 13, 0, tzinfo=UTC)


async def test_after_a_pause_what_came_meanwhile_is_one_digest_sent_once(db: Database) -> None:
    await ingest(db, BASELINE, now=NOW - timedelta(hours=1), tz=TZ, max_age_days=14)
    await reader(db, 1)
    await reader(db, 2)
    async with unit_of_work(db) as uow:
        await uow.pauses.pause(2, NOW, NOW + timedelta(days=1))
    first = await ingest(
        db, [post(10800, "第一篇", "2025-05-10")], now=NOW + timedelta(hours=1), tz=TZ, max_age_days=14
    )
    second = await ingest(
        db, [post(10801, "第二篇", "2025-05-10")], now=NOW + timedelta(hours=2), tz=TZ, max_age_days=14
    )
    assert await rows(db, "SELECT recipient FROM deliveries") == [("1",), ("1",)]
    # Not yet over: nothing.
    assert await enqueue_due_digests(db, NOW + timedelta(hours=3), TZ) == 0
    end = NOW + timedelta(days=1, minutes=1)
    assert await enqueue_due_digests(db, end, TZ) == 1
    assert await enqueue_due_digests(db, end, TZ) == 0
    found = await rows(db, "SELECT item, kind, payload FROM deliveries WHERE recipient = '2'")
    assert found == [("pause:2025-05-10T04:00:00+00:00", "burst", f"{first.new[0].pk},{second.new[0].pk}")]
    after = await read_stores(db).subscribers.get(2)
    assert after is not None and not after.paused
    # Back to normal: the next post reaches them at once.
    await ingest(
        db, [post(10802, "第三篇", "2025-05-12")], now=end + timedelta(hours=1), tz=TZ, max_age_days=14
    )
    assert len(await rows(db, "SELECT 1 FROM deliveries WHERE recipient = '2'")) == 2


async def test_a_pause_with_nothing_missed_ends_without_a_message(db: Database) -> None:
    await ingest(db, BASELINE, now=NOW - timedelta(hours=1), tz=TZ, max_age_days=14)
    await reader(db, 2)
    async with unit_of_work(db) as uow:
        await uow.pauses.pause(2, NOW, None)
        await uow.pauses.resume(2, NOW + timedelta(hours=1))
    assert await enqueue_due_digests(db, NOW + timedelta(hours=1), TZ) == 0
    after = await read_stores(db).subscribers.get(2)
    assert after is not None and not after.paused


async def test_a_paused_digest_reader_gets_no_scheduled_digest_until_the_pause_ends(db: Database) -> None:
    await ingest(db, BASELINE, now=NOW - timedelta(days=3), tz=TZ, max_age_days=14)
    await reader(db, 3, mode="daily", hour=8, now=NOW - timedelta(days=3))
    async with unit_of_work(db) as uow:
        await uow.pauses.pause(3, NOW - timedelta(days=2), NOW + timedelta(hours=1))
    assert await enqueue_due_digests(db, NOW, TZ) == 0
    # The pause ends: the day's digest (covering the pause) falls due at once, one row.
    assert await enqueue_due_digests(db, NOW + timedelta(hours=1), TZ) == 1
    assert await rows(db, "SELECT item, kind FROM deliveries") == [("digest:2025-05-10", "digest")]
