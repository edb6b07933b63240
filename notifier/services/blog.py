"""Reading the blog: one poll, the backfill of the whole archive and the maintenance crawl."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from notifier.config import Clock, Config
from notifier.ingest.crawling import Crawler, CrawlReport
from notifier.ingest.polling import Poller, PollReport
from storage.db import Database
from storage.uow import read_stores, unit_of_work

log = logging.getLogger(__name__)

BACKFILL_WANTED = "backfill_wanted"


class BlogService:
    """Reading the blog: one poll, the backfill of the whole archive, the periodic maintenance crawl."""

    def __init__(
        self,
        *,
        config: Config,
        db: Database,
        clock: Clock,
        poller: Callable[[], Poller],
        crawler: Callable[[Callable[[str], None] | None], Crawler],
    ) -> None:
        self.config = config
        self.db = db
        self.clock = clock
        self._poller = poller
        self._crawler = crawler

    async def poll_once(self, sources: Sequence[str] = (), *, respect_backoff: bool = False) -> PollReport:
        """One poll cycle over `sources` (default: the configured ones)."""
        return await self._poller().poll(
            list(sources) or list(self.config.sources), now=self.clock(), respect_backoff=respect_backoff
        )

    async def backfill(self, progress: Callable[[str], None] | None = None) -> CrawlReport:
        """Read the whole archive once, politely, resuming an interrupted run."""
        report = await self._crawler(progress).run("backfill")
        if report.complete:
            async with unit_of_work(self.db) as uow:
                await uow.meta.put(BACKFILL_WANTED, "")
        return report

    async def want_backfill_if_empty(self) -> bool:
        """On an empty store, ask for a backfill (the first maintenance reads the archive); True if asked."""
        reads = read_stores(self.db)
        if self.config.crawl_root is None:
            log.info("sources are local files only: the archive is not crawled")
            return False
        if await reads.posts.count() or await reads.meta.get("backfill_completed_at") is not None:
            return False
        async with unit_of_work(self.db) as uow:
            await uow.meta.put(BACKFILL_WANTED, "1")
        return True

    async def maintain(self) -> CrawlReport | None:
        """Finish a wanted or interrupted backfill, else refresh reader counts when they are due."""
        if self.config.crawl_root is None:
            return None
        reads = read_stores(self.db)
        if await reads.meta.get(BACKFILL_WANTED) or await reads.meta.done_items("backfill"):
            return await self.backfill()
        days = self.config.readers_refresh_days
        last = await reads.meta.get("readers_completed_at")
        now = self.clock()
        if days and (last is None or now - datetime.fromisoformat(last) >= timedelta(days=days)):
            return await self._crawler(None).run("readers", content=False)
        return None
