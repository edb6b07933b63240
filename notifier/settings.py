"""The one settings object, read from the environment and `.env` at the composition root only."""

from __future__ import annotations

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
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    # text: one readable line per event; json: one JSON object per line (for a log collector).
    log_format: LogFormat = Field(default="text", alias="LOG_FORMAT")
    excerpt_chars: int = Field(default=200, ge=20, le=4000, alias="EXCERPT_CHARS")
    telegram_bot_token: SecretStr | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_api_base: str = Field(default=DEFAULT_TELEGRAM_API, alias="TELEGRAM_API_BASE")
    channel_id: str | None = Field(default=None, alias="CHANNEL_ID")
    # Telegram allows about 30 a second; 25 leaves room for the bot's replies to commands.
    send_rate: float = Field(default=25.0, gt=0, le=100_000, allow_inf_nan=False, alias="SEND_RATE")
    send_concurrency: int = Field(default=8, ge=1, le=1000, alias="SEND_CONCURRENCY")
    telegram_rich: bool = Field(default=True, alias="TELEGRAM_RICH")
    # Operations (issue 12): who hears of a failing source, and after how many failures in a row. ADMIN_IDS is
    # the bot's setting too (issue 9); both spell it the same way: comma-separated Telegram user ids.
    admin_ids: Annotated[list[int], NoDecode] = Field(default=[], alias="ADMIN_IDS")
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
            ids = [part.strip() for part in value.split(",") if part.strip()]
            bad = [part for part in ids if not part.lstrip("-").isdigit() or len(part) > 20]
            if bad:
                raise ValueError(
                    f"{bad[0]!r} is not a Telegram user id (ADMIN_IDS is comma-separated numbers)"
                )
            return [int(part) for part in ids]
        return value

    @field_validator("kexue_sources")
    @classmethod
    def _require_sources(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("KEXUE_SOURCES names no source")
        return value

    @field_validator("telegram_api_base")
    @classmethod
    def _api_base(cls, value: str) -> str:
        base = value.strip().rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL such as https://api.telegram.org")
        return base

    @field_validator("channel_id")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        channel = value.strip()
        if not (channel.startswith("@") or channel.lstrip("-").isdigit()):
            raise ValueError(f"{value!r} is neither a chat id such as -1001234567890 nor @channelname")
        return channel

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
