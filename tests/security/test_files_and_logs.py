"""Private files and a debug log that holds no secret, against the real process.

Files: with the ordinary umask 022, `run` and `backup` create var/, the database, its -wal and -shm and the
backup readable by their owner alone (the file holds readers' addresses and, without SECRET_KEY, the key
that signs their links). Log: LOG_LEVEL=DEBUG still writes neither that key nor a reader's address, though
aiosqlite would print every statement with its parameters.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import sys
from pathlib import Path

from tests.support.live_web import live_web
from tests.support.service import clean_environment
from tests.support.smtp_server import SmtpServer

DEFAULT_DB = "var/kexue.sqlite3"


def mode(path: Path) -> int:
    """The permission bits of `path`."""
    return stat.S_IMODE(path.stat().st_mode)


async def command(workdir: Path, *args: str, **env: str) -> tuple[int, str]:
    """One `kexue-notifier` command under umask 022, run to its end: its exit status and stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        *args,
        cwd=workdir,
        env=clean_environment(**env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=lambda: os.umask(0o022),
    )
    _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def test_the_database_its_side_files_var_and_backups_are_the_owners_alone(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        async with live_web(tmp_path, {"KEXUE_DB": DEFAULT_DB}) as web:
            status, _ = await web.sign_up("reader@example.org")
            assert status in (200, 503)
            files = [
                tmp_path / DEFAULT_DB,
                tmp_path / (DEFAULT_DB + "-wal"),
                tmp_path / (DEFAULT_DB + "-shm"),
            ]
            assert all(f.exists() for f in files), sorted(p.name for p in (tmp_path / "var").iterdir())
            assert mode(tmp_path / "var") == 0o700
            assert {f.name: oct(mode(f)) for f in files} == {f.name: "0o600" for f in files}
            code, err = await command(tmp_path, "backup", "var/copy.sqlite3")
            assert (code, err) == (0, "")
            assert oct(mode(tmp_path / "var/copy.sqlite3")) == "0o600"
    finally:
        os.umask(old)


async def test_an_existing_world_readable_database_is_made_private(tmp_path: Path) -> None:
    target = tmp_path / "k.sqlite3"
    sqlite3.connect(target).close()
    target.chmod(0o644)
    code, err = await command(tmp_path, "latest", KEXUE_DB=str(target))
    assert (code, "Traceback" in err) == (0, False), err
    assert oct(mode(target)) == "0o600"


async def test_log_level_debug_writes_neither_the_signing_key_nor_an_address(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    env = {
        "LOG_LEVEL": "DEBUG",
        "SMTP_HOST": smtp.host,
        "SMTP_PORT": str(smtp.port),
        "SMTP_SECURITY": "none",
    }
    async with live_web(tmp_path, env) as web:
        status, _ = await web.sign_up("victim.reader@example.org")
        assert status == 200
        await smtp.wait_for(1)
        log = web.service.log()
    key = (
        sqlite3.connect(tmp_path / "k.sqlite3")
        .execute("SELECT value FROM meta WHERE key = 'secret_key'")
        .fetchone()
    )
    assert key is not None and key[0]
    assert " DEBUG " in log  # the level took effect: our own debug lines are there
    assert key[0] not in log
    assert "victim.reader" not in log
