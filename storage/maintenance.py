"""Operating on the database file itself: a consistent backup, and the health checks of `doctor`.

Neither opens the file through `open_database`, so neither migrates it: a backup taken before an upgrade is
the old schema as it was, and `doctor` can tell that migrations are pending instead of running them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from storage import StorageError
from storage.db import make_private, migrations

log = logging.getLogger(__name__)

# Short: doctor and backup run beside the service, whose write transactions last milliseconds.
BUSY_TIMEOUT_MS = 5_000


@dataclass(frozen=True, slots=True)
class DatabaseSummary:
    """What a database file holds: its schema version and the rows of every ordinary table."""

    path: str
    schema_version: int
    tables: tuple[tuple[str, int], ...]
    size_bytes: int

    def rows(self, table: str) -> int:
        """The row count of `table` (0 when it does not exist)."""
        return dict(self.tables).get(table, 0)


@dataclass(frozen=True, slots=True)
class DatabaseHealth:
    """What `doctor` needs to know of the database file."""

    path: str
    schema_version: int
    expected_version: int
    quick_check: str
    write_error: str | None

    @property
    def migrations_pending(self) -> int:
        """How many migrations this code would still apply (negative: the file is newer than the code)."""
        return self.expected_version - self.schema_version


def expected_version() -> int:
    """The schema version the packaged migrations reach."""
    return max((version for version, _ in migrations()), default=0)


def _uri(path: Path, mode: str) -> str:
    # as_uri() percent-encodes the path, so spaces, `?` and `#` in a file name stay part of the name.
    return f"{path.resolve().as_uri()}?mode={mode}"


async def _connect(path: Path, mode: str, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> aiosqlite.Connection:
    try:
        conn = await aiosqlite.connect(_uri(path, mode), uri=True, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise StorageError(f"cannot open database {path}: {exc}") from exc
    await conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms:d}")
    return conn


async def _ordinary_tables(conn: aiosqlite.Connection) -> list[str]:
    """Tables holding rows of their own: not SQLite's, not full-text indexes nor their shadow tables."""
    async with conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name") as c:
        found = [(str(name), str(sql or "")) for name, sql in await c.fetchall()]
    virtual = [name for name, sql in found if sql.upper().startswith("CREATE VIRTUAL")]
    return [
        name
        for name, sql in found
        if not name.startswith("sqlite_")
        and name not in virtual
        and not any(name.startswith(f"{v}_") for v in virtual)
    ]


async def _summary(conn: aiosqlite.Connection, path: Path) -> DatabaseSummary:
    async with conn.execute("PRAGMA user_version") as c:
        row = await c.fetchone()
    version = int(row[0]) if row else 0
    counts: list[tuple[str, int]] = []
    for table in await _ordinary_tables(conn):
        # The name comes from sqlite_master, quoted as an identifier.
        quoted = '"' + table.replace('"', '""') + '"'
        async with conn.execute(f"SELECT count(*) FROM {quoted}") as c:
            row = await c.fetchone()
        counts.append((table, int(row[0]) if row else 0))
    return DatabaseSummary(str(path), version, tuple(counts), path.stat().st_size)


def _require_database_file(path: Path) -> None:
    if not path.exists():
        raise StorageError(f"cannot open database {path}: it does not exist")
    if path.is_dir():
        raise StorageError(f"cannot open database {path}: it is a directory")


async def summarize(path: str | Path) -> DatabaseSummary:
    """The schema version and row counts of the database at `path`, read-only."""
    source = Path(path)
    _require_database_file(source)
    conn = await _connect(source, "ro")
    try:
        return await _summary(conn, source)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot read database {source}: {exc}") from exc
    finally:
        await conn.close()


def _check_target(source: Path, target: Path, overwrite: bool) -> None:
    if target.is_dir():
        raise StorageError(f"cannot back up to {target}: it is a directory (name a file inside it)")
    if not target.parent.is_dir():
        raise StorageError(f"cannot back up to {target}: directory {target.parent} does not exist")
    if target.exists():
        if target.resolve() == source.resolve():
            raise StorageError(f"cannot back up {source} onto itself: name another file")
        if not overwrite:
            raise StorageError(f"{target} already exists: name another file, or pass --force to replace it")


