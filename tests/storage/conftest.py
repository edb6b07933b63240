"""A real SQLite file per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.db import Database, database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A freshly migrated store in `tmp_path`."""
    async with database(tmp_path / "kexue.sqlite3") as opened:
        yield opened
