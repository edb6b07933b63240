"""The listeners' once-a-minute logs: a flood of accept failures is one line, the counts kept."""

from __future__ import annotations

import asyncio
import errno
import logging

import pytest

from notifier.listening import install_loop_error_throttle
from notifier.logs import Throttle


async def test_accept_failures_are_logged_once_a_minute_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    install_loop_error_throttle()
    try:
        with caplog.at_level(logging.DEBUG):
            for _ in range(1000):
                loop.call_exception_handler(
                    {
                        "message": "socket.accept() out of system resource",
                        "exception": OSError(errno.EMFILE, "Too many open files"),
                    }
                )
    finally:
        loop.set_exception_handler(previous)
    lines = [r for r in caplog.records if "out of system resource" in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None
    assert "Too many open files" in lines[0].getMessage()


def test_a_throttle_admits_one_line_a_minute_and_counts_the_rest() -> None:
    now = [0.0]
    throttle = Throttle(60.0, clock=lambda: now[0])
    assert throttle.admit("x") == 0
    assert [throttle.admit("x") for _ in range(5)] == [None] * 5
    assert throttle.admit("y") == 0
    now[0] = 61.0
    assert throttle.admit("x") == 5
