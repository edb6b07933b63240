"""The settings' plain values, resolved once at the composition root and handed to everyone else."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from archive.site import site_root

if TYPE_CHECKING:
    from notifier.settings import Settings

Clock = Callable[[], datetime]
LIVE_SITE = "https://kexue.fm"


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    """Telegram's part: the bot token (kept out of every repr), the Bot API base URL, admins, channel, the
    webhook and rich messages. Config holds None when no TELEGRAM_BOT_TOKEN is set: bot and sending off."""

    token: str = field(repr=False)
    api_base: str
    admin_ids: frozenset[int] = frozenset()
    channel_id: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    webhook_host: str = "127.0.0.1"
    webhook_port: int = 8443
    rich: bool = True
    # WEB_READ_TIMEOUT: a request to the webhook must arrive whole within this many seconds.
    read_timeout: float = 20.0

    @property
    def webhook_path(self) -> str:
        """The path the webhook server answers on: the path of WEBHOOK_URL (`/` when it has none)."""
        return urlsplit(self.webhook_url or "").path or "/"

    @classmethod
    def from_settings(cls, settings: Settings) -> TelegramConfig | None:
        """The bot's configuration, or None when no TELEGRAM_BOT_TOKEN is set (the bot is off)."""
        token = settings.telegram_bot_token
        if token is None or not token.get_secret_value().strip():
            return None
        secret = settings.webhook_secret
        return cls(
            token=token.get_secret_value().strip(),
            api_base=settings.telegram_api_base,
            admin_ids=frozenset(settings.admin_ids),
            channel_id=settings.channel_id,
            webhook_url=settings.webhook_url,
            webhook_secret=None if secret is None else secret.get_secret_value(),
            webhook_host=settings.webhook_host,
            webhook_port=settings.webhook_port,
            rich=settings.telegram_rich,
            read_timeout=settings.web_read_timeout,
        )


@dataclass(frozen=True, slots=True)
class MailConfig:
    """The weekly email's settings: the SMTP server (None: email is off), the schedule and the web app."""

    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_security: str = "starttls"
    mail_from: str = "Scientific Spaces <kexue-notifier@localhost>"
    mail_rate: float = 5.0
    weekly_day: str = "mon"
    weekly_time: time = time(8, 0)
    send_empty_weeks: bool = False
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    public_base_url: str = "http://127.0.0.1:8080"
    secret_key: str | None = field(default=None, repr=False)
    read_timeout: float = 20.0
    max_connections: int = 512
    metrics_token: str | None = field(default=None, repr=False)
    signups_per_day_total: int = 1000
    retry_interval: float = 60.0

    @property
    def enabled(self) -> bool:
        """Whether mail can be sent at all (SMTP_HOST is set)."""
        return bool(self.smtp_host)

    @classmethod
    def from_settings(cls, settings: Settings) -> MailConfig:
        """The email settings' plain values."""
        hour, minute = settings.weekly_time.split(":")
        return cls(
            smtp_host=settings.smtp_host or None,
            smtp_port=settings.smtp_port,
            smtp_user=settings.smtp_user,
            smtp_password=None
            if settings.smtp_password is None
            else settings.smtp_password.get_secret_value(),
            smtp_security=settings.smtp_security,
            mail_from=settings.mail_from,
            mail_rate=settings.mail_rate,
            weekly_day=settings.weekly_day,
            weekly_time=time(int(hour), int(minute)),
            send_empty_weeks=settings.send_empty_weeks,
            web_host=settings.web_host,
            web_port=settings.web_port,
            trusted_proxies=tuple(settings.web_trusted_proxies),
            public_base_url=settings.public_base_url,
            secret_key=None
            if settings.secret_key is None
            else settings.secret_key.get_secret_value() or None,
            read_timeout=settings.web_read_timeout,
            signups_per_day_total=settings.signups_per_day_total,
            retry_interval=settings.mail_retry_interval,
            max_connections=settings.web_max_connections,
            metrics_token=None
            if settings.metrics_token is None
            else settings.metrics_token.get_secret_value() or None,
        )


@dataclass(frozen=True, slots=True)
class Config:
    """The settings' plain values, resolved once."""

    db_path: str
    sources: tuple[str, ...]
    tz: ZoneInfo
    link_host: str
    poll_interval: int
    notify_max_age_days: int
    readers_refresh_days: int
    crawl_delay: float
    excerpt_chars: int
    fetch_timeout: float = 20.0
    channel_id: str | None = None
    send_rate: float = 25.0
    send_concurrency: int = 8
    telegram_rate: float = 30.0
    send_retry_base: float = 2.0
    send_give_up_after: float = 6 * 3600.0
    telegram: TelegramConfig | None = None
    mail: MailConfig = MailConfig()
    admin_ids: tuple[int, ...] = ()
    alert_after: int = 3

    @property
    def crawl_root(self) -> str | None:
        """The site the crawls read: the host of the first URL among the sources, the live site when none is
        configured, None when every source is a local file (nothing to crawl: an offline try-out)."""
        for source in self.sources:
            root = site_root(source)
            if root is not None:
                return root
        return None if self.sources else LIVE_SITE

    @classmethod
    def from_settings(cls, settings: Settings, *, db_path: str | None = None) -> Config:
        """The plain values of `settings`; `db_path` overrides KEXUE_DB (the command line's `--db`)."""
        return cls(
            db_path=db_path or settings.kexue_db,
            sources=tuple(settings.kexue_sources),
            tz=settings.tz,
            link_host=settings.link_host,
            poll_interval=settings.poll_interval,
            notify_max_age_days=settings.notify_max_age_days,
            readers_refresh_days=settings.readers_refresh_days,
            crawl_delay=settings.crawl_delay,
            excerpt_chars=settings.excerpt_chars,
            fetch_timeout=settings.fetch_timeout,
            channel_id=settings.channel_id,
            send_rate=settings.send_rate,
            send_concurrency=settings.send_concurrency,
            telegram_rate=settings.telegram_rate,
            send_retry_base=settings.send_retry_base,
            send_give_up_after=settings.send_give_up_after,
            telegram=TelegramConfig.from_settings(settings),
            mail=MailConfig.from_settings(settings),
            admin_ids=tuple(settings.admin_ids),
            alert_after=settings.alert_after,
        )
