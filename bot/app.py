"""The bot assembled: the aiogram Bot, the dispatcher with every router and middleware, and how it runs.

Long polling by default (`BotRunner.start_polling`, the seam a lease can wrap so only one process polls);
webhook mode when WEBHOOK_URL is set: an aiohttp server on WEBHOOK_HOST:WEBHOOK_PORT checks Telegram's
secret token on every request. Long-lived objects reach handlers as dispatcher keyword data: `db`,
`services`, `views`, `renderer`, `translations`, `config`, `searches`, `rich`, `choices`, `formulas`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError, TelegramUnauthorizedError
from aiogram.types import BotCommand, BotCommandScopeDefault, ErrorEvent, User
from aiohttp import web

from bot import (
    BotError,
    admin,
    email,
    fallback,
    forget,
    formulas,
    help,
    inline,
    latest,
    membership,
    pause,
    search,
    series,
    settings,
    start,
    subscribe,
    watch,
    zones,
)
from bot.callbacks import SearchMemory
from bot.common import commands
from bot.middlewares import AdminOnly, FloodControl, GroupAdmins, LanguageMiddleware
from bot.ordering import ChatOrder
from bot.resilience import hold_polling_failures, until_done
from bot.views import Views
from bot.webhook import WebhookHandler, server_log
from notifier import telegram
from notifier.bootstrap import App
from notifier.config import TelegramConfig
from notifier.errors import EXPECTED_FAILURES
from notifier.leasing import LeaseKeeper
from notifier.listening import GuardedRunner, Limits
from notifier.services.choices import Choices
from notifier.services.formulas import FormulaChoice
from notifier.telegram import make_bot

log = logging.getLogger(__name__)

# The failures of our own parts that an update can meet: one log line, no trace.
EXPECTED = (*EXPECTED_FAILURES, BotError, TelegramAPIError)
RETRY_START = (1.0, 60.0)


def _adapter(app: App, config: TelegramConfig, formulas: FormulaChoice) -> telegram.Telegram:
    """The application's Telegram adapter (its Bot unused when the runner was handed another one)."""
    adapter = app.telegram
    if adapter is None:
        adapter = telegram.Telegram(None, rich=config.rich, refusals=telegram.DbRefusals(app.db))
    if adapter.formulas is None:
        adapter.formulas = formulas
    return adapter


async def on_error(event: ErrorEvent, bot: Bot, views: Views, lang: str = "zh") -> bool:
    """Log the failure with its update id and give the user a short apology, never a trace."""
    update, exc = event.update, event.exception
    chat = update.message.chat.id if update.message is not None else None
    if isinstance(exc, telegram.StaleReply):
        return True  # the budget said so in one line; an apology would be as stale
    if isinstance(exc, EXPECTED):
        log.error("update %d (chat %s): %s: %s", update.update_id, chat, type(exc).__name__, exc)
    else:
        log.error("update %d (chat %s) failed", update.update_id, chat, exc_info=exc)
    apology = views.render(lang, "apology")
    with contextlib.suppress(TelegramAPIError, telegram.StaleReply):
        if update.callback_query is not None:
            await bot.answer_callback_query(update.callback_query.id, apology[:200])
        elif chat is not None:
            await bot.send_message(chat, apology)
    return True


