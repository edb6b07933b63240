"""`kexue-notifier run`: the scheduler that polls the blog and keeps the archive current.

The first poll runs at start; crawls (a wanted backfill, the reader-count refresh) run beside the polls in
their own job, so a crawl never delays or skips a poll. Every job catches its own failures: the loop goes on.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from notifier.bootstrap import App
from notifier.digests import enqueue_due_digests
from notifier.errors import EXPECTED_FAILURES
from notifier.mail.weekly import WeeklyMail
from web import WebServer, start_web

log = logging.getLogger(__name__)

MAINTENANCE_EVERY = timedelta(hours=6)
# A page every clone holds, for a first try without the network.
SAMPLE_SOURCE = "tests/fixtures/archive/feed.xml"
# The first maintenance run (a wanted backfill) starts right after the first poll has begun.
MAINTENANCE_FIRST_DELAY = timedelta(seconds=1)
# The weekly mail runs at its time and every few minutes besides: what is due comes from the ledger, so a
# service started after the send time sends that week's mail then, and temporary failures are retried.
WEEKLY_CHECK_EVERY = timedelta(minutes=10)
WEEKLY_FIRST_DELAY = timedelta(seconds=5)


class Jobs:
    """The jobs the scheduler runs; each catches its own failures and stops quietly when cancelled."""

    def __init__(self, app: App, *, on_new: Callable[[], None] | None = None) -> None:
        self.app = app
        # Called after a poll queued new posts (the sender's wake-up).
        self.on_new = on_new
        self._running: set[asyncio.Task[object]] = set()
        self._hinted = False

    async def _guarded(self, name: str, work: Callable[[], Awaitable[object]]) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        try:
            await work()
        except asyncio.CancelledError:
            # Stopping is normal: polls repeat and crawls resume from their checkpoints, so nothing is lost.
            log.info("%s interrupted by stop; it resumes at the next start", name)
        except EXPECTED_FAILURES as exc:
            # A locked or full database or an unreachable blog is an operating condition: one line.
            log.error("%s failed: %s: %s; it runs again on schedule", name, type(exc).__name__, exc)
        except Exception:
            log.exception("%s failed; it runs again on schedule", name)

    async def poll(self) -> None:
        """Poll every configured source once."""

        async def work() -> None:
            report = await self.app.services.blog.poll_once(respect_backoff=True)
            if report.new and self.on_new is not None:
                self.on_new()
            failed = report.sources and all(outcome.error for outcome in report.sources)
            if failed and not self._hinted and not await self.app.services.archive.post_count():
                # A newcomer offline sees why nothing happens, and what to try instead.
                self._hinted = True
                log.info(
                    "no source could be read and nothing is stored yet: offline? `make demo` runs the whole "
                    "service against local servers, or set KEXUE_SOURCES=%s to poll a saved page",
                    SAMPLE_SOURCE,
                )

        await self._guarded("poll", work)

    async def digests(self) -> None:
        """Queue the Telegram digests that fell due (computed from the database, so none is missed)."""
        await self._guarded(
            "digests", lambda: enqueue_due_digests(self.app.db, self.app.clock(), self.app.config.tz)
        )

    async def maintenance(self) -> None:
        """Finish a wanted or interrupted backfill, or refresh reader counts when due; forget the sign-up
        events no limit counts any more (so the table does not grow forever)."""
        await self._guarded("maintenance crawl", self.app.services.blog.maintain)
        await self._guarded("sign-up events", self.app.services.email.forget_old_events)

    async def weekly(self) -> None:
        """Send this week's email to every confirmed address that is due and has not had it."""
        job = WeeklyMail(
            db=self.app.db, config=self.app.config, renderer=self.app.renderer, clock=self.app.clock
        )
        await self._guarded("weekly mail", job.run)

    async def stop(self) -> None:
        """Cancel the jobs in flight and wait for them to end."""
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)


