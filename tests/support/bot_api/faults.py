"""Faults the double injects and the rate limits it enforces, as Telegram answers them."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from tests.support.bot_api.models import JSON

# -- faults and limits ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """An answer the server gives instead of the real one (status None: a delay only)."""

    status: int | None
    description: str = ""
    retry_after: int | None = None
    migrate_to_chat_id: int | None = None
    delay: float = 0.0
    kind: str = "fault"  # the counter key suffix: fault:<kind>
    raw: bytes | None = None  # answered as text/html instead of Telegram's JSON (a proxy's error page)
    redirect: bool = False  # answered 302 to the very same URL: a redirect loop

    @classmethod
    def not_json(cls, status: int = 200) -> Fault:
        """An HTML page where JSON belongs, as a misconfigured proxy or captive portal answers."""
        page = b"<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"
        return cls(status, "not JSON", raw=page, kind="not_json")

    @classmethod
    def redirect_loop(cls) -> Fault:
        """302 to the same URL: a client following redirects never arrives."""
        return cls(302, "redirect loop", redirect=True, kind="redirect")

    @classmethod
    def too_many_requests(cls, retry_after: int) -> Fault:
        """429 with parameters.retry_after; the scope is then refused until that time has passed."""
        return cls(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after, kind="429")

    @classmethod
    def blocked(cls) -> Fault:
        """403: the user blocked the bot."""
        return cls(403, "Forbidden: bot was blocked by the user", kind="blocked")

    @classmethod
    def deactivated(cls) -> Fault:
        """403: the user deleted their account."""
        return cls(403, "Forbidden: user is deactivated", kind="deactivated")

    @classmethod
    def chat_not_found(cls) -> Fault:
        """400: no such chat."""
        return cls(400, "Bad Request: chat not found", kind="chat_not_found")

    @classmethod
    def migrated(cls, to_chat_id: int) -> Fault:
        """400: a group became a supergroup, with parameters.migrate_to_chat_id."""
        return cls(
            400,
            "Bad Request: group chat was upgraded to a supergroup chat",
            migrate_to_chat_id=to_chat_id,
            kind="migrated",
        )

    @classmethod
    def server_error(cls, status: int = 500, description: str = "Internal Server Error") -> Fault:
        """A 5xx answer."""
        return cls(status, description, kind="5xx")

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Answer normally, but only after `seconds`."""
        return cls(None, delay=seconds, kind="slow")


@dataclass
class FaultRule:
    """A fault armed for one chat or all (chat_id None), for some methods, a number of times or standing."""

    fault: Fault
    chat_id: int | str | None
    methods: frozenset[str] | None  # lower-case method names; None: every method that carries a chat_id
    remaining: int | None  # None: until recover()
    fired: int = 0

    def matches(self, method: str, chat_id: int | str | None) -> bool:
        """Whether this rule applies to a call of `method` addressed to `chat_id`."""
        return _in_scope(self.chat_id, self.methods, method, chat_id)


def _in_scope(
    scope_chat: int | str | None, scope_methods: frozenset[str] | None, method: str, chat_id: int | str | None
) -> bool:
    """Whether a call falls under a rule's chat (None: any) and methods (None: calls carrying a chat_id)."""
    if scope_methods is None:
        if chat_id is None:
            return False
    elif method.lower() not in scope_methods:
        return False
    return scope_chat is None or scope_chat == chat_id


@dataclass(frozen=True)
class _Cooldown:
    """After a 429 the rule's scope is refused until `until`, as Telegram holds a flood wait."""

    chat_id: int | str | None
    methods: frozenset[str] | None
    until: float


@dataclass(frozen=True)
class RateLimits:
    """Telegram's limits on sending: overall per second, per private chat per second, per group per minute."""

    global_per_second: int | None = 30
    private_per_second: int | None = 1
    group_per_minute: int | None = 20


class _Window:
    """A sliding window of accepted sends: `limit` within `span` seconds."""

    def __init__(self, limit: int, span: float) -> None:
        self.limit = limit
        self.span = span
        self.times: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds until one more send fits (0: it fits now)."""
        while self.times and self.times[0] <= now - self.span:
            self.times.popleft()
        if len(self.times) < self.limit:
            return 0.0
        return self.times[len(self.times) - self.limit] + self.span - now

    def add(self, now: float) -> None:
        self.times.append(now)


class _RawFault(Exception):
    def __init__(self, fault: Fault) -> None:
        super().__init__(fault.description)
        self.fault = fault


class _ApiError(Exception):
    def __init__(self, status: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def _bad(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


def _too_many(wait: float) -> _ApiError:
    seconds = max(1, math.ceil(wait))
    return _ApiError(429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds})
