"""How the process logs: text or one JSON object per line, times in TIME_ZONE, and never a secret.

Every line passes through a `Scrubber` before it is written, whichever format: the secrets the settings
hold (the bot token, passwords) are replaced wherever they appear, and so is anything shaped like one (a
URL's password, a bot token in a Bot API URL, a secret-looking query value), so a library that puts a URL
in an exception cannot leak it through our log either.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
MASK = "***"

_PATTERNS = (
    # user:password@ in any URL: the user stays, the password goes.
    (re.compile(r"(://[^/\s:@]*):[^/\s@]+@"), r"\1:" + MASK + "@"),
    # A bot token (the Bot API puts it in its URLs: /bot<token>/method).
    (re.compile(r"(?<![0-9])\d{5,}:[A-Za-z0-9_-]{20,}"), "<token>"),
    # The signed token of a confirm, unsubscribe or preference link: whoever reads the log could use it.
    (re.compile(r"(/(?:confirm|unsubscribe|preferences)/)[A-Za-z0-9_=%-]{8,}"), r"\1" + MASK),
    # An email address (a reader's, quoted in an SMTP reply or an exception): its first letter and domain.
    (
        re.compile(r"(?<![\w.+-])([\w+-])[\w.+-]*@((?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,})\b"),
        r"\1" + MASK + r"@\2",
    ),
    # ?token=…, &password=…, api_key=… and the like.
    (
        re.compile(r"(\b[A-Za-z_]*(?:token|passw(?:or)?d|secret|key|signature)=)[^&\s\"']+", re.IGNORECASE),
        r"\1" + MASK,
    ),
)

# Our packages: only their lines follow LOG_LEVEL below INFO. A library's debug lines print what it was
# handed (aiosqlite every statement with its parameters: readers' addresses, the signing key), so they
# stay at INFO whatever LOG_LEVEL says.
OWN_PACKAGES = ("archive", "bot", "cli", "digest", "notifier", "storage", "web", "__main__")
# Loggers known to print SQL, parameters or request bodies at DEBUG, held at INFO by level too.
CHATTY_LIBRARIES = (
    "aiosqlite",
    "aiosmtplib",
    "asyncio",
    "multipart",
    "hpack",
    "urllib3",
    "charset_normalizer",
)

# A URL (or any word) this long is cut: whatever an attacker pads a request with stays out of the log.
LONG_WORD = 200
_LONG_WORD = re.compile(rf"\S{{{LONG_WORD + 1},}}")


def _cut(match: re.Match[str]) -> str:
    word = match.group(0)
    return f"{word[: LONG_WORD // 2]}…[{len(word)} chars]"


# What every LogRecord has; anything else on a record is context a caller passed with `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class Scrubber:
    """Replaces known secrets and secret-shaped text."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        # Longest first, so a secret containing another is replaced whole.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return _LONG_WORD.sub(_cut, text)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message`, the time in TIME_ZONE with its offset."""

    def __init__(self, tz: ZoneInfo, scrub: Scrubber) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.tz = tz
        self.scrub = scrub

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = datetime.fromtimestamp(record.created, self.tz)
        return moment.isoformat(sep=" ", timespec="milliseconds")

    def format(self, record: logging.LogRecord) -> str:
        return self.scrub(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (TIME_ZONE, with offset), level, logger, message, then any context."""

    def __init__(self, tz: ZoneInfo, scrub: Scrubber) -> None:
        super().__init__()
        self.tz = tz
        self.scrub = scrub

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, self.tz).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self.scrub(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = self._plain(value)
        if record.exc_info:
            entry["exception"] = self.scrub(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = self.scrub(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)

    def _plain(self, value: Any) -> Any:
        if isinstance(value, bool | int | float) or value is None:
            return value
        return self.scrub(value if isinstance(value, str) else str(value))


def own_logger(name: str) -> bool:
    """Whether the logger `name` belongs to this project (not to a library)."""
    return any(name == package or name.startswith(package + ".") for package in OWN_PACKAGES)


class LibraryDebugFilter(logging.Filter):
    """Drops the DEBUG lines of every logger but ours, whatever level a library sets itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.INFO or own_logger(record.name)


def hold_libraries_at_info() -> None:
    """Keep the loggers of CHATTY_LIBRARIES at INFO or above (one that is quieter stays quieter)."""
    for name in CHATTY_LIBRARIES:
        library = logging.getLogger(name)
        if library.level < logging.INFO:
            library.setLevel(logging.INFO)


def formatter(fmt: LogFormat, tz: ZoneInfo, secrets: Iterable[str | None] = ()) -> logging.Formatter:
    """The formatter of LOG_FORMAT, scrubbing `secrets` and anything shaped like a secret."""
    scrub = Scrubber(secrets)
    return JsonFormatter(tz, scrub) if fmt == "json" else TextFormatter(tz, scrub)


class Throttle:
    """One log line per key and interval (a minute by default); what it held back is counted, not lost.

    `admit(key)` is None while the key is held back, else how many lines were held back since the last one
    (0 the first time): a flood of one failure becomes a line a minute that says how many there were.
    """

    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def admit(self, key: str) -> int | None:
        """Whether a line for `key` may be written now: None if not, else the count held back before it."""
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self._held[key] = self._held.get(key, 0) + 1
            return None
        self._last[key] = now
        return self._held.pop(key, 0)
