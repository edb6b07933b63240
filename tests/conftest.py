"""Test-wide settings: Hypothesis profiles ("ci" when CI is set, else "dev") and the `db` fixture."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from storage.db import Database, database

# The local blog server fixtures (`blog_server`, `make_blog_server`) and the local Bot API (`bot_api`).
pytest_plugins = ["tests.support.blog_server", "tests.support.bot_api", "tests.support.mail"]

# No deadline anywhere: shared CI runners stall at random, and a slow example is not a failing one.
settings.register_profile("ci", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

# The fuzz suites (tests/*/test_fuzz.py, test_web_fuzz.py) decorate their tests with `FUZZ`: random seeds (a
# failure prints the one to reproduce it with), FUZZ_EXAMPLES cases per test (the default keeps the whole fuzz
# suite near 40 s on 2 cores; FUZZ_EXAMPLES=5000 for a long run), and their own per-case time bound instead of
# a deadline. One fixture serves every case of a test, hence function_scoped_fixture.
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or 400)
settings.register_profile(
    "fuzz",
    parent=settings.get_profile("ci" if os.environ.get("CI") else "dev"),
    max_examples=FUZZ_EXAMPLES,
    derandomize=False,
    deadline=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A freshly migrated store in a real SQLite file in `tmp_path`."""
    async with database(tmp_path / "kexue.sqlite3") as opened:
        yield opened


class _Collect(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)


@pytest.fixture
def errors() -> Iterator[list[logging.LogRecord]]:
    """Every record of ERROR or above while the test runs (the bot's error handler and aiohttp log each
    failure so): the fuzz suites assert it stays empty."""
    records: list[logging.LogRecord] = []
    handler = _Collect(records)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield records
    finally:
        root.removeHandler(handler)


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """Put the logging set-up back after each test: an in-process `main()` installs a stderr handler on the
    root logger, and pytest closes that stderr when the test ends: a later record would hit a closed stream.
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    try:
        yield
    finally:
        for handler in root.handlers:
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        for handler in handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(level)
        for name, saved in levels.items():
            logging.getLogger(name).setLevel(saved)


@pytest.fixture(autouse=True)
def _umask_as_it_was() -> Iterator[None]:
    """Put the umask back after each test: an in-process `main()` sets 077 for everything it creates."""
    mask = os.umask(0o022)
    os.umask(mask)
    try:
        yield
    finally:
        os.umask(mask)
