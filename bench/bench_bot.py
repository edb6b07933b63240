"""The bot under a crowd, against a local Bot API enforcing Telegram's limits (30/s, 1/s per chat, 429).

The real dispatcher long-polls the local Bot API (tests/support/bot_api/) over HTTP on 127.0.0.1, over a
real SQLite file holding a synthetic archive of the blog's size; replies and the sender's broadcast share
the one budget (notifier/telegram/budget.py). Telegram's floor for N answers is N / 30 seconds.

Reported:
- 300 readers write /start at once, then /subscribe at once: answered (must be all), the time to the last
  answer as a multiple of the floor (target <= 1.2), and 429s received past the first second (target 0);
- during a broadcast to 10,000 readers, the p95 wait of 40 readers who search at once (target <= 2 s);
- CPU per command (the bot and the local Bot API share this process, so both are counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from archive.model import Post, PostDate
from bench.timing import percentiles
from bot.app import BotRunner
from notifier.bootstrap import App, open_app
from notifier.config import TelegramConfig
from notifier.settings import Settings
from storage.uow import unit_of_work
from tests.support.bot_api import BotApiServer, RateLimits, User
from tests.support.fixtures import content_entries
from tests.support.store import seed

POSTS = 1_330
CROWD = 300
BROADCAST = 10_000
SEARCHERS = 40
CPU_SAMPLES = 30
RATE = 30.0
COMMANDS = ("/latest", "/search 梯度", "/series")
NOW = datetime(2025, 12, 20, 12, tzinfo=ZoneInfo("Asia/Shanghai"))
SENDING = ("sendMessage", "sendRichMessage")
FIRST_READER = 7_000_000_001


def archive() -> list[Post]:
    """A synthetic archive of the blog's size, with formulas in some excerpts."""
    return [
        Post(
            ident,
            title,
            PostDate(day.year, day.month, day.day),
            1000 + ident % 5000,
            excerpt=f"{title}的推导：梯度 $\\nabla_{{\\theta}} L$ 与矩阵 $W^{{\\top}}W$ 的关系。" * 3,
        )
        for ident, title, day in content_entries(POSTS, seed=7)
    ]


async def answers(
    api: BotApiServer, chat_ids: list[int], after: int, timeout: float = 180
) -> dict[int, float]:
    """When the first answer to each chat arrived, reading the calls from index `after` on once each."""
    wanted = set(chat_ids)
    found: dict[int, float] = {}
    seen = after

    def probe() -> bool | None:
        nonlocal seen
        calls = api.calls
        for call in calls[seen:]:
            chat = call.chat_id
            if chat in wanted and chat not in found and call.method in SENDING and call.status == 200:
                found[chat] = call.at
        seen = len(calls)
        return True if len(found) == len(wanted) else None

    with contextlib.suppress(TimeoutError, AssertionError):
        await api.wait_for(probe, timeout=timeout)
    return found


async def crowd(api: BotApiServer, users: list[User], command: str) -> tuple[int, float, int]:
    """Every user sends `command` at once: (answered, last answer / floor, 429s past the first second)."""
    mark = len(api.calls)
    queued = api.clock()
    for user in users:
        api.send_text(user, None, command)
    ends = await answers(api, [user.id for user in users], mark)
    floor = len(users) / RATE
    last = max(ends.values(), default=float("inf")) - queued
    late_429 = sum(1 for c in api.calls[mark:] if c.status == 429 and c.at > queued + 1.0)
    return len(ends), last / floor, late_429


async def cpu_per_command(api: BotApiServer, users: list[User], command: str) -> float:
    """CPU seconds of this process per command, users asking one after another."""
    started = time.process_time()
    for user in users:
        mark = len(api.calls)
        api.send_text(user, None, command)
        await answers(api, [user.id], mark, timeout=30)
    return (time.process_time() - started) / len(users)