async def backup(
    source_path: str | Path, target_path: str | Path, *, overwrite: bool = False
) -> DatabaseSummary:
    """Copy the live database at `source_path` to `target_path` with SQLite's backup API; the copy's summary.

    The copy is taken inside one read transaction of the source, so it is one consistent moment even while
    another process writes (under WAL a reader never blocks the writer). It is written to a temporary file
    beside the target, checked (it opens, passes `quick_check`, and holds the very row counts the source held
    in that transaction), switched to a rollback journal so it is one self-contained file, and only then
    renamed into place: a failed backup leaves no half-written file at `target_path`.
    """
    source, target = Path(source_path), Path(target_path)
    _require_database_file(source)
    _check_target(source, target, overwrite)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    conn = await _connect(source, "ro")
    try:
        try:
            # Private before SQLite writes a byte: a copy holds what the database holds.
            make_private(partial)
            await conn.execute("BEGIN")
            expected = await _summary(conn, source)
            # check_same_thread=False: aiosqlite drives the copy from its own worker thread.
            copy = sqlite3.connect(partial, check_same_thread=False)
            try:
                await conn.backup(copy)
            finally:
                copy.close()
            await conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StorageError(f"cannot back up {source}: {exc}") from exc
        except OSError as exc:
            raise StorageError(f"cannot write {partial}: {exc.strerror or exc}") from exc
        copied = await _verify(partial, expected)
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    finally:
        await conn.close()
    log.info("backup of %s written to %s (%d bytes)", source, target, copied.size_bytes)
    return DatabaseSummary(str(target), copied.schema_version, copied.tables, copied.size_bytes)


async def _verify(partial: Path, expected: DatabaseSummary) -> DatabaseSummary:
    conn = await _connect(partial, "rw")
    try:
        # One file, no -wal beside it: a copy is moved to another machine as it is.
        await conn.execute("PRAGMA journal_mode = DELETE")
        async with conn.execute("PRAGMA quick_check") as c:
            verdict = "; ".join(str(row[0]) for row in await c.fetchall())
        if verdict != "ok":
            raise StorageError(f"the copy failed SQLite's quick_check: {verdict}")
        copied = await _summary(conn, partial)
    except sqlite3.Error as exc:
        raise StorageError(f"the copy does not open as a database: {exc}") from exc
    finally:
        await conn.close()
    if (copied.schema_version, copied.tables) != (expected.schema_version, expected.tables):
        raise StorageError("the copy does not hold what the source held: backup abandoned")
    return copied


async def health(path: str | Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> DatabaseHealth:
    """Open the file read-only (never migrating it), run `quick_check`, and try to take the write lock."""
    target = Path(path)
    _require_database_file(target)
    conn = await _connect(target, "ro")
    try:
        async with conn.execute("PRAGMA user_version") as c:
            row = await c.fetchone()
        version = int(row[0]) if row else 0
        async with conn.execute("PRAGMA quick_check") as c:
            verdict = "; ".join(str(row[0]) for row in await c.fetchall())
    except sqlite3.Error as exc:
        raise StorageError(f"cannot read database {target}: {exc}") from exc
    finally:
        await conn.close()
    write_error = await _write_error(target, busy_timeout_ms)
    return DatabaseHealth(str(target), version, expected_version(), verdict, write_error)


async def _write_error(path: Path, busy_timeout_ms: int) -> str | None:
    """None when this process could write the file (the write lock taken and given back at once)."""
    try:
        conn = await _connect(path, "rw", busy_timeout_ms)
    except StorageError as exc:
        return str(exc)
    try:
        await conn.execute("BEGIN IMMEDIATE")
        await conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        return str(exc)
    finally:
        await conn.close()
    return None
