"""`kexue-notifier run`: the scheduler that polls the blog and keeps the archive current."""

from __future__ import annotations

import asyncio
import logging
import signal
import sqlite3
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from archive import ArchiveError
from archive.crawl import Crawler
from archive.fetch import Fetcher
from archive.poll import Poller
from notifier.commands.archive_cmds import crawl_root, make_poller
from notifier.context import Context
from storage import StorageError
from storage.db import database
from storage.meta import MetaStore
from storage.posts import PostStore

log = logging.getLogger(__name__)

MAINTENANCE_EVERY = timedelta(hours=6)
# Failures of the outside world (the blog, the disk, another process holding the database).
EXPECTED_FAILURES = (ArchiveError, StorageError, sqlite3.Error, OSError)
BACKFILL_WANTED = "backfill_wanted"


class Service:
    """The jobs the scheduler runs; each catches its own failures so that the loop goes on."""

    def __init__(
        self, *, ctx: Context, poller: Poller, crawler: Crawler, posts: PostStore, meta: MetaStore
    ) -> None:
        self.ctx = ctx
        self.poller = poller
        self.crawler = crawler
        self.posts = posts
        self.meta = meta
        self._crawl_lock = asyncio.Lock()
        self._running: set[asyncio.Task[object]] = set()
        self._first_poll = True

    def _track(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def stop(self) -> None:
        """Cancel the jobs in flight and wait for them: crawls resume and polls repeat, so nothing is lost."""
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    async def _crawl(self, name: str, *, content: bool) -> None:
        async with self._crawl_lock:
            report = await self.crawler.run(name, content=content)
        if report.complete and name == "backfill":
            await self.meta.put(BACKFILL_WANTED, "")

    async def prepare(self) -> None:
        """On an empty store, ask for a backfill: the first poll then finds the archive already read."""
        if await self.posts.count() == 0 and await self.meta.get("backfill_completed_at") is None:
            log.info("store %s is empty: the whole archive will be read first", self.ctx.db_path)
            await self.meta.put(BACKFILL_WANTED, "1")

    async def poll_job(self) -> None:
        """Poll every source once; the very first run finishes a wanted backfill before it."""
        self._track()
        try:
            if self._first_poll:
                self._first_poll = False
                await self._maintain()
            now = self.ctx.settings.now()
            await self.poller.poll(self.ctx.settings.kexue_sources, now=now, respect_backoff=True)
        except EXPECTED_FAILURES as exc:
            # A locked or full database is an operating condition, not a bug: one line, no traceback.
            log.error("poll failed: %s: %s; the next one runs on schedule", type(exc).__name__, exc)
        except Exception:
            log.exception("poll failed; the next one runs on schedule")

    async def maintenance_job(self) -> None:
        """Finish a wanted or interrupted backfill, and refresh reader counts every READERS_REFRESH_DAYS."""
        self._track()
        try:
            await self._maintain()
        except EXPECTED_FAILURES as exc:
            log.error("maintenance crawl failed: %s: %s; it runs again on schedule", type(exc).__name__, exc)
        except Exception:
            log.exception("maintenance crawl failed; it runs again on schedule")

    async def _maintain(self) -> None:
        if await self.meta.get(BACKFILL_WANTED) or await self.meta.done_items("backfill"):
            await self._crawl("backfill", content=True)
            return
        days = self.ctx.settings.readers_refresh_days
        last = await self.meta.get("readers_completed_at")
        now = self.ctx.settings.now()
        if days and (last is None or now - datetime.fromisoformat(last) >= timedelta(days=days)):
            await self._crawl("readers", content=False)


async def serve(ctx: Context) -> None:
    """Run until SIGINT or SIGTERM, then stop cleanly."""
    settings = ctx.settings
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with (
        database(ctx.db_path) as db,
        Fetcher() as fetcher,
        Fetcher(min_interval=settings.crawl_delay) as crawl_fetcher,
    ):
        posts, meta = PostStore(db), MetaStore(db)
        crawler = Crawler(
            fetcher=crawl_fetcher, posts=posts, meta=meta, root=crawl_root(ctx), clock=settings.now
        )
        service = Service(
            ctx=ctx, poller=make_poller(db, fetcher, ctx), crawler=crawler, posts=posts, meta=meta
        )
        await service.prepare()
        scheduler = AsyncIOScheduler(timezone=ctx.tz)
        interval = settings.poll_interval
        scheduler.add_job(
            service.poll_job,
            "interval",
            seconds=interval,
            jitter=max(1, interval // 10),
            id="poll",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(ctx.tz),
        )
        scheduler.add_job(
            service.maintenance_job,
            "interval",
            seconds=MAINTENANCE_EVERY.total_seconds(),
            id="maintenance",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(ctx.tz) + MAINTENANCE_EVERY,
        )
        scheduler.start()
        log.info(
            "running: db %s, %d sources, polling every %d s; stop with Ctrl-C",
            ctx.db_path,
            len(settings.kexue_sources),
            interval,
        )
        try:
            await stop.wait()
        finally:
            scheduler.shutdown(wait=False)
            await service.stop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
            log.info("stopped")
