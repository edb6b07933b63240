"""A Telegram reader's life: start, follows, delivery mode, language, refusals, blocking and forgetting."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from archive.identity import series_lookup_key as lookup_key
from notifier.config import Clock, Config
from notifier.errors import InvalidRequest
from notifier.services.archive import ArchiveService, SeriesLookup, SeriesMatch
from storage.db import Database
from storage.posts import SeriesSummary
from storage.subscribers import (
    FollowChange,
    Follows,
    Mode,
    SeriesRef,
    Started,
    Subscriber,
)
from storage.uow import read_stores, unit_of_work

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SubscriptionChange:
    """What `/subscribe` or `/unsubscribe` did.

    `change` is None when a series name matched no series or several (`lookup` says which); `series` names
    the series acted on, None for everything.
    """

    change: FollowChange | None
    series: SeriesSummary | None = None
    lookup: SeriesLookup | None = None


@dataclass(frozen=True, slots=True)
class ReaderState:
    """A chat's stored settings and follows (None: it never started the bot or was forgotten)."""

    subscriber: Subscriber | None
    follows: Follows


@dataclass(frozen=True, slots=True)
class StartResult:
    """What `/start` did, and the series a deep link (`/start s<id>`) followed, if any."""

    started: Started
    series: SeriesRef | None = None
    change: FollowChange | None = None


class ReadersService:
    """A Telegram reader's life: start, follows, delivery mode, language, refusals, blocking, forgetting."""

    def __init__(self, *, config: Config, db: Database, clock: Clock, archive: ArchiveService) -> None:
        self.config = config
        self.db = db
        self.clock = clock
        self._archive = archive

    async def reader(self, chat_id: int) -> ReaderState:
        """A chat's settings and follows."""
        reads = read_stores(self.db)
        return ReaderState(await reads.subscribers.get(chat_id), await reads.subscribers.follows(chat_id))

    async def start(
        self, chat_id: int, *, chat_type: str | None, lang: str, series_id: int | None = None
    ) -> StartResult:
        """Create (or reactivate) the reader; with a deep link's series id, follow that series too."""
        now = self.clock()
        async with unit_of_work(self.db) as uow:
            started = await uow.subscribers.start(chat_id, chat_type=chat_type, lang=lang, now=now)
            if series_id is None:
                return StartResult(started)
            series = await uow.subscribers.series_by_id(series_id)
            if series is None:
                return StartResult(started, change=FollowChange.UNKNOWN_SERIES)
            change = await uow.subscribers.follow_series(chat_id, series.key, now)
        return StartResult(started, series, change)

    async def _series_for(self, name: str) -> tuple[SeriesSummary | None, SeriesLookup | None]:
        if not lookup_key(name):
            # Punctuation or invisible characters only (`/subscribe -`): a name that matches no series.
            return None, SeriesLookup(SeriesMatch.NOT_FOUND)
        lookup = await self._archive.find_series(name)
        if lookup.detail is None:
            return None, lookup
        return lookup.detail.summary, None

    async def subscribe(
        self, chat_id: int, series: str | None = None, *, chat_type: str | None = None, lang: str = "zh"
    ) -> SubscriptionChange:
        """Follow every new post, or one series by any spelling of its name; a new chat is started first."""
        summary = lookup = None
        if series is not None:
            summary, lookup = await self._series_for(series)
            if summary is None:
                return SubscriptionChange(None, lookup=lookup)
        now = self.clock()
        async with unit_of_work(self.db) as uow:
            if await uow.subscribers.get(chat_id) is None:
                await uow.subscribers.start(chat_id, chat_type=chat_type, lang=lang, now=now)
            if summary is None:
                change = await uow.subscribers.follow_all(chat_id, now)
            else:
                change = await uow.subscribers.follow_series(chat_id, summary.key, now)
        log.info("chat %d: subscribe %s: %s", chat_id, summary.key if summary else "all", change.value)
        return SubscriptionChange(change, summary)

    async def unsubscribe(self, chat_id: int, series: str | None = None) -> SubscriptionChange:
        """Stop following one series, or (alone) everything the chat follows."""
        summary = lookup = None
        if series is not None:
            summary, lookup = await self._series_for(series)
            if summary is None:
                return SubscriptionChange(None, lookup=lookup)
        async with unit_of_work(self.db) as uow:
            if await uow.subscribers.get(chat_id) is None:
                change = FollowChange.NOT_FOLLOWING
            elif summary is None:
                change = await uow.subscribers.unfollow_all(chat_id)
            else:
                change = await uow.subscribers.unfollow_series(chat_id, summary.key)
        log.info("chat %d: unsubscribe %s: %s", chat_id, summary.key if summary else "all", change.value)
        return SubscriptionChange(change, summary)

    async def set_mode(
        self, chat_id: int, mode: Mode, *, hour: int | None = None, day: int | None = None
    ) -> Subscriber:
        """Instant delivery, or a daily or weekly digest at `hour` (and, weekly, `day`: 0 = Monday)."""
        try:
            async with unit_of_work(self.db) as uow:
                return await uow.subscribers.set_mode(chat_id, mode, hour=hour, day=day)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None

    async def set_language(self, chat_id: int, lang: str) -> Subscriber:
        """The reader's chosen language."""
        async with unit_of_work(self.db) as uow:
            return await uow.subscribers.set_language(chat_id, lang)

    async def rich_refused(self, chat_id: int) -> bool:
        """Whether Telegram refused a rich message (native math) in this chat before."""
        return await read_stores(self.db).deliveries.rich_refused(chat_id)

    async def remember_rich_refused(self, chat_id: int) -> None:
        """Telegram refused a rich message in this known chat: HTML from now on, for bot and sender."""
        async with unit_of_work(self.db) as uow:
            await uow.deliveries.remember_rich_refused(chat_id)

    async def block(self, chat_id: int) -> bool:
        """The chat blocked the bot or removed it: stop sending there until `/start`; whether it changed."""
        async with unit_of_work(self.db) as uow:
            return await uow.subscribers.block(chat_id, self.clock())

    async def forget(self, chat_id: int) -> bool:
        """Delete everything stored about a chat; False when nothing was stored."""
        async with unit_of_work(self.db) as uow:
            forgotten = await uow.subscribers.forget(chat_id)
        log.info("chat %d: forgotten (%s)", chat_id, "had data" if forgotten else "nothing stored")
        return forgotten
