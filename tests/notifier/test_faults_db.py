"""Faults of the database under the real `kexue-notifier run`: a file locked by another process, a full disk.

One service goes through the faults in turn (one start: with a bot token its imports take seconds). Each
fault spoils a poll that has new posts: it must fail with one log line and write nothing, the service must
go on (sender and bot included), and once the fault is gone the next poll stores the posts and every
reader is told of each new post once; a message in flight when the disk filled up may repeat once at most
(the delivery bound), and here none does, since the sender keeps a sent message's outcome until it is
recorded.
"""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import sqlite3
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import Self
from zoneinfo import ZoneInfo

from archive.model import Post, PostDate
from storage.db import BUSY_TIMEOUT_MS, database
from storage.uow import unit_of_work
from tests.support.bot_api import BotApiServer, Fault
from tests.support.fixtures import make_feed_xml
from tests.support.service import Service, clean_environment, eventually
from tests.support.store import ingest

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 5, 10, 12, 0, tzinfo=TZ)
OLD = (10000, "旧文章", NOW - timedelta(days=9), "旧。")
FIRST_READER = 9_200_001
READERS = 8
CONCURRENCY = 4
BURST = 30


class PipedService(Service):
    """The service with its output copied to the log file by the test process, through a pipe.

    A file-size limit on the service (the full disk below) then cannot cost the log: a pipe has no size.
    """

    _copying: asyncio.Task[None] | None = None

    async def start(self) -> Self:
        """Start the process with stdout and stderr on one pipe, copied to `log_path` as it comes."""
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cli.main",
            *self.command,
            cwd=self.workdir,
            env=clean_environment(**self.env),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
        )
        self._copying = asyncio.create_task(self._copy())
        return self

    async def _copy(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        with self.log_path.open("ab") as log:
            while chunk := await self.proc.stdout.read(65536):
                log.write(chunk)
                log.flush()

    async def stop(self, sig: signal.Signals = signal.SIGTERM, *, timeout: float = 20) -> int:
        """Stop as `Service.stop` does, then wait for the rest of the output."""
        status = await super().stop(sig, timeout=timeout)
        if self._copying is not None:
            await asyncio.wait_for(self._copying, 20)
        return status


async def prepare(workdir: Path, readers: int) -> list[int]:
    """A store past its baseline poll with `readers` instant readers; the feed file holds the old post."""
    chats = list(range(FIRST_READER, FIRST_READER + readers))
    async with database(workdir / "k.sqlite3") as db:
        old = Post(id=OLD[0], title=OLD[1], date=PostDate.from_iso(OLD[2].date().isoformat()), excerpt=OLD[3])
        await ingest(db, [old], now=NOW - timedelta(hours=1), tz=TZ, max_age_days=14)
        async with unit_of_work(db) as uow:
            for chat in chats:
                await uow.subscribers.start(chat, chat_type="private", lang="zh", now=NOW - timedelta(days=1))
                await uow.subscribers.follow_all(chat, NOW - timedelta(days=1))
    write_feed(workdir, [])
    return chats


def new_post(number: int) -> tuple[int, str, datetime, str]:
    """The `number`th new post of a test: recent enough to be announced."""
    return (
        20000 + number,
        f"断盘测试第{number}篇",
        NOW - timedelta(hours=2, minutes=number),
        f"第{number}篇的摘要。",
    )


def write_feed(workdir: Path, items: list[tuple[int, str, datetime, str]]) -> None:
    """The feed file with `items` and the old post, replaced in one step (a poll never reads half of it)."""
    partial = workdir / "feed.xml.partial"
    partial.write_bytes(make_feed_xml([*items, OLD]))
    partial.replace(workdir / "feed.xml")


def service(workdir: Path, bot_api: BotApiServer) -> PipedService:
    """The service polling the feed file every second or two, sending through the local Bot API."""
    svc = PipedService(workdir)
    svc.env.update(
        KEXUE_SOURCES=str(workdir / "feed.xml"),
        KEXUE_NOW=NOW.isoformat(),
        POLL_INTERVAL="1",
        READERS_REFRESH_DAYS="0",
        TELEGRAM_BOT_TOKEN=bot_api.token,
        TELEGRAM_API_BASE=bot_api.base_url,
        TELEGRAM_RICH="false",
        SEND_RATE="200",
        SEND_CONCURRENCY=str(CONCURRENCY),
        WEB_PORT="0",
    )
    return svc


def query(workdir: Path, sql: str) -> list[tuple[object, ...]]:
    """One read of the service's database from this process (a reader never waits for a writer in WAL)."""
    conn = sqlite3.connect(workdir / "k.sqlite3", timeout=30)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def count(workdir: Path, table: str) -> int:
    """The rows of one table."""
    return int(str(query(workdir, f"SELECT count(*) FROM {table}")[0][0]))


def deliveries(workdir: Path) -> dict[str, int]:
    """The outbox by state."""
    return {
        str(state): int(str(n))
        for state, n in query(workdir, "SELECT status, count(*) FROM deliveries GROUP BY status")
    }


def titles_received(bot_api: BotApiServer, chat: int, titles: list[str]) -> Counter[str]:
    """How many of the chat's messages name each title."""
    plains = [m.plain for m in bot_api.messages(chat)]
    return Counter({title: sum(title in plain for plain in plains) for title in titles})


async def bot_still_answers(bot_api: BotApiServer, chat: int) -> None:
    """A reader's /latest gets an answer naming the newest post."""
    reader = bot_api.user(id=chat)
    bot_api.send_text(reader, None, "/latest 1")
    reply = await bot_api.wait_for_message(chat, lambda m: "/latest" not in m.plain, timeout=30)
    assert "断盘测试" in reply.plain, reply.plain


def failed_polls(log: str) -> list[str]:
    return [line for line in log.splitlines() if "poll failed" in line]


@contextmanager
def file_size_limit(pid: int, limit: int) -> Iterator[None]:
    """The process `pid` may write no byte past offset `limit` of any file: writes fail with EFBIG.

    Only the soft limit moves, so an unprivileged process can raise it back; Python ignores SIGXFSZ, so the
    service sees the failed write instead of being killed by it.
    """
    soft, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        # The process may have ended meanwhile.
        with suppress(ProcessLookupError):
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def locked_by_another_process(
    workdir: Path, svc: Service, bot_api: BotApiServer, chats: list[int]
) -> None:
    """Another process holds SQLite's write lock beyond the busy timeout while a new post comes."""
    post = new_post(1)
    other = sqlite3.connect(workdir / "k.sqlite3", timeout=30, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        write_feed(workdir, [post])
        await svc.wait_for_log("poll failed", timeout=BUSY_TIMEOUT_MS / 1000 + 30)
        assert not query(workdir, f"SELECT 1 FROM posts WHERE archive_id = {post[0]}")
        assert not any(bot_api.messages(chat) for chat in chats)
    finally:
        other.execute("ROLLBACK")
        other.close()
    await eventually(
        lambda: all(titles_received(bot_api, c, [post[1]])[post[1]] for c in chats),
        timeout=40,
        what="every reader told of the post once the lock is gone",
    )
    await eventually(
        lambda: deliveries(workdir) == {"sent": len(chats)}, timeout=30, what="every delivery recorded"
    )
    for chat in chats:
        assert titles_received(bot_api, chat, [post[1]]) == Counter({post[1]: 1})
    failures = failed_polls(svc.log())
    # One poll waited out the busy timeout and said so in one line; the next one stored the post.
    assert len(failures) == 1, failures
    assert "is locked by another process" in failures[0] and "nothing was written" in failures[0]


async def disk_full(workdir: Path, svc: Service, bot_api: BotApiServer, chats: list[int]) -> None:
    """The disk fills up while messages are in flight, and a poll then finds thirty new posts."""
    first, more = new_post(2), [new_post(n) for n in range(3, 3 + BURST)]
    announced = [new_post(1)]
    # Telegram answers slowly: messages are in flight (rows `sending`) when the disk fills up.
    bot_api.fail(Fault.slow(3), methods=["sendMessage"])
    write_feed(workdir, [first, *announced])
    await eventually(lambda: deliveries(workdir).get("sending", 0) > 0, timeout=30, what="messages in flight")
    before = {table: count(workdir, table) for table in ("posts", "polls", "deliveries")}
    failed_before = len(failed_polls(svc.log()))
    # The WAL may not grow: the next transaction's pages cannot be written, the database file stays.
    with file_size_limit(svc.pid, (workdir / "k.sqlite3-wal").stat().st_size):
        in_flight = deliveries(workdir).get("sending", 0)
        loop = asyncio.get_running_loop()
        started, cpu_before = loop.time(), cpu_seconds(svc.pid)
        write_feed(workdir, [first, *more, *announced])
        await svc.wait_for_log("the outcome is not recorded yet", timeout=30)
        await svc.wait_for_log("poll failed", count=failed_before + 2, timeout=30)
        # Long enough for the sender's lease to miss a renewal: it is still its own until it expires.
        await svc.wait_for_log("lease sender: renewal failed", timeout=30)
        assert query(workdir, "PRAGMA integrity_check") == [("ok",)]
        # No half poll: not one of the thirty posts, no poll row, no outbox row.
        assert {table: count(workdir, table) for table in before} == before
        busy = (cpu_seconds(svc.pid) - cpu_before) / (loop.time() - started)
        assert busy < 0.5, f"the service spun at {busy:.0%} of a core while the disk was full"
        assert svc.running
    bot_api.recover()
    titles = [first[1], *(item[1] for item in more)]
    await eventually(
        lambda: all(all(titles_received(bot_api, c, titles).values()) for c in chats),
        timeout=40,
        what="every reader told of every new post once the disk has room",
    )
    await eventually(
        lambda: deliveries(workdir) == {"sent": 3 * len(chats)}, timeout=30, what="every delivery recorded"
    )
    assert in_flight <= CONCURRENCY
    for chat in chats:
        received = titles_received(bot_api, chat, titles)
        # The messages in flight were sent once and recorded once the disk had room; the thirty came as
        # one digest, each post once.
        assert set(received.values()) == {1}, received
    log = svc.log()
    assert all("cannot write database" in line for line in failed_polls(log)[failed_before:])
    assert "lease sender: lost" not in log


async def test_a_locked_or_full_database_fails_a_poll_cleanly_and_every_post_is_announced_once(
    tmp_path: Path, bot_api: BotApiServer
) -> None:
    chats = await prepare(tmp_path, readers=READERS)
    async with service(tmp_path, bot_api) as svc:
        await svc.wait_for_log("lease sender: taken")
        await svc.wait_for_log("1 unchanged")
        await bot_api.wait_for_poll(timeout=30)

        await locked_by_another_process(tmp_path, svc, bot_api, chats)
        await disk_full(tmp_path, svc, bot_api, chats)
        await bot_still_answers(bot_api, chats[0])

        # Stopped while the disk is full: the checkpoint at close cannot write the database file, so the
        # last commits stay in the WAL, where the next open finds them.
        with file_size_limit(svc.pid, 0):
            assert await svc.stop() == 0
    assert (tmp_path / "k.sqlite3-wal").stat().st_size > 0
    log = svc.log()
    assert "Traceback" not in log and "cli.run: stopped" in log
    assert query(tmp_path, "PRAGMA integrity_check") == [("ok",)]
    assert count(tmp_path, "posts") == 3 + BURST
    assert deliveries(tmp_path) == {"sent": 3 * READERS}
