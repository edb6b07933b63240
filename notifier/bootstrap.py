"""The composition root: build the application once from settings.

The command line, the service (`run`), the bot, the benchmarks and the tests all get their database, stores,
fetchers, renderer and clock from `open_app`; nothing else reads settings or opens the database.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from archive.fetch import Fetcher
from digest.render import Renderer
from notifier.config import Clock, Config
from notifier.errors import UsageError
from notifier.ingest.alerts import AlertPolicy
from notifier.ingest.crawling import Crawler
from notifier.ingest.polling import Poller
from notifier.services import Services
from notifier.settings import DEFAULT_DB, Settings
from storage import StorageError
from storage.counters import REPLIES_DROPPED
from storage.db import Database, open_database
from storage.uow import Stores, read_stores, unit_of_work

if TYPE_CHECKING:
    from notifier.delivery import Sender
    from notifier.telegram import Telegram

log = logging.getLogger(__name__)


class MissingDatabaseError(StorageError):
    """A command that only reads was pointed at a database file that does not exist."""


class App:
    """The application, built once: configuration, database, one clock, fetchers, renderer, services."""

    def __init__(
        self,
        config: Config,
        db: Database,
        clock: Clock,
        stack: AsyncExitStack,
    ) -> None:
        self.config = config
        self.db = db
        self.clock = clock
        self._stack = stack

    def uow(self) -> AbstractAsyncContextManager[Stores]:
        """`async with app.uow() as uow:` one transaction and every store inside it."""
        return unit_of_work(self.db)

    @property
    def reads(self) -> Stores:
        """The stores on the read-only connection (committed data only)."""
        return read_stores(self.db)

    def _fetcher(self, min_interval: float = 0.0) -> Fetcher:
        fetcher = Fetcher(timeout=self.config.fetch_timeout, min_interval=min_interval)
        self._stack.push_async_callback(fetcher.aclose)
        return fetcher

    @functools.cached_property
    def fetcher(self) -> Fetcher:
        """The fetcher of polls and one-off reads (no delay between requests)."""
        return self._fetcher()

    @functools.cached_property
    def crawl_fetcher(self) -> Fetcher:
        """The polite fetcher of crawls: CRAWL_DELAY seconds between requests."""
        return self._fetcher(self.config.crawl_delay)

    @functools.cached_property
    def renderer(self) -> Renderer:
        """The digest renderer (templates loaded once)."""
        return Renderer()

    @functools.cached_property
    def poller(self) -> Poller:
        """The poller over the configured database."""
        return Poller(
            fetcher=self.fetcher,
            db=self.db,
            tz=self.config.tz,
            max_age_days=self.config.notify_max_age_days,
            backoff_base=timedelta(seconds=self.config.poll_interval),
            channel_id=self.config.channel_id,
            alerts=AlertPolicy(self.config.admin_ids, self.config.alert_after),
        )

    def crawler(self, progress: Callable[[str], None] | None = None) -> Crawler:
        """A crawler of the configured site, reporting each page to `progress`."""
        root = self.config.crawl_root
        if root is None:
            raise UsageError(
                "KEXUE_SOURCES names local files only: there is no web site whose archive could be read"
            )
        return Crawler(
            fetcher=self.crawl_fetcher,
            db=self.db,
            root=root,
            clock=self.clock,
            progress=progress,
        )

    @functools.cached_property
    def services(self) -> Services:
        """The service layer every front end calls."""
        return Services(
            config=self.config,
            db=self.db,
            clock=self.clock,
            poller=lambda: self.poller,
            crawler=self.crawler,
            renderer=lambda: self.renderer,
        )

    @functools.cached_property
    def telegram(self) -> Telegram | None:
        """The one road to Telegram (its Bot closed on exit), or None without TELEGRAM_BOT_TOKEN.

        The bot's replies and the sender's broadcasts share its Bot and so its budget.
        """
        config = self.config.telegram
        if config is None:
            return None
        # Imported here: every other command starts without loading aiogram.
        from notifier.telegram import Budget, DbRefusals, InvalidToken, Telegram, make_bot

        budget = Budget(self.config.telegram_rate, on_stale=self._count_stale_reply)
        try:
            bot = make_bot(config, budget=budget)
        except InvalidToken as exc:
            log.error("%s: Telegram is off", exc)
            return None
        self._stack.push_async_callback(bot.session.close)
        return Telegram(bot, rich=config.rich, budget=budget, refusals=DbRefusals(self.db))

    async def _count_stale_reply(self) -> None:
        async with unit_of_work(self.db) as uow:
            await uow.counters.add(REPLIES_DROPPED)

    @functools.cached_property
    def sender(self) -> Sender | None:
        """The delivery sender over this database (None without a bot)."""
        telegram = self.telegram
        if telegram is None:
            return None
        from notifier.delivery import Sender

        return Sender(
            db=self.db,
            telegram=telegram,
            renderer=self.renderer,
            tz=self.config.tz,
            link_host=self.config.link_host,
            excerpt_chars=self.config.excerpt_chars,
            clock=self.clock,
            rate=self.config.send_rate,
            concurrency=self.config.send_concurrency,
            rich=self.config.telegram.rich if self.config.telegram else False,
            backoff_base=self.config.send_retry_base,
            give_up_after=self.config.send_give_up_after,
        )


def ensure_default_directory(db_path: str) -> None:
    """A fresh clone has no `var/` yet; a directory the user names is never created on a guess."""
    if db_path == DEFAULT_DB:
        # Owner only: it holds the database, its -wal and -shm, and the backups written beside it.
        directory = Path(DEFAULT_DB).parent
        directory.mkdir(mode=0o700, exist_ok=True)
        with contextlib.suppress(OSError):
            if directory.stat().st_mode & 0o077:
                directory.chmod(0o700)


@asynccontextmanager
async def open_app(
    settings: Settings, *, db_path: str | None = None, create: bool = True
) -> AsyncIterator[App]:
    """The application over KEXUE_DB (or `db_path`); with `create=False` a missing file is an error."""
    config = Config.from_settings(settings, db_path=db_path)
    if not create and config.db_path != ":memory:" and not Path(config.db_path).exists():
        raise MissingDatabaseError(
            f"cannot open database {config.db_path}: it does not exist, so no posts are stored yet "
            "(run `kexue-notifier poll` or `kexue-notifier backfill` first)"
        )
    if create:
        try:
            ensure_default_directory(config.db_path)
        except OSError as exc:
            raise StorageError(f"cannot create {Path(DEFAULT_DB).parent}: {exc.strerror}") from exc
    async with AsyncExitStack() as stack:
        db = await open_database(config.db_path)
        stack.push_async_callback(db.close)
        yield App(config, db, settings.now, stack)


def config_from(settings: Settings, *, db_path: str | None = None) -> Config:
    """The plain values of `settings` (for callers that need them without opening the database)."""
    return Config.from_settings(settings, db_path=db_path)
