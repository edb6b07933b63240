"""The outcome of a Telegram answer for an outbox row: a pure function, tested without a server."""

from __future__ import annotations

import pytest

from notifier.delivery.outcomes import (
    Dead,
    Moved,
    Retry,
    RetryPolicy,
    Unreachable,
    Wait,
    backoff,
    next_state,
    retry_or_give_up,
)
from notifier.telegram import Failure

POLICY = RetryPolicy(base=2.0, cap=600.0, give_up_after=3600.0)


def highest(low: float, high: float) -> float:
    """The jitter at its ceiling, so the waits are exact."""
    return high


def state(failure: Failure, attempts: int = 1, age: float = 0.0) -> object:
    return next_state(failure, attempts=attempts, age=age, policy=POLICY, jitter=highest)


def test_a_429_is_a_wait_of_retry_after_never_a_loss() -> None:
    assert state(Failure("retry_after", "Too Many Requests", retry_after=7)) == Wait(7)


def test_a_migrated_group_takes_its_row_along() -> None:
    assert state(Failure("migrated", "group upgraded", migrate_to=-100123)) == Moved(-100123)


@pytest.mark.parametrize(
    ("kind", "label", "reason"),
    [
        ("blocked", "blocked", "blocked: Forbidden: bot was blocked by the user"),
        ("chat_not_found", "chat_not_found", "chat not found: Forbidden: bot was blocked by the user"),
    ],
)
def test_a_reader_who_blocked_the_bot_or_left_is_unreachable(kind: str, label: str, reason: str) -> None:
    failure = Failure(kind, "Forbidden: bot was blocked by the user")  # type: ignore[arg-type]
    assert state(failure) == Unreachable(label, reason)


def test_a_bad_request_is_dead_for_sending_it_again_cannot_succeed() -> None:
    assert state(Failure("bad_request", "can't parse entities")) == Dead(
        "bad_request", "bad request: can't parse entities"
    )


@pytest.mark.parametrize("kind", ["server_error", "network", "api_error"])
def test_a_failure_that_may_pass_is_retried_with_a_doubling_backoff(kind: str) -> None:
    failure = Failure(kind, "TelegramServerError: Bad Gateway")  # type: ignore[arg-type]
    assert state(failure, attempts=1) == Retry(kind, "TelegramServerError: Bad Gateway", 2.0)
    assert state(failure, attempts=4) == Retry(kind, "TelegramServerError: Bad Gateway", 16.0)
    # The waits stop growing at the cap.
    assert state(failure, attempts=30, age=10.0) == Retry(kind, "TelegramServerError: Bad Gateway", 600.0)


def test_the_last_retry_falls_at_the_deadline_and_then_the_row_is_given_up() -> None:
    failure = Failure("network", "ClientConnectorError: refused")
    assert state(failure, attempts=20, age=3500.0) == Retry("network", "ClientConnectorError: refused", 100.0)
    given_up = state(failure, attempts=21, age=3600.0)
    assert given_up == Dead(
        "network", "network: gave up after 21 attempts in 3600 s: ClientConnectorError: refused"
    )


def test_an_internal_error_follows_the_same_retry_rule() -> None:
    assert retry_or_give_up("internal", "boom", attempts=1, age=0.0, policy=POLICY, jitter=highest) == Retry(
        "internal", "boom", 2.0
    )


def test_backoff_has_full_jitter_between_half_and_the_ceiling() -> None:
    for attempt in range(1, 12):
        wait = backoff(attempt, base=1.0, cap=64.0)
        ceiling = min(64.0, 2 ** (attempt - 1))
        assert ceiling / 2 <= wait <= ceiling
