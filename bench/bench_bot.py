"""Bot handling time: /latest, /search and /series for 200 users at once beside one user at a time.

The real dispatcher long-polls the local Bot API (tests/support/bot_api/) over HTTP on 127.0.0.1, over a
real SQLite file holding a synthetic archive of the blog's size. A command's handling time runs from the
moment its update is queued at the API to the moment the bot's answer arrives there. Target: p99 under load
within 3x of the solo p99.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from archive.model import Post, PostDate
from bench.timing import percentiles
from bot.app import BotRunner, build_dispatcher
from notifier.bootstrap import open_app
from notifier.config import TelegramConfig
from notifier.settings import Settings
from notifier.telegram import make_bot
from tests.support.bot_api import BotApiServer, User
from tests.support.fixtures import content_entries
from tests.support.store import seed

POSTS = 1_330
USERS = 200
SOLO_SAMPLES = 40
COMMANDS = ("/latest", "/search 梯度", "/series")
NOW = datetime(2025, 12, 20, 12, tzinfo=ZoneInfo("Asia/Shanghai"))
SENDING = ("sendMessage", "sendRichMessage")


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


async def answers(api: BotApiServer, chat_ids: list[int], after: int) -> dict[int, float]:
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

    await api.wait_for(probe, timeout=120)
    return found


async def solo(api: BotApiServer, users: list[User], command: str) -> list[float]:
    """Each user in turn sends `command` and waits for the answer."""
    samples = []
    for user in users:
        mark = len(api.calls)
        queued = api.clock()
        api.send_text(user, None, command)
        samples.append((await answers(api, [user.id], mark))[user.id] - queued)
    return samples


async def crowd(api: BotApiServer, users: list[User], command: str) -> list[float]:
    """Every user sends `command` at the same moment."""
    mark = len(api.calls)
    queued = api.clock()
    for user in users:
        api.send_text(user, None, command)
    ends = await answers(api, [user.id for user in users], mark)
    return [end - queued for end in ends.values()]


async def run() -> None:
    """Measure each command solo and under load, and print the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            BotApiServer() as api,
            open_app(Settings(), db_path=str(Path(tmp) / "bench.sqlite3")) as app,
        ):
            await seed(app.db, archive(), now=NOW)
            config = TelegramConfig(token=api.token, api_base=api.base_url)
            runner = BotRunner(app, config, bot=make_bot(config), dp=build_dispatcher(app, config))
            runner.start_polling(polling_timeout=1)
            await api.wait_for_poll(timeout=10)
            try:
                users = [api.user(f"U{n}", language_code="en") for n in range(USERS)]
                await solo(api, users[:5], "/help")  # warm up: templates, caches, connections
                print(f"archive {POSTS:,} posts; {USERS} users at once vs one at a time (ms)")
                for command in COMMANDS:
                    alone = percentiles(await solo(api, users[:SOLO_SAMPLES], command))
                    await asyncio.sleep(0.2)
                    loaded = percentiles(await crowd(api, users, command))
                    ratio = loaded[1] / alone[1] if alone[1] else float("inf")
                    print(
                        f"  {command:<14} solo p50 {alone[0] * 1000:7.1f} p99 {alone[1] * 1000:7.1f}   "
                        f"load p50 {loaded[0] * 1000:7.1f} p99 {loaded[1] * 1000:7.1f}   "
                        f"p99 load/solo {ratio:5.1f}x (target <= 3x)",
                        flush=True,
                    )
                    # Leave the flood window of these users behind before the next command.
                    await asyncio.sleep(0.2)
            finally:
                await runner.stop()


def main() -> None:
    """Print the bot's handling times."""
    started = time.perf_counter()
    asyncio.run(run())
    print(f"(bench_bot took {time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
