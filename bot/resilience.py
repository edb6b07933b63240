"""The bot's calls that must outlast any answer of the Bot API: retried with backoff, logged once a minute.

Start-up (getMe, the command menu, deleteWebhook before long polling) fails in more ways than Telegram's own
errors: a proxy's HTML page where JSON belongs (aiogram's ClientDecodeError), a redirect loop or a reset
connection (TelegramNetworkError), a 5xx. Each is a failure like the network being down: retried with a
doubling delay, one log line a minute however often it happens. Only a refused token (401) is final.
aiogram's own long-polling loop already retries every failure, but logs two lines each time; those are held
to one a minute as well.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiogram.exceptions import AiogramError, TelegramUnauthorizedError
from aiohttp import ClientError

from notifier.logs import Throttle

log = logging.getLogger(__name__)

T = TypeVar("T")
# First and longest wait between attempts, in seconds.
BACKOFF = (1.0, 60.0)
# What a failed Bot API call can raise besides aiogram's errors (an aiohttp error it did not wrap).
CALL_FAILURES: tuple[type[BaseException], ...] = (
    AiogramError,
    ClientError,
    OSError,
    TimeoutError,
    ValueError,
)
# Characters of an exception shown: a decode error carries the whole page it could not read.
REASON_CHARS = 200


def reason(exc: BaseException) -> str:
    """One short line saying what went wrong."""
    text = " ".join(str(exc).split())
    if len(text) > REASON_CHARS:
        text = text[:REASON_CHARS] + "…"
    return f"{type(exc).__name__}: {text}"


async def until_done(
    call: Callable[[], Awaitable[T]],
    what: str,
    *,
    backoff: tuple[float, float] = BACKOFF,
    throttle: Throttle | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """`call()` until it succeeds, whatever the Bot API answers; TelegramUnauthorizedError passes through."""
    throttle = throttle or Throttle()
    delay = backoff[0]
    while True:
        try:
            return await call()
        except TelegramUnauthorizedError:
            raise
        except CALL_FAILURES as exc:
            held = throttle.admit(what)
            if held is not None:
                more = f" ({held} more failures in the last minute)" if held else ""
                log.warning("bot: %s failed (%s); retrying in %.0f s%s", what, reason(exc), delay, more)
        await sleep(delay)
        delay = min(delay * 2, backoff[1])


class PollingFailures(logging.Filter):
    """Holds aiogram's "Failed to fetch updates" and "Sleep for … seconds" lines to one each a minute."""

    PREFIXES = ("Failed to fetch updates", "Sleep for ")

    def __init__(self, throttle: Throttle | None = None) -> None:
        super().__init__()
        self.throttle = throttle or Throttle()

    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(record.msg, str) or not record.msg.startswith(self.PREFIXES):
            return True
        held = self.throttle.admit(record.msg[:12])
        if held is None:
            return False
        if held:
            record.msg = f"{record.msg} ({held} more like it in the last minute)"
        if isinstance(record.args, tuple):
            # The exception's text may be a whole HTML page.
            record.args = tuple(
                arg[:REASON_CHARS] + "…" if isinstance(arg, str) and len(arg) > REASON_CHARS else arg
                for arg in record.args
            )
        return True


def hold_polling_failures() -> None:
    """Put PollingFailures on aiogram's dispatcher logger once."""
    target = logging.getLogger("aiogram.dispatcher")
    if not any(isinstance(f, PollingFailures) for f in target.filters):
        target.addFilter(PollingFailures())
