"""kill -9 during a fan-out: the real `kexue-notifier run`, the local Bot API, a few hundred chats.

Every chat must get the post, and each kill may repeat at most the messages in flight (SEND_CONCURRENCY).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from archive.model import Post, PostDate
from storage.db import database
from storage.uow import read_stores, unit_of_work
from tests.support.bot_api import BotApiServer
from tests.support.fixtures import make_feed_xml
from tests.support.store import ingest

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 5, 10, 12, 0, tzinfo=TZ)
CHATS = 300
CONCURRENCY = 8
KILLS = 3


async def prepare(workdir: Path) -> list[int]:
    """A store past its baseline poll with CHATS readers, and a feed file holding one new post."""
    chats = list(range(9_100_001, 9_100_001 + CHATS))
    async with database(workdir / "k.sqlite3") as db:
        old = Post(id=10000, title="旧文章", date=PostDate.from_iso("2025-05-01"), excerpt="旧。")
        await ingest(db, [old], now=NOW - timedelta(hours=1), tz=TZ, max_age_days=14)
        async with unit_of_work(db) as uow:
            for chat in chats:
                await uow.subscribers.start(chat, chat_type="private", lang="zh", now=NOW - timedelta(days=1))
                await uow.subscribers.follow_all(chat, NOW - timedelta(days=1))
    feed = make_feed_xml(
        [
            (
                10735,
                "MoE环游记：2、不患寡而患不均",
                NOW - timedelta(hours=2),
                "负载均衡的$\\text{aux loss}$。",
            ),
            (10000, "旧文章", NOW - timedelta(days=9), "旧。"),
        ]
    )
    (workdir / "feed.xml").write_bytes(feed)
    return chats


async def start(workdir: Path, server: BotApiServer, run: int) -> asyncio.subprocess.Process:
    """`kexue-notifier run` against the local Bot API; its log goes to run-<n>.log."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("KEXUE_", "POLL_", "TELEGRAM_", "SEND_"))
    }
    env = {
        **clean,
        "KEXUE_DB": str(workdir / "k.sqlite3"),
        "KEXUE_SOURCES": str(workdir / "feed.xml"),
        "KEXUE_NOW": NOW.isoformat(),
        "POLL_INTERVAL": "3600",
        "READERS_REFRESH_DAYS": "0",
        "TELEGRAM_BOT_TOKEN": server.token,
        "TELEGRAM_API_BASE": server.base_url,
        "TELEGRAM_RICH": "false",
        "SEND_RATE": "400",
        "SEND_CONCURRENCY": str(CONCURRENCY),
        "LOG_LEVEL": "DEBUG",
    }
    log = (workdir / f"run-{run}.log").open("wb")
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cli.main", "run", cwd=workdir, env=env, stdout=log, stderr=log
        )
    finally:
        log.close()


async def wait_for_sent(server: BotApiServer, count: int, proc: asyncio.subprocess.Process) -> None:
    """Until the Bot API has accepted `count` messages in all (the service must keep running)."""
    for _ in range(3000):
        if len(server.sent) >= count:
            return
        assert proc.returncode is None, "the service exited"
        await asyncio.sleep(0.01)
    raise AssertionError(f"only {len(server.sent)} of {count} messages arrived")


async def test_kill_9_during_a_fan_out_loses_nothing_and_repeats_at_most_the_messages_in_flight(
    tmp_path: Path, bot_api: BotApiServer
) -> None:
    chats = await prepare(tmp_path)
    rng = random.Random()
    seed = rng.randrange(10**6)
    rng.seed(seed)
    for run in range(KILLS):
        proc = await start(tmp_path, bot_api, run)
        # A random point of the fan-out: after some more messages went out (the first run: 0 to 100).
        target = len(bot_api.sent) + rng.randrange(1 if run else 0, 60)
        await wait_for_sent(bot_api, target, proc)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    proc = await start(tmp_path, bot_api, KILLS)
    received: Counter[int] = Counter()
    for _ in range(3000):
        received = Counter(m.chat_id for m in bot_api.sent)
        if len(received) == CHATS:
            break
        await asyncio.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), timeout=20) == 0

    missing = [c for c in chats if received[c] == 0]
    duplicates = sum(n - 1 for n in received.values())
    assert not missing, f"seed {seed}: {len(missing)} chats never got the post"
    assert duplicates <= CONCURRENCY * KILLS, f"seed {seed}: {duplicates} duplicates"
    assert all(m.plain.startswith("科学空间有新文章") for m in bot_api.sent)
    logs = "".join((tmp_path / f"run-{n}.log").read_text() for n in range(KILLS + 1))
    assert bot_api.token not in logs and bot_api.token.partition(":")[2] not in logs
    assert "Traceback" not in logs
    async with database(tmp_path / "k.sqlite3") as db:
        counts = await read_stores(db).deliveries.counts()
    assert counts["sent"] == CHATS and sum(counts.values()) == CHATS