def build_dispatcher(
    app: App,
    config: TelegramConfig,
    *,
    flood_limit: int = 20,
    flood_span: float = 10.0,
    admin_ttl: float = 60.0,
    views: Views | None = None,
) -> Dispatcher:
    """The dispatcher: every router, its middlewares (language, flood, group admins), errors, the data.

    `admin_ttl`: how long a group member's getChatMember answer is remembered.
    """
    views = views or Views(app.renderer)
    choice = FormulaChoice(app.db, app.clock)
    dp = Dispatcher(
        disable_fsm=True,
        name="kexue",
        db=app.db,
        services=app.services,
        views=views,
        renderer=app.renderer,
        translations=app.renderer.translations,
        config=config,
        searches=SearchMemory(),
        rich=_adapter(app, config, choice),
        choices=Choices(db=app.db, clock=app.clock, config=app.config),
        formulas=choice,
    )
    # First: a chat's updates in order (the flood notice included), each noting when it arrived.
    dp.update.outer_middleware(ChatOrder())
    dp.update.outer_middleware(LanguageMiddleware(app.services, views))
    dp.update.outer_middleware(FloodControl(views, limit=flood_limit, span=flood_span))
    # Inner: it needs the handler's flags, and runs for every router's handlers below the dispatcher.
    admin_only = AdminOnly(views, GroupAdmins(ttl=admin_ttl))
    dp.message.middleware(admin_only)
    dp.callback_query.middleware(admin_only)
    dp.errors.register(on_error)
    dp.include_routers(
        start.make_router(),
        help.make_router(),
        latest.make_router(),
        search.make_router(),
        series.make_router(),
        subscribe.make_router(),
        settings.make_router(),
        formulas.make_router(),
        email.make_router(),
        forget.make_router(),
        watch.make_router(),
        pause.make_router(),
        zones.make_router(),
        inline.make_router(),
        admin.make_router(),
        membership.make_router(),
        fallback.make_router(),
    )
    return dp


async def set_commands(bot: Bot, views: Views) -> None:
    """The command menu in every catalog language, and the Chinese one for any other language."""
    for lang in views.languages:
        listed = [BotCommand(command=c, description=d) for c, d in commands(views.translations, lang)]
        await bot.set_my_commands(listed, scope=BotCommandScopeDefault(), language_code=lang)
    default = "zh" if "zh" in views.languages else views.languages[0]
    listed = [BotCommand(command=c, description=d) for c, d in commands(views.translations, default)]
    await bot.set_my_commands(listed, scope=BotCommandScopeDefault())


def _log_end(task: asyncio.Task[None]) -> None:
    """A bot task that ended on its own with an error says so (a cancelled one is a normal stop)."""
    if not task.cancelled() and task.exception() is not None:
        log.error("bot: %s ended: %s", task.get_name(), task.exception(), exc_info=task.exception())


# Only the process holding this lease long-polls Telegram for updates.
UPDATES_LEASE = "telegram-updates"


