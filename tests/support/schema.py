"""A database of an older schema version, built from the packaged migrations, to test upgrades in place."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from storage.db import Database, migrations
from storage.textnorm import register_functions

__all__ = ["database_at"]


@asynccontextmanager
async def database_at(path: Path, version: int) -> AsyncIterator[Database]:
    """The SQLite file at `path` (created if new) migrated only up to `version`, as a release of that day
    left it; migrations it already has are not run again.

    Rewinding `user_version` on a database of today's schema is no substitute: later migrations would then
    run a second time over tables they already changed.
    """
    conn = await aiosqlite.connect(str(path), isolation_level=None)
    try:
        await conn.execute("PRAGMA foreign_keys = ON")
        await register_functions(conn)
        async with conn.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        reached = 0 if row is None else int(row[0])
        for number, sql in migrations():
            if number <= reached:
                continue
            if number > version:
                break
            await conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {number:d};\nCOMMIT;")
        yield Database(conn, conn, str(path))
    finally:
        await conn.close()
