"""What Telegram answered when a call failed, in plain data: the core decides on it without aiogram."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)

from notifier.errors import NotifierError

FailureKind = Literal[
    "retry_after",
    "migrated",
    "blocked",
    "chat_not_found",
    "bad_request",
    "server_error",
    "network",
    "api_error",
]


class TelegramError(NotifierError):
    """Root of the Telegram adapter's errors."""


class InvalidToken(TelegramError, ValueError):
    """TELEGRAM_BOT_TOKEN is not shaped like a bot token (digits, a colon, then letters)."""


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed call: its kind, Telegram's words (token redacted), and the wait or new chat it named."""

    kind: FailureKind
    message: str
    retry_after: float = 0.0
    migrate_to: int | None = None


class TelegramFailed(TelegramError):
    """A call Telegram (or the way to it) refused; `failure` says how."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(f"{failure.kind}: {failure.message}")
        self.failure = failure


def redact(text: str, token: str | None) -> str:
    """`text` with the bot token replaced: aiogram puts it in URLs, which some errors repeat."""
    if token:
        text = text.replace(token, "<token>")
    return text


def classify(exc: BaseException, token: str | None = None) -> Failure:
    """The plain `Failure` of an exception met while calling the Bot API."""
    if isinstance(exc, TelegramRetryAfter):
        return Failure("retry_after", exc.message, retry_after=float(exc.retry_after))
    if isinstance(exc, TelegramMigrateToChat):
        return Failure("migrated", exc.message, migrate_to=exc.migrate_to_chat_id)
    if isinstance(exc, TelegramForbiddenError):
        return Failure("blocked", exc.message)
    if isinstance(exc, TelegramBadRequest):
        if "chat not found" in exc.message.lower():
            return Failure("chat_not_found", exc.message)
        return Failure("bad_request", exc.message)
    text = f"{type(exc).__name__}: {redact(str(exc), token)}"
    if isinstance(exc, TelegramServerError | ClientDecodeError):
        return Failure("server_error", text)
    if isinstance(exc, TelegramNetworkError | OSError | TimeoutError):
        return Failure("network", text)
    if isinstance(exc, TelegramAPIError):
        return Failure("api_error", text)
    return Failure("api_error", text)


# What a call to the Bot API may raise that `classify` understands.
CALL_ERRORS: tuple[type[BaseException], ...] = (TelegramAPIError, ClientDecodeError, OSError, TimeoutError)


class RedactToken(logging.Filter):
    """Replaces the bot token in any log record: it must never reach a log."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message when it holds the token (records are always kept)."""
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "<token>"), None
        return True


def log_targets() -> list[logging.Filterer]:
    """Where a token could be logged: aiogram's loggers (it logs request URLs) and the root's handlers."""
    names = ("aiogram", "aiogram.dispatcher", "aiogram.event", "aiogram.middlewares", "aiogram.webhook")
    return [*(logging.getLogger(name) for name in names), *logging.getLogger().handlers]
