"""The core's one road to Telegram: the only code in notifier/ that imports aiogram (import it lazily: the
aiogram models take seconds to load, for nothing without a bot).

`make_bot` builds the one Bot; `Telegram` sends (rich or HTML, refusals remembered); `Budget` paces every
call that sends; failures leave as plain `Failure` data in `TelegramFailed`.
"""

from notifier.telegram.budget import Budget, StaleReply, answering_since, bulk
from notifier.telegram.client import (
    BotUnauthorized,
    BotUnreachable,
    DbRefusals,
    Telegram,
    make_bot,
    markup_of,
    who_am_i,
)
from notifier.telegram.failures import (
    Failure,
    FailureKind,
    InvalidToken,
    RedactToken,
    TelegramError,
    TelegramFailed,
    classify,
    log_targets,
    redact,
)
from notifier.telegram.rich import Button, Keyboard, RefusalMemory, RichMessage

__all__ = [
    "BotUnauthorized",
    "BotUnreachable",
    "Budget",
    "Button",
    "DbRefusals",
    "Failure",
    "FailureKind",
    "InvalidToken",
    "Keyboard",
    "RedactToken",
    "RefusalMemory",
    "RichMessage",
    "StaleReply",
    "Telegram",
    "TelegramError",
    "TelegramFailed",
    "answering_since",
    "bulk",
    "classify",
    "log_targets",
    "make_bot",
    "markup_of",
    "redact",
    "who_am_i",
]
