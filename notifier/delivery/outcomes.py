"""What becomes of a row after Telegram answered: a pure function from the answer to the row's next state.

- 429: the row waits `retry_after` (deferred, never lost), and its chat with it.
- The chat moved (a group became a supergroup): the row follows it to the new chat id.
- Blocked by the reader, or the chat is gone: the row is dead, the reader unreachable, their queue dropped.
- Any other 400: the row is dead (sending it again cannot succeed).
- A 5xx, a network error or a timeout: retried with exponential backoff (`base` doubling, capped) for as
  long as the row is younger than `give_up_after`: an outage of minutes, or of an afternoon, loses nothing,
  and only a message that could not go out for that long is given up on.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from notifier.telegram import Failure

BACKOFF_BASE = 2.0
# The longest wait between two retries, as a multiple of the base: 10 minutes at the default base.
BACKOFF_CAP_FACTOR = 300.0
BACKOFF_CAP = BACKOFF_BASE * BACKOFF_CAP_FACTOR
# A row failing with 5xx or network errors is retried until it is this old (seconds): Telegram's outages
# last minutes, rarely hours; a post announced a quarter of a day late is still worth sending.
GIVE_UP_AFTER = 6 * 3600.0

Jitter = Callable[[float, float], float]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long a failing row is retried, and how the waits between attempts grow."""

    base: float = BACKOFF_BASE
    cap: float = BACKOFF_CAP
    give_up_after: float = GIVE_UP_AFTER


@dataclass(frozen=True, slots=True)
class Wait:
    """Telegram said too many: the row (and its chat) wait `seconds`, then it goes again."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Moved:
    """The chat became `chat_id`: the row follows it."""

    chat_id: int


@dataclass(frozen=True, slots=True)
class Unreachable:
    """The reader blocked the bot or the chat is gone: the row is dead and the reader's queue dropped."""

    label: str
    reason: str


@dataclass(frozen=True, slots=True)
class Dead:
    """The row can never be sent: recorded as dead with its reason."""

    label: str
    reason: str


@dataclass(frozen=True, slots=True)
class Retry:
    """A failure that may pass: the row goes again in `delay` seconds."""

    label: str
    error: str
    delay: float


Outcome = Wait | Moved | Unreachable | Dead | Retry


def backoff(
    attempt: int, *, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP, jitter: Jitter = random.uniform
) -> float:
    """Seconds before retry `attempt` (1, 2, …): exponential with full jitter, at most `cap`."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return jitter(ceiling / 2, ceiling)


def retry_or_give_up(
    label: str, error: str, *, attempts: int, age: float, policy: RetryPolicy, jitter: Jitter = random.uniform
) -> Retry | Dead:
    """Try again after a backoff, or give up once the row is `give_up_after` old (the age decides)."""
    if age >= policy.give_up_after:
        return Dead(label, f"{label}: gave up after {attempts} attempts in {age:.0f} s: {error}")
    # The last retry falls at the deadline at the latest, so giving up never waits a whole backoff longer.
    delay = min(
        backoff(attempts, base=policy.base, cap=policy.cap, jitter=jitter), policy.give_up_after - age
    )
    return Retry(label, error, delay)


def next_state(
    failure: Failure, *, attempts: int, age: float, policy: RetryPolicy, jitter: Jitter = random.uniform
) -> Outcome:
    """The row's next state after `failure`; `attempts` counts this one, `age` is the row's in seconds."""
    kind = failure.kind
    if kind == "retry_after":
        return Wait(failure.retry_after)
    if kind == "migrated" and failure.migrate_to is not None:
        return Moved(failure.migrate_to)
    if kind == "blocked":
        return Unreachable("blocked", f"blocked: {failure.message}")
    if kind == "chat_not_found":
        return Unreachable("chat_not_found", f"chat not found: {failure.message}")
    if kind == "bad_request":
        return Dead("bad_request", f"bad request: {failure.message}")
    # 5xx, network errors, timeouts, an undecodable answer (a proxy's error page): they may pass.
    label = kind if kind in ("server_error", "network") else "api_error"
    return retry_or_give_up(label, failure.message, attempts=attempts, age=age, policy=policy, jitter=jitter)
