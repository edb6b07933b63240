"""The broadcast's pace: the sender's own adaptive rate (a token bucket) and each chat's pace.

The token bucket caps the sender below the bot's whole budget (notifier.telegram.budget, shared with the
replies) and lowers itself when Telegram answers 429 across several chats (halving, then growing back
slowly, like a congestion window). The chat pacer says when a row's chat may get its next message, so a
row whose chat is not ready is deferred in the database instead of holding a slot.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from storage.deliveries import Delivery

log = logging.getLogger(__name__)

MIN_RATE = 1.0


@dataclass(frozen=True, slots=True)
class ChatLimits:
    """Telegram's pace per chat: messages a second to a private chat, a minute to a group or channel."""

    private_per_second: float = 1.0
    group_per_minute: int = 20


def is_group(delivery: Delivery) -> bool:
    """Whether the row goes to a group or channel (paced per minute), not a private chat."""
    if delivery.chat_type is not None:
        return delivery.chat_type != "private"
    return delivery.recipient.startswith(("-", "@"))


class TokenBucket:
    """The global rate: `rate` tokens a second, at most `burst` saved up; the rate adapts (AIMD)."""

    def __init__(
        self, rate: float, *, burst: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_rate = rate
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._tokens = burst
        self._last = clock()
        self._lock = asyncio.Lock()
        self._last_change = self._last

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    async def take(self) -> None:
        """Wait for one token."""
        async with self._lock:
            while True:
                now = self.clock()
                self._refill(now)
                self._grow(now)
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                await asyncio.sleep((1.0 - self._tokens) / self.rate)

    def slow_down(self) -> None:
        """Telegram says we send too fast overall: halve the rate (not below MIN_RATE)."""
        now = self.clock()
        self._refill(now)
        self.rate = max(MIN_RATE, self.rate / 2)
        self._tokens = min(self._tokens, 0.0)
        self._last_change = now
        log.warning("sender: 429s from several chats; rate lowered to %.1f/s", self.rate)

    def _grow(self, now: float) -> None:
        # Additive increase: a twentieth of the configured rate per quiet second, back up to it.
        if self.rate < self.max_rate and now - self._last_change >= 1.0:
            steps = int(now - self._last_change)
            self.rate = min(self.max_rate, self.rate + steps * self.max_rate / 20)
            self._last_change += steps
            if self.rate == self.max_rate:
                log.info("sender: rate back to %.1f/s", self.rate)


class ChatPacer:
    """When each chat may get its next message; forgets chats whose pace no longer matters."""

    def __init__(self, limits: ChatLimits) -> None:
        self.private_gap = 1.0 / limits.private_per_second
        self.group_limit = limits.group_per_minute
        self._private: dict[str, float] = {}  # chat -> earliest next send
        self._groups: dict[str, deque[float]] = {}  # chat -> send times within the last minute
        self._held: dict[str, float] = {}  # chat -> end of a 429's retry_after
        self._pruned = 0.0

    def ready_at(self, delivery: Delivery, now: float) -> float:
        """The earliest moment this row's chat may get a message (≤ now: at once)."""
        chat = delivery.recipient
        ready = self._held.get(chat, 0.0)
        if is_group(delivery):
            times = self._groups.get(chat)
            if times is not None:
                while times and times[0] <= now - 60.0:
                    times.popleft()
                if len(times) >= self.group_limit:
                    ready = max(ready, times[len(times) - self.group_limit] + 60.0)
        else:
            ready = max(ready, self._private.get(chat, 0.0))
        return ready

    def note(self, delivery: Delivery, now: float) -> None:
        """A message to this chat is being sent now."""
        self._prune(now)
        if is_group(delivery):
            self._groups.setdefault(delivery.recipient, deque()).append(now)
        else:
            self._private[delivery.recipient] = now + self.private_gap

    def hold(self, recipient: str, until: float) -> None:
        """Telegram asked this chat to wait (429 retry_after)."""
        self._held[recipient] = max(until, self._held.get(recipient, 0.0))

    def gap(self, delivery: Delivery) -> float:
        """Seconds between two messages of one row (a digest in several parts)."""
        return 60.0 / self.group_limit if is_group(delivery) else self.private_gap

    def _prune(self, now: float) -> None:
        # Once a second: the maps hold only chats sent to within the last minute, so memory stays flat.
        if now - self._pruned < 1.0:
            return
        self._pruned = now
        self._private = {c: t for c, t in self._private.items() if t > now}
        self._held = {c: t for c, t in self._held.items() if t > now}
        self._groups = {c: q for c, q in self._groups.items() if q and q[-1] > now - 60.0}
