"""A write the file refuses (a full disk), at the storage layer: `WriteFailed`, nothing stored, and the next
transaction on the same connection works.

The failure is real: a child process caps its own file size (RLIMIT_FSIZE) below the WAL's end, so SQLite's
next write of a page fails with EFBIG, as on a full disk. A child, because the cap holds for every file the
process writes, the test runner's own among them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CHILD = """
import asyncio, json, os, resource, sys

from storage.db import WriteFailed, open_database


async def fill(db, rows):
    async with db.transaction() as conn:
        for n in range(rows):
            await conn.execute("INSERT INTO filler VALUES (?, ?)", (n, "x" * 1000))


async def main(path):
    db = await open_database(path)
    async with db.transaction() as conn:
        await conn.execute("CREATE TABLE filler (n INTEGER, body TEXT)")
    outcome = {}
    for case, cache_pages in (("at commit", 2000), ("mid-transaction", 10)):
        async with db.transaction() as conn:
            # A page cache too small for the transaction spills pages to the WAL before COMMIT.
            await conn.execute(f"PRAGMA cache_size = {cache_pages}")
        resource.setrlimit(resource.RLIMIT_FSIZE, (os.path.getsize(path + "-wal"), resource.RLIM_INFINITY))
        try:
            await fill(db, 300)
            outcome[case] = "stored"
        except WriteFailed as exc:
            outcome[case] = str(exc)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    await fill(db, 3)
    async with db.conn.execute("SELECT count(*) FROM filler") as cursor:
        outcome["rows"] = (await cursor.fetchone())[0]
    await db.close()
    print(json.dumps(outcome))


asyncio.run(main(sys.argv[1]))
"""


def test_a_write_the_disk_refuses_stores_nothing_and_the_connection_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "k.sqlite3"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    # Whether the refused page was the commit's or spilled earlier, the caller hears why, not that a
    # ROLLBACK found nothing to undo (SQLite rolls back itself after an I/O error).
    for case in ("at commit", "mid-transaction"):
        assert outcome[case].startswith(f"cannot write database {path}: disk I/O error"), outcome
        assert outcome[case].endswith("nothing was written")
    # Neither refused transaction left a row; the one after them stored its three.
    assert outcome["rows"] == 3
