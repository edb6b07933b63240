"""The operator's figures: the bot's /stats and the Prometheus endpoint."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from notifier.config import Clock, Config
from storage.db import Database
from storage.deliveries import GIVEN_UP, WAITING
from storage.sources import SourceState
from storage.stats import DeliveryCounts, LastPoll
from storage.subscribers import (
    SubscriberCounts,
)
from storage.uow import read_stores

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """What `/metrics` exposes, read from the database at scrape time (so every process sees the same)."""

    posts: int
    sources: tuple[SourceState, ...]
    subscribers: SubscriberCounts
    deliveries: Mapping[tuple[str, str], int]
    dead_by_reason: Mapping[str, int]
    emails: Mapping[str, int]
    # The persisted event counters, (name, label) → value: messages sent and failed, 429s, emails.
    counters: Mapping[tuple[str, str], int] = field(default_factory=dict)
    # Readers holding at least one watch (/watch).
    readers_with_watches: int = 0


@dataclass(frozen=True, slots=True)
class Stats:
    """The admin's figures: readers by mode, the last poll, failing sources, the outbox, today's sends.

    `outbox` counts deliveries waiting (pending, being sent, or failed and waiting for their retry);
    `sent_today` and `failed_today` count deliveries sent, or given up on, since midnight in TIME_ZONE.
    """

    subscribers: SubscriberCounts
    last_poll: LastPoll | None
    failing_sources: tuple[SourceState, ...]
    deliveries: DeliveryCounts
    outbox: int
    sent_today: int
    failed_today: int


class AdminService:
    """The operator's figures: /stats in the bot and the Prometheus endpoint."""

    def __init__(self, *, config: Config, db: Database, clock: Clock) -> None:
        self.config = config
        self.db = db
        self.clock = clock

    async def metrics(self) -> MetricsSnapshot:
        """The figures of the Prometheus endpoint."""
        reads = read_stores(self.db)
        return MetricsSnapshot(
            posts=await reads.posts.count(),
            sources=tuple(await reads.sources.all()),
            subscribers=await reads.subscribers.counts(),
            deliveries=await reads.stats.deliveries_by_channel(),
            dead_by_reason=await reads.deliveries.errors(),
            emails=await reads.stats.emails_by_state(),
            counters=await reads.counters.all(),
            readers_with_watches=await reads.watches.readers_with_watches(),
        )

    async def stats(self) -> Stats:
        """The figures of the admin's /stats."""
        reads = read_stores(self.db)
        now = self.clock().astimezone(self.config.tz)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        deliveries = await reads.stats.deliveries(midnight)
        failing = tuple(s for s in await reads.sources.all() if s.failures > 0)
        return Stats(
            subscribers=await reads.subscribers.counts(),
            last_poll=await reads.stats.last_poll(),
            failing_sources=failing,
            deliveries=deliveries,
            outbox=sum(n for state, n in deliveries.by_status.items() if state in WAITING),
            sent_today=deliveries.since_by_status.get("sent", 0),
            failed_today=sum(n for state, n in deliveries.since_by_status.items() if state in GIVEN_UP),
        )