class _QuietSkips(logging.Filter):
    """A run skipped because the previous one is still going is normal here, not a warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "maximum number of running instances reached" not in message and "was missed by" not in message


def _schedule(scheduler: AsyncIOScheduler, jobs: Jobs, app: App, *, sending: bool) -> None:
    interval = app.config.poll_interval
    now = datetime.now(app.config.tz)
    scheduler.add_job(
        jobs.poll,
        "interval",
        seconds=interval,
        jitter=max(1, interval // 10),
        id="poll",
        max_instances=1,
        coalesce=True,
        next_run_time=now,
    )
    scheduler.add_job(
        jobs.maintenance,
        "interval",
        seconds=MAINTENANCE_EVERY.total_seconds(),
        id="maintenance",
        max_instances=1,
        coalesce=True,
        next_run_time=now + MAINTENANCE_FIRST_DELAY,
    )
    if sending:
        scheduler.add_job(
            jobs.digests,
            "interval",
            minutes=1,
            id="digests",
            max_instances=1,
            coalesce=True,
            next_run_time=now,
        )


def _schedule_weekly(scheduler: AsyncIOScheduler, jobs: Jobs, app: App) -> None:
    """The weekly email's jobs, when there is an SMTP server to send through."""
    mail = app.config.mail
    if not mail.enabled:
        log.info("email is off: SMTP_HOST is not set, so no weekly mail is sent (the web app still runs)")
        return
    # Day names, not numbers: APScheduler 3 counts Monday as 0, unlike cron.
    scheduler.add_job(
        jobs.weekly,
        "cron",
        day_of_week=mail.weekly_day,
        hour=mail.weekly_time.hour,
        minute=mail.weekly_time.minute,
        timezone=app.config.tz,
        id="weekly",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        jobs.weekly,
        "interval",
        seconds=WEEKLY_CHECK_EVERY.total_seconds(),
        id="weekly-catch-up",
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(app.config.tz) + WEEKLY_FIRST_DELAY,
    )
    if mail.smtp_user and mail.smtp_security == "none":
        log.warning(
            "SMTP_USER's password will cross a plaintext connection to %s (SMTP_SECURITY=none): "
            "anyone on the way can read it; use starttls or tls",
            mail.smtp_host,
        )
    log.info(
        "weekly email on %s at %s %s through %s",
        mail.weekly_day,
        mail.weekly_time.strftime("%H:%M"),
        app.config.tz.key,
        mail.smtp_host,
    )


async def start_web_app(app: App) -> WebServer | None:
    """The web app on WEB_HOST:WEB_PORT, or None (logged) when it cannot listen there: polling goes on."""
    mail = app.config.mail
    try:
        server = await start_web(app.services, app.renderer, host=mail.web_host, port=mail.web_port)
    except OSError as exc:
        log.error(
            "web app not started: cannot listen on %s:%d: %s", mail.web_host, mail.web_port, exc.strerror
        )
        return None
    log.info("web app listening on %s (linked as %s)", server.url, mail.public_base_url)
    return server


async def serve(app: App) -> None:
    """Run until SIGINT or SIGTERM, then stop cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    quiet = _QuietSkips()
    for name in ("apscheduler.scheduler", "apscheduler.executors.default"):
        logging.getLogger(name).addFilter(quiet)
    if await app.services.blog.want_backfill_if_empty():
        log.info("store %s is empty: the whole archive is read in the background", app.config.db_path)
    sender = app.sender
    if sender is None:
        log.warning("TELEGRAM_BOT_TOKEN is not set: the bot and sending are off; polling and the archive run")
    jobs = Jobs(app, on_new=None if sender is None else sender.wake)
    scheduler = AsyncIOScheduler(timezone=app.config.tz)
    _schedule(scheduler, jobs, app, sending=sender is not None)
    _schedule_weekly(scheduler, jobs, app)
    web_server = await start_web_app(app)
    scheduler.start()
    sending = None if sender is None else asyncio.create_task(sender.run(), name="sender")
    # Confirmation mails queued by sign-ups: sent after the answer, retried while SMTP is down.
    confirming = None
    if app.config.mail.enabled:
        confirming = asyncio.create_task(app.services.confirmations.run(), name="confirmation-mails")
    count = len(app.config.sources)
    log.info(
        "running: db %s, %d source%s, polling every %d s; stop with Ctrl-C",
        app.config.db_path,
        count,
        "" if count == 1 else "s",
        app.config.poll_interval,
    )
    bot = None
    try:
        # Without a token the warning above said it once: the bot is off.
        if app.config.telegram is not None:
            # Imported only with a token: aiogram's models take seconds to load, for nothing without a bot.
            from bot.app import start_bot

            bot = await start_bot(app)
        await stop.wait()
    finally:
        scheduler.shutdown(wait=False)
        await jobs.stop()
        if web_server is not None:
            await web_server.stop()
        if bot is not None:
            await bot.stop()
        for task in (sending, confirming):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        log.info("stopped")
