"""Opening the SQLite file: pragmas, versioned migrations, one writer and one reader connection.

How the process shares its database: every write goes through `transaction()`, which holds an in-process
lock and `BEGIN IMMEDIATE` (SQLite's write lock, so other processes wait up to `BUSY_TIMEOUT_MS`); writes of
concurrent coroutines therefore run one after another, never interleaved in one transaction. Reads use a
second connection (`conn`, read-only): under WAL it sees only committed data, never another coroutine's
half-written transaction, and it never waits for a writer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

import aiosqlite

from storage import StorageError
from storage.textnorm import register_functions

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000
# The file holds readers' addresses and, without SECRET_KEY, the key that signs their links: owner only.
PRIVATE_FILE = 0o600
SIDE_FILES = ("-wal", "-shm", "-journal")


class WriteFailed(StorageError):
    """The file refused a write (locked by another process, disk full, I/O error); nothing was written."""


def _split_statements(script: str) -> list[str]:
    """Cut a migration into statements; `complete_statement` knows that a trigger body holds `;`."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not all(
        part.strip().startswith("--") or not part.strip() for part in buffer.splitlines()
    ):
        raise StorageError("migration ends in an incomplete statement")
    return statements


def migrations() -> list[tuple[int, str]]:
    """The packaged migrations as (version, sql), in order."""
    found: list[tuple[int, str]] = []
    for entry in resources.files("storage").joinpath("migrations").iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


class Database:
    """A writer connection behind a lock (`transaction()`) and a read-only connection (`conn`)."""

    def __init__(self, writer: aiosqlite.Connection, reader: aiosqlite.Connection, path: str) -> None:
        self._writer = writer
        self.conn = reader
        self.path = path
        self._write_lock = asyncio.Lock()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction at a time in this process; BEGIN IMMEDIATE serializes processes.

        A file locked by another process beyond the busy timeout, a full disk or a failing one raise
        `WriteFailed`, with nothing of the transaction stored and the connection ready for the next one.
        """
        async with self._write_lock:
            try:
                await self._writer.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                self._raise_write_failed(exc)
                raise
            try:
                yield self._writer
            except BaseException as exc:
                # Shielded: a cancelled caller must still leave the connection outside a transaction.
                await asyncio.shield(self._abandon())
                if isinstance(exc, sqlite3.OperationalError):
                    self._raise_write_failed(exc)
                raise
            else:
                try:
                    await asyncio.shield(self._writer.execute("COMMIT"))
                except sqlite3.Error as exc:
                    await asyncio.shield(self._abandon())
                    self._raise_write_failed(exc)
                    raise

    async def _abandon(self) -> None:
        """Roll back, unless SQLite already has: it does after an I/O error or a full disk."""
        if not self._writer.in_transaction:
            # A ROLLBACK now would fail and hide the error that brought us here.
            return
        try:
            await self._writer.execute("ROLLBACK")
        except sqlite3.Error as exc:
            log.error("db %s: rollback failed: %s", self.path, exc)

    def _raise_write_failed(self, exc: sqlite3.Error) -> None:
        """`WriteFailed` when the file, not the statement, refused the write; else return."""
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            raise WriteFailed(
                f"database {self.path} is locked by another process "
                f"(no write lock within {BUSY_TIMEOUT_MS / 1000:g} s); nothing was written"
            ) from exc
        if code in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY):
            raise WriteFailed(
                f"cannot write database {self.path}: {exc} (is the disk full?); nothing was written"
            ) from exc

    @property
    def total_changes(self) -> int:
        """Rows written through this database since it was opened."""
        return self._writer.total_changes

    async def close(self) -> None:
        """Close both connections."""
        try:
            if self.conn is not self._writer:
                await self.conn.close()
        finally:
            await self._writer.close()

    async def schema_version(self) -> int:
        """The `user_version` the migrations have reached."""
        async with self.conn.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _migrate(self) -> None:
        for version, sql in migrations():
            async with self.transaction() as conn:
                # Re-read under the write lock: another process may have migrated meanwhile.
                async with conn.execute("PRAGMA user_version") as cursor:
                    row = await cursor.fetchone()
                if row and int(row[0]) >= version:
                    continue
                log.info("db %s: applying migration %04d", self.path, version)
                for statement in _split_statements(sql):
                    await conn.execute(statement)
                await conn.execute(f"PRAGMA user_version = {version:d}")


def _probe(target: str) -> None:
    """StorageError unless SQLite can open (or create) the file at `target`; its directory must exist."""
    if target == ":memory:":
        return
    path = Path(target)
    if path.is_dir():
        raise StorageError(f"cannot open database {target}: it is a directory")
    parent = path.parent
    if not parent.is_dir():
        # Never create directories on a guess: a mistyped path must fail, not grow a tree somewhere.
        what = "is not a directory" if parent.exists() else "does not exist"
        raise StorageError(f"cannot open database {target}: directory {parent} {what}")
    make_private(path)
    try:
        # A plain connection first: when aiosqlite fails to connect, its worker thread outlives the event
        # loop and prints a traceback on exit, which a user mistake must never show.
        sqlite3.connect(target).close()
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open database {target}: {exc}") from exc


def make_private(path: Path) -> None:
    """Create `path` (and find its -wal/-shm) readable by the owner alone; tighten them if they exist.

    SQLite gives the -wal and -shm files the mode of the database file, so a private database file keeps
    its side files private too, whatever the umask.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        pass
    except OSError as exc:
        raise StorageError(f"cannot open database {path}: {exc.strerror or exc}") from exc
    else:
        os.close(fd)
    for target in (path, *(path.with_name(path.name + side) for side in SIDE_FILES)):
        try:
            mode = target.stat().st_mode & 0o777
            if mode & 0o077 and target.is_file():
                os.chmod(target, mode & 0o700)
                log.info("db %s: made readable by its owner only (was %o)", target, mode)
        except FileNotFoundError:
            continue
        except PermissionError:
            # Not ours to change (a read-only copy of another user's file): say so, go on.
            log.warning("db %s: readable by others, and not ours to make private", target)


async def _connect(target: str, *, read_only: bool) -> aiosqlite.Connection:
    try:
        conn = await aiosqlite.connect(target, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise StorageError(f"cannot open database {target}: {exc}") from exc
    try:
        await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
        await conn.execute("PRAGMA foreign_keys = ON")
        # The search triggers on `posts` and the search queries call these (storage/textnorm.py).
        await register_functions(conn)
        if read_only:
            await conn.execute("PRAGMA query_only = ON")
        else:
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        await conn.close()
        raise
    return conn


async def open_database(path: str | Path) -> Database:
    """Open (creating the file if needed, in an existing directory) the SQLite file at `path`, migrated."""
    target = str(path)
    _probe(target)
    writer = reader = None
    try:
        writer = await _connect(target, read_only=False)
        # An in-memory database is private to its connection: there the writer reads too.
        reader = writer if target == ":memory:" else await _connect(target, read_only=True)
        db = Database(writer, reader, target)
        await db._migrate()
    except sqlite3.DatabaseError as exc:
        for conn in {id(c): c for c in (reader, writer) if c is not None}.values():
            await conn.close()
        raise StorageError(f"cannot use database {target}: {exc}") from exc
    return db


@asynccontextmanager
async def database(path: str | Path) -> AsyncIterator[Database]:
    """`open_database` as an async context manager."""
    db = await open_database(path)
    try:
        yield db
    finally:
        await db.close()