class BotRunner:
    """Runs the bot beside the scheduler: polling (or a webhook server) as a task, stopped cleanly."""

    def __init__(
        self,
        app: App,
        config: TelegramConfig,
        *,
        bot: Bot | None = None,
        dp: Dispatcher | None = None,
        lease_ttl: float = 15.0,
    ) -> None:
        self.app = app
        self.lease_ttl = lease_ttl
        self.config = config
        # The application's one Bot (session and budget shared with the sender), unless a test brings one.
        if bot is None and app.telegram is not None:
            bot = app.telegram.bot
        self.bot = bot or make_bot(config)
        self.dp = dp or build_dispatcher(app, config)
        self._task: asyncio.Task[None] | None = None
        self._web: web.AppRunner | None = None
        self.webhook: WebhookHandler | None = None  # the webhook's request handler, once it is served
        self._redact = telegram.RedactToken(config.token)
        hold_polling_failures()
        for target in telegram.log_targets():
            target.addFilter(self._redact)

    @property
    def views(self) -> Views:
        """The views the dispatcher's handlers use."""
        views: Views = self.dp["views"]
        return views

    async def _prepare(self) -> bool:
        """getMe and the command menu, retried whatever Telegram answers; False: token refused."""
        try:
            me = await until_done(self._hello, "getMe and the command menu", backoff=RETRY_START)
        except TelegramUnauthorizedError:
            log.error("bot: Telegram refused the token (401); the bot is off, everything else runs")
            return False
        log.info("bot: @%s (id %d) ready", me.username, me.id)
        return True

    async def _hello(self) -> User:
        me = await self.bot.get_me()
        await set_commands(self.bot, self.views)
        return me

    def start_polling(self, **kwargs: Any) -> asyncio.Task[None]:
        """Long polling as a task, while this process holds the updates lease.

        Two long polls with one token get 409 Conflict from Telegram: the lease in the database lets one
        process of several on the same database poll, and another take over when it stops renewing.
        """

        async def poll() -> None:
            if not await self._prepare():
                return
            await until_done(
                lambda: self.bot.delete_webhook(drop_pending_updates=False),
                "deleteWebhook",
                backoff=RETRY_START,
            )
            keeper = LeaseKeeper(self.app.db, UPDATES_LEASE, ttl=self.lease_ttl)
            keeping = asyncio.create_task(keeper.run(), name="bot-updates-lease")
            try:
                await self._poll_while_leased(keeper, **kwargs)
            finally:
                keeping.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeping
                await keeper.release()

        self._task = asyncio.create_task(poll(), name="bot-polling")
        self._task.add_done_callback(_log_end)
        return self._task

    async def _poll_while_leased(self, keeper: LeaseKeeper, **kwargs: Any) -> None:
        await keeper.tried.wait()
        while True:
            if not keeper.held.is_set():
                log.info("bot: another process polls Telegram for updates; this one waits for the lease")
                await keeper.held.wait()
            log.info("bot: long polling %s", self.config.api_base)
            polling = asyncio.create_task(
                self.dp.start_polling(
                    self.bot,
                    handle_signals=False,
                    close_bot_session=False,
                    allowed_updates=self.dp.resolve_used_update_types(),
                    **kwargs,
                ),
                name="bot-long-poll",
            )
            lost = asyncio.create_task(keeper.lost.wait(), name="bot-lease-lost")
            try:
                done, _ = await asyncio.wait({polling, lost}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                # Stopped while waiting (a cancel): neither task may outlive this one.
                lost.cancel()
                if not polling.done() and not lost.done():
                    polling.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await polling
            if polling in done:
                await polling
                return
            log.warning("bot: updates lease lost; long polling stops until it is taken again")
            with contextlib.suppress(RuntimeError):
                await self.dp.stop_polling()
            with contextlib.suppress(Exception):
                await polling

    async def start_webhook(self) -> None:
        """Serve the webhook on WEBHOOK_HOST:WEBHOOK_PORT and register WEBHOOK_URL with its secret token."""
        url = self.config.webhook_url
        if url is None:
            raise BotError("webhook mode needs WEBHOOK_URL")
        secret = self.config.webhook_secret or secrets.token_urlsafe(32)
        application = web.Application()
        self.webhook = WebhookHandler(self.dp, self.bot, secret)
        self.webhook.register(application, path=self.config.webhook_path)
        # Read deadlines and a connection cap: a slow client cannot hold the webhook's listener.
        limits = Limits("webhook", read_timeout=self.config.read_timeout)
        runner = GuardedRunner(application, limits, access_log=None, logger=server_log)
        await runner.setup()
        await web.TCPSite(runner, self.config.webhook_host, self.config.webhook_port).start()
        self._web = runner
        log.info("bot: webhook server on %s:%d", self.config.webhook_host, self.config.webhook_port)

        async def register() -> None:
            if not await self._prepare():
                return
            await self.dp.emit_startup(bot=self.bot, **self.dp.workflow_data)
            updates = self.dp.resolve_used_update_types()
            await until_done(
                lambda: self.bot.set_webhook(url, secret_token=secret, allowed_updates=updates),
                "setWebhook",
                backoff=RETRY_START,
            )
            log.info("bot: webhook registered")

        self._task = asyncio.create_task(register(), name="bot-webhook")
        self._task.add_done_callback(_log_end)

    async def start(self) -> None:
        """Polling, or the webhook server when WEBHOOK_URL is set."""
        if self.config.webhook_url:
            await self.start_webhook()
        else:
            self.start_polling()

    async def stop(self) -> None:
        """Stop polling (or the webhook server) and close the HTTP session."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._web is not None:
            await self._web.cleanup()
        await self.bot.session.close()
        for target in telegram.log_targets():
            target.removeFilter(self._redact)
        log.info("bot: stopped")


async def start_bot(app: App) -> BotRunner | None:
    """The bot for `run`, started; None (and one plain log line) when no TELEGRAM_BOT_TOKEN is set."""
    config = app.config.telegram
    if config is None:
        log.info("bot: off (no TELEGRAM_BOT_TOKEN); polling and everything else run without it")
        return None
    runner = BotRunner(app, config)
    await runner.start()
    return runner
