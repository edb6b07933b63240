"""The one settings object, read from the environment and `.env` at the composition root only."""

from __future__ import annotations

import ipaddress
import time
from datetime import datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from notifier.logs import LOG_FORMATS, LogFormat

DEFAULT_FEED = "https://kexue.fm/feed"
DEFAULT_DB = "var/kexue.sqlite3"
DEFAULT_TELEGRAM_API = "https://api.telegram.org"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# A century: beyond it a day count is a typo, and date arithmetic would leave the calendar.
MAX_DAYS = 36_500
# The blog began in 2009; a clock outside these years is a typo, and dates around it must stay computable.
CLOCK_YEARS = (2000, 2200)
# APScheduler 3 counts Monday as 0 in numbers but reads day names unambiguously: the weekly mail takes names.
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class Settings(BaseSettings):
    """Every knob of the service; names are the environment variables of `.env.example`."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    kexue_db: str = Field(default=DEFAULT_DB, alias="KEXUE_DB")
    # NoDecode: a comma-separated list, not the JSON that pydantic-settings expects for lists.
    kexue_sources: Annotated[list[str], NoDecode] = Field(default=[DEFAULT_FEED], alias="KEXUE_SOURCES")
    poll_interval: int = Field(default=900, ge=1, le=MAX_DAYS * 86_400, alias="POLL_INTERVAL")
    notify_max_age_days: int = Field(default=14, ge=0, le=MAX_DAYS, alias="NOTIFY_MAX_AGE_DAYS")
    time_zone: str = Field(default="Asia/Shanghai", alias="TIME_ZONE")
    link_host: Literal["kexue.fm", "spaces.ac.cn"] = Field(default="kexue.fm", alias="LINK_HOST")
    kexue_now: datetime | None = Field(default=None, alias="KEXUE_NOW")
    readers_refresh_days: int = Field(default=7, ge=0, le=MAX_DAYS, alias="READERS_REFRESH_DAYS")
    crawl_delay: float = Field(default=1.0, ge=0, le=3600, allow_inf_nan=False, alias="CRAWL_DELAY")
    # A blog slower than this is a failed poll (its backoff and alerts follow), not a poll that hangs.
    fetch_timeout: float = Field(default=20.0, gt=0, le=600, allow_inf_nan=False, alias="FETCH_TIMEOUT")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    # text: one readable line per event; json: one JSON object per line (for a log collector).
    log_format: LogFormat = Field(default="text", alias="LOG_FORMAT")
    excerpt_chars: int = Field(default=200, ge=20, le=4000, alias="EXCERPT_CHARS")
    # --- the Telegram bot (issue 9) ---
    telegram_bot_token: SecretStr | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_api_base: str = Field(default=DEFAULT_TELEGRAM_API, alias="TELEGRAM_API_BASE")
    admin_ids: Annotated[list[int], NoDecode] = Field(default=[], alias="ADMIN_IDS")
    channel_id: str | None = Field(default=None, alias="CHANNEL_ID")
    webhook_url: str | None = Field(default=None, alias="WEBHOOK_URL")
    webhook_secret: SecretStr | None = Field(default=None, alias="WEBHOOK_SECRET")
    webhook_host: str = Field(default="127.0.0.1", alias="WEBHOOK_HOST")
    webhook_port: int = Field(default=8443, ge=1, le=65535, alias="WEBHOOK_PORT")
    # Telegram allows about 30 a second; 25 leaves room for the bot's replies to commands.
    send_rate: float = Field(default=25.0, gt=0, le=100_000, allow_inf_nan=False, alias="SEND_RATE")
    send_concurrency: int = Field(default=8, ge=1, le=1000, alias="SEND_CONCURRENCY")
    # Every call that sends (replies and broadcasts together) stays within this many a second.
    telegram_rate: float = Field(default=30.0, gt=0, le=100_000, allow_inf_nan=False, alias="TELEGRAM_RATE")
    telegram_rich: bool = Field(default=True, alias="TELEGRAM_RICH")
    # A 5xx or network failure is retried with backoff (SEND_RETRY_BASE doubling, capped at 300 times it)
    # until the message is SEND_GIVE_UP_AFTER seconds old: an outage of hours loses nothing.
    send_retry_base: float = Field(default=2.0, gt=0, le=3600, allow_inf_nan=False, alias="SEND_RETRY_BASE")
    send_give_up_after: float = Field(
        default=6 * 3600.0, gt=0, le=30 * 86_400, allow_inf_nan=False, alias="SEND_GIVE_UP_AFTER"
    )
    # The weekly email (issue 11). Without SMTP_HOST no mail is sent; the web app still serves its pages.
    smtp_host: str | None = Field(default=None, alias="SMTP_HOST")
    smtp_port: int | None = Field(default=None, ge=1, le=65_535, alias="SMTP_PORT")
    smtp_user: str | None = Field(default=None, alias="SMTP_USER")
    smtp_password: SecretStr | None = Field(default=None, alias="SMTP_PASSWORD")
    smtp_security: Literal["starttls", "tls", "none"] = Field(default="starttls", alias="SMTP_SECURITY")
    mail_from: str = Field(default="Scientific Spaces <kexue-notifier@localhost>", alias="MAIL_FROM")
    mail_rate: float = Field(default=5.0, gt=0, le=1000, allow_inf_nan=False, alias="MAIL_RATE")
    # A confirmation mail the SMTP server could not take is tried again this many seconds later.
    mail_retry_interval: float = Field(
        default=60.0, ge=0.5, le=3600, allow_inf_nan=False, alias="MAIL_RETRY_INTERVAL"
    )
    weekly_day: Weekday = Field(default="mon", alias="WEEKLY_DAY")
    weekly_time: str = Field(default="08:00", alias="WEEKLY_TIME")
    send_empty_weeks: bool = Field(default=False, alias="SEND_EMPTY_WEEKS")
    web_host: str = Field(default="127.0.0.1", alias="WEB_HOST")
    web_port: int = Field(default=8080, ge=0, le=65_535, alias="WEB_PORT")
    # Proxies whose X-Forwarded-For names the client (the sign-up limit per IP): addresses or networks.
    web_trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default=["127.0.0.1", "::1"], alias="WEB_TRUSTED_PROXIES"
    )
    # A request must arrive whole (line, headers, then body) within this many seconds, or it is dropped.
    web_read_timeout: float = Field(default=20.0, gt=0, le=30, allow_inf_nan=False, alias="WEB_READ_TIMEOUT")
    # Open connections per listener (fewer when the process may open few files); the slowest go first.
    web_max_connections: int = Field(default=512, ge=8, le=100_000, alias="WEB_MAX_CONNECTIONS")
    # Sign-ups (web and bot together) accepted in any 24 hours, whoever asks: past it every one is refused.
    signups_per_day_total: int = Field(default=1000, ge=1, le=10_000_000, alias="SIGNUPS_PER_DAY_TOTAL")
    # /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; without it /metrics does not exist.
    metrics_token: SecretStr | None = Field(default=None, alias="METRICS_TOKEN")
    public_base_url: str = Field(default="http://127.0.0.1:8080", alias="PUBLIC_BASE_URL")
    secret_key: SecretStr | None = Field(default=None, alias="SECRET_KEY")
    # Operations (issue 12): after how many failures in a row of one source the admins (ADMIN_IDS) hear of it.
    alert_after: int = Field(default=3, ge=1, le=1000, alias="ALERT_AFTER")
    # When KEXUE_NOW was read: the replaced clock runs on from it, so a long-running service backs off and
    # retries as it would on the real clock instead of waiting forever for a frozen instant.
    _started: float = PrivateAttr(default_factory=time.monotonic)

    @field_validator("kexue_sources", mode="before")
    @classmethod
    def _split_sources(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_admins(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return [int(part) for part in value.replace(" ", "").split(",") if part]
            except ValueError:
                raise ValueError(f"{value!r} is not a comma-separated list of Telegram user ids") from None
        return value

    @field_validator("web_trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            # An empty variable means the default (env_ignore_empty), so trusting nobody is spelled `none`.
            if value.strip().lower() == "none":
                return []
            parts = [part for part in value.replace(" ", "").split(",") if part]
            for part in parts:
                try:
                    ipaddress.ip_network(part, strict=False)
                except ValueError:
                    raise ValueError(f"{part!r} is not an IP address or network (like 10.0.0.0/8)") from None
            return parts
        return value

    @field_validator("telegram_api_base")
    @classmethod
    def _api_base(cls, value: str) -> str:
        base = value.strip().rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) base URL such as https://api.telegram.org")
        return base

    @field_validator("webhook_url")
    @classmethod
    def _webhook_https(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError("WEBHOOK_URL must be an https:// URL (Telegram calls only those)")
        return value

    @field_validator("kexue_sources")
    @classmethod
    def _require_sources(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("KEXUE_SOURCES names no source")
        return value

    @field_validator("channel_id")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        channel = value.strip()
        if not (channel.startswith("@") or channel.lstrip("-").isdigit()):
            raise ValueError(f"{value!r} is neither a chat id such as -1001234567890 nor @channelname")
        return channel

    @field_validator("weekly_day", mode="before")
    @classmethod
    def _day_name(cls, value: object) -> object:
        return value.strip().lower()[:3] if isinstance(value, str) else value

    @field_validator("weekly_time")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        hour, _, minute = value.strip().partition(":")
        if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
            raise ValueError(f"{value!r} is not a time of day such as 08:00")
        return f"{int(hour):02d}:{int(minute):02d}"

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        url = value.strip().rstrip("/")
        if not url.startswith(("https://", "http://")) or "?" in url or "#" in url:
            raise ValueError(f"{value!r} is not an http(s) address such as https://mail.example.org")
        return url

    @field_validator("mail_from")
    @classmethod
    def _sender(cls, value: str) -> str:
        if "@" not in value or "\n" in value or "\r" in value:
            raise ValueError(f"{value!r} is not an address such as Name <digest@example.org>")
        return value.strip()

    @field_validator("kexue_now", mode="before")
    @classmethod
    def _iso_now(cls, value: object) -> object:
        # pydantic alone would also take a bare number as a Unix timestamp; the setting is an ISO time.
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(f"{value!r} is not an ISO time such as 2025-05-10T12:00:00+08:00") from None
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"{value!r} is not one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("log_format", mode="before")
    @classmethod
    def _log_format(cls, value: object) -> object:
        if isinstance(value, str):
            chosen = value.strip().lower()
            if chosen not in LOG_FORMATS:
                raise ValueError(f"{value!r} is neither text nor json")
            return chosen
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("kexue_now")
    @classmethod
    def _sensible_now(cls, value: datetime | None) -> datetime | None:
        if value is not None and not CLOCK_YEARS[0] <= value.year <= CLOCK_YEARS[1]:
            raise ValueError(f"{value.isoformat()} is outside the years {CLOCK_YEARS[0]} to {CLOCK_YEARS[1]}")
        return value

    @model_validator(mode="after")
    def _aware_now(self) -> Settings:
        # A naive KEXUE_NOW is wall time in TIME_ZONE, never the machine's zone.
        if self.kexue_now is not None and self.kexue_now.tzinfo is None:
            self.kexue_now = self.kexue_now.replace(tzinfo=self.tz)
        return self

    def now(self) -> datetime:
        """KEXUE_NOW plus the time elapsed since the settings were read, else the real clock; always aware."""
        if self.kexue_now is None:
            return datetime.now(self.tz)
        return self.kexue_now + timedelta(seconds=time.monotonic() - self._started)

    @property
    def tz(self) -> ZoneInfo:
        """TIME_ZONE as a ZoneInfo."""
        return ZoneInfo(self.time_zone)
