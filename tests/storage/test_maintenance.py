"""The database file itself: a backup that is one consistent moment, and the checks `doctor` reads."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from contextlib import closing
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from archive.model import Post, PostDate
from storage import StorageError
from storage.db import Database, database
from storage.maintenance import backup, expected_version, health, summarize
from tests.support.schema import database_at
from tests.support.store import seed

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 5, 10, 12, 0, tzinfo=TZ)


def post(n: int) -> Post:
    """A distinct post, in a series every tenth time (so the series table grows as well)."""
    title = f"低秩近似之路（{n}）：第{n}篇" if n % 10 == 0 else f"第{n}篇文章"
    return Post(id=10_000 + n, title=title, date=PostDate.from_iso("2025-03-01"), excerpt=f"摘要 {n}")


async def test_the_copy_opens_with_the_sources_schema_and_rows(db: Database, tmp_path: Path) -> None:
    await seed(db, [post(n) for n in range(1, 31)], now=NOW)
    source = await summarize(db.path)
    copy = await backup(db.path, tmp_path / "copy.sqlite3")
    assert copy.path == str(tmp_path / "copy.sqlite3")
    assert (copy.schema_version, copy.tables) == (source.schema_version, source.tables)
    assert copy.schema_version == expected_version() >= 6
    assert copy.rows("posts") == 30 and copy.rows("search_readable") == 30
    # One self-contained file: nothing beside it to forget when it is moved.
    with closing(sqlite3.connect(tmp_path / "copy.sqlite3")) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("SELECT count(*) FROM posts").fetchone()[0] == 30
    assert not (tmp_path / "copy.sqlite3-wal").exists()
    # An ordinary database: it opens as a store (migrations current) and answers like the original.
    async with database(tmp_path / "copy.sqlite3") as opened:
        assert await opened.schema_version() == source.schema_version
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


async def test_an_existing_file_is_replaced_only_when_asked(db: Database, tmp_path: Path) -> None:
    await seed(db, [post(1)], now=NOW)
    target = tmp_path / "copy.sqlite3"
    target.write_bytes(b"precious")
    with pytest.raises(StorageError, match=r"already exists.*--force"):
        await backup(db.path, target)
    assert target.read_bytes() == b"precious"
    copy = await backup(db.path, target, overwrite=True)
    assert copy.rows("posts") == 1
    with pytest.raises(StorageError, match="onto itself"):
        await backup(db.path, db.path, overwrite=True)


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        ("missing.sqlite3", "copy.sqlite3", "does not exist"),
        ("kexue.sqlite3", "no-such-dir/copy.sqlite3", "directory .* does not exist"),
        ("kexue.sqlite3", ".", "is a directory"),
    ],
)
async def test_mistakes_are_refused_before_anything_is_written(
    db: Database, tmp_path: Path, source: str, target: str, message: str
) -> None:
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(StorageError, match=message):
        await backup(tmp_path / source, tmp_path / target)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


async def test_a_file_that_is_not_a_database_leaves_no_copy(tmp_path: Path) -> None:
    (tmp_path / "junk.sqlite3").write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(StorageError, match="cannot"):
        await backup(tmp_path / "junk.sqlite3", tmp_path / "copy.sqlite3")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.sqlite3"]


async def test_copies_taken_while_another_connection_writes_are_each_one_moment(
    db: Database, tmp_path: Path
) -> None:
    """Each transaction adds two posts and their search rows: a torn copy would break the pairs."""
    await seed(db, [post(n) for n in range(1, 200)], now=NOW)
    stop = asyncio.Event()
    written = 0

    async def writer() -> None:
        nonlocal written
        n = 1000
        while not stop.is_set():
            await seed(db, [post(n), post(n + 1)], now=NOW)
            n += 2
            written += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(writer())
    copies = []
    try:
        for i in range(8):
            copies.append(await backup(db.path, tmp_path / f"copy{i}.sqlite3"))
    finally:
        stop.set()
        await task
    assert written > 0
    for copy in copies:
        assert copy.rows("posts") == copy.rows("search_readable") >= 199
        assert copy.rows("posts") % 2 == 1  # 199 seeded, then pairs only
        with closing(sqlite3.connect(copy.path)) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    final = await summarize(db.path)
    assert final.rows("posts") == 199 + 2 * written


async def test_health_reports_an_old_schema_without_migrating_it(tmp_path: Path) -> None:
    async with database_at(tmp_path / "old.sqlite3", 3):
        pass
    found = await health(tmp_path / "old.sqlite3")
    assert (found.schema_version, found.migrations_pending) == (3, expected_version() - 3)
    assert found.quick_check == "ok" and found.write_error is None
    assert (await health(tmp_path / "old.sqlite3")).schema_version == 3


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only files")
async def test_health_reports_a_file_it_cannot_write(db: Database, tmp_path: Path) -> None:
    await db.close()
    path = Path(db.path)
    for name in ("kexue.sqlite3-wal", "kexue.sqlite3-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    path.chmod(0o444)
    try:
        found = await health(path)
    finally:
        path.chmod(0o644)
    assert found.write_error is not None and "readonly" in found.write_error


async def test_health_reports_a_write_lock_held_too_long(db: Database) -> None:
    async with db.transaction():
        found = await health(db.path, busy_timeout_ms=50)
    assert found.write_error is not None and "locked" in found.write_error
    assert (await health(db.path)).write_error is None