async def searches_during_broadcast(
    api: BotApiServer, app: App, users: list[User]
) -> tuple[list[float], int]:
    """The waits of `users` searching at once while the sender works through BROADCAST readers."""
    async with unit_of_work(app.db) as uow:
        chats = range(FIRST_READER, FIRST_READER + BROADCAST)
        await uow.subscribers.add_many(chats, lang="zh", now=NOW)
        await uow.deliveries.fan_out([(1, None)], burst_item="burst:bench", channel_id=None, now=NOW)
    sender = app.sender
    assert sender is not None
    task = asyncio.create_task(sender.run(), name="bench-sender")
    try:
        await asyncio.sleep(3.0)  # the broadcast at full speed
        before = len(api.sent)
        mark = len(api.calls)
        queued = api.clock()
        for user in users:
            api.send_text(user, None, "/search 梯度")
        ends = await answers(api, [user.id for user in users], mark, timeout=60)
        return [end - queued for end in ends.values()], len(api.sent) - before
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def run() -> None:
    """Measure the crowd, the crowd during a broadcast and the CPU per command, and print the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        async with BotApiServer(rate_limits=RateLimits()) as api:
            os.environ.update(
                {
                    "TELEGRAM_BOT_TOKEN": api.token,
                    "TELEGRAM_API_BASE": api.base_url,
                    "KEXUE_NOW": NOW.isoformat(),
                    "TELEGRAM_RATE": str(RATE),
                }
            )
            async with open_app(Settings(), db_path=str(Path(tmp) / "bench.sqlite3")) as app:
                await seed(app.db, archive(), now=NOW)
                config = TelegramConfig(token=api.token, api_base=api.base_url)
                runner = BotRunner(app, config)
                runner.start_polling(polling_timeout=1)
                await api.wait_for_poll(timeout=10)
                try:
                    await report(api, app)
                finally:
                    await runner.stop()


async def report(api: BotApiServer, app: App) -> None:
    """The figures, one line each."""
    users = [api.user(f"U{n}", language_code="en") for n in range(CROWD)]
    await cpu_per_command(api, users[:3], "/help")  # warm up: templates, caches, connections
    await asyncio.sleep(1.2)
    print(f"archive {POSTS:,} posts; Bot API limits 30/s, 1/s per chat; floor for N answers N/30 s")
    for command in ("/start", "/subscribe"):
        answered, multiple, late = await crowd(api, users, command)
        print(
            f"  {CROWD} readers send {command} at once: answered {answered}/{CROWD} (must be all), "
            f"last answer {multiple:.2f}x the floor (target <= 1.2), 429s past the first second {late} "
            "(target 0)",
            flush=True,
        )
        await asyncio.sleep(1.2)
    cpu = []
    for index, command in enumerate(COMMANDS):
        group = users[index * CPU_SAMPLES : (index + 1) * CPU_SAMPLES]
        cpu.append(f"{command.split()[0]} {await cpu_per_command(api, group, command) * 1000:.1f} ms")
    print(f"  CPU per command (bot and local Bot API in one process): {', '.join(cpu)}", flush=True)
    searchers = [api.user(f"S{n}", language_code="en") for n in range(SEARCHERS)]
    waits, broadcast = await searches_during_broadcast(api, app, searchers)
    p50, _ = percentiles(waits)
    p95 = sorted(waits)[max(0, int(len(waits) * 0.95) - 1)] if waits else float("inf")
    print(
        f"  {SEARCHERS} readers search during a broadcast to {BROADCAST:,}: "
        f"answered {len(waits)}/{SEARCHERS}, "
        f"p50 {p50:.2f} s, p95 {p95:.2f} s (target <= 2 s); the broadcast sent {broadcast} meanwhile",
        flush=True,
    )


def main() -> None:
    """Print the bot's figures under a crowd."""
    started = time.perf_counter()
    asyncio.run(run())
    print(f"(bench_bot took {time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
