"""A test that calls the command line in-process leaves no handler on a stream pytest has closed."""

from __future__ import annotations

import logging
import sys

import pytest

from cli.main import main

_before: list[logging.Handler] = []


def test_the_command_line_configures_the_root_logger(tmp_path_factory: pytest.TempPathFactory) -> None:
    _before[:] = logging.getLogger().handlers
    db = tmp_path_factory.mktemp("hygiene") / "k.sqlite3"
    assert main(["latest", "--db", str(db)]) in (0, 1)
    assert any(
        isinstance(h, logging.StreamHandler) and h.stream is sys.stderr for h in logging.getLogger().handlers
    )


def test_the_next_test_finds_the_logging_set_up_as_it_was() -> None:
    assert logging.getLogger().handlers == _before
    logging.getLogger("hygiene").error("this line must not print '--- Logging error ---'")
