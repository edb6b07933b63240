"""/stats for ADMIN_IDS only; anyone else gets the answer to an unknown command."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from archive.fetch import redact_url
from bot.views import Views
from notifier.config import TelegramConfig
from notifier.logs import Scrubber
from notifier.services import Services

ERROR_CHARS = 120
# Query keys whose values are secrets (an API key, a token), as the logs read them.
SECRET_KEYS = re.compile(r"token|passw|secret|key|sig|auth", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class FailingView:
    """A failing source as the statistics list it."""

    url: str
    failures: int
    error: str


@dataclass(frozen=True, slots=True)
class StatsView:
    """The figures as the message shows them (times in TIME_ZONE)."""

    instant: int
    daily: int
    weekly: int
    inactive: int
    last_poll: str | None
    last_poll_ok: bool
    failing: tuple[FailingView, ...]
    outbox: int
    sent_today: int
    failed_today: int


async def stats(
    message: Message, services: Services, views: Views, lang: str, config: TelegramConfig
) -> None:
    """The admin's figures."""
    if message.from_user is None or message.from_user.id not in config.admin_ids:
        await message.answer(views.render(lang, "unknown_command"))
        return
    figures = await services.admin.stats()
    tz = services.config.tz
    poll = figures.last_poll
    when = None
    if poll is not None:
        when = (poll.finished_at or poll.started_at).astimezone(tz).strftime("%Y-%m-%d %H:%M")
    view = StatsView(
        instant=figures.subscribers.active["instant"],
        daily=figures.subscribers.active["daily"],
        weekly=figures.subscribers.active["weekly"],
        inactive=figures.subscribers.inactive,
        last_poll=when,
        last_poll_ok=poll is not None and poll.ok,
        # Redacted as the logs, alerts and /metrics are: a source URL may carry a password or an API key.
        failing=tuple(
            FailingView(redact_url(s.url), s.failures, _redacted_error(s.url, s.last_error)[:ERROR_CHARS])
            for s in figures.failing_sources
        ),
        outbox=figures.outbox,
        sent_today=figures.sent_today,
        failed_today=figures.failed_today,
    )
    await message.answer(views.render(lang, "stats", view))


def _redacted_error(url: str, error: str | None) -> str:
    """A source's last error without the secrets of its URL, or anything else shaped like a secret."""
    text = (error or "").replace(url, redact_url(url))
    try:
        parts = urlsplit(url)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        secrets = [parts.password, *(value for key, value in pairs if SECRET_KEYS.search(key))]
    except ValueError:
        secrets = []
    return Scrubber(secrets)(text)


def make_router() -> Router:
    """A fresh router with this module's handlers (a router belongs to one dispatcher)."""
    router = Router(name="admin")
    router.message.register(stats, Command("stats"))
    return router
