"""The bot's plain settings, resolved once at the composition root (the token kept out of every repr)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from notifier.settings import Settings


@dataclass(frozen=True, slots=True)
class BotConfig:
    """What the bot needs: its token, the Bot API base URL, admins, channel, webhook and rich messages."""

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
    def from_settings(cls, settings: Settings) -> BotConfig | None:
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
