"""Fan-out of one new post to 20,000 readers through the real service against a rate-limited local Bot API.

The service (`kexue-notifier run`, a child process) polls a feed file holding one new post, fans it out and
sends; the local Bot API (this process) enforces a global rate and one message a second per private chat,
answering 429 beyond them, as Telegram does, with the rates scaled up so the run stays short (the fraction
of the allowed rate is what counts). SEND_RATE is set just under the server's global limit, as it is set
under Telegram's 30 a second in production.

Reported: messages a second as a fraction of the allowed rate (target ≥ 0.95), 429s (target 0), duplicates
and losses (0), and the sender's peak RSS (VmHWM) with 20,000 and with 200,000 readers queued (within 20%:
it streams rows in batches). The 200,000 run stops after the same number of messages as the 20,000 one.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from archive.model import Post, PostDate
from storage.db import database
from storage.uow import unit_of_work
from tests.support.bot_api import BotApiServer, RateLimits, start_bot_api
from tests.support.fixtures import make_feed_xml
from tests.support.store import ingest

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 5, 10, 12, 0, tzinfo=TZ)
READERS = int(os.environ.get("BENCH_READERS", "20000"))
MANY_READERS = 200_000
GLOBAL_LIMIT = int(
    os.environ.get("BENCH_LIMIT", "400")
)  # messages a second the local Bot API accepts (Telegram: about 30)
SEND_RATE = GLOBAL_LIMIT * 0.97
CONCURRENCY = 16
FIRST_CHAT = 5_000_000_001


async def prepare(workdir: Path, readers: int) -> None:
    """A store past its baseline poll, `readers` readers following everything, a feed with one new post."""
    async with database(workdir / "k.sqlite3") as db:
        old = Post(id=10000, title="旧文章", date=PostDate.from_iso("2025-05-01"), excerpt="旧。")
        await ingest(db, [old], now=NOW - timedelta(hours=1), tz=TZ, max_age_days=14)
        chats = range(FIRST_CHAT, FIRST_CHAT + readers)
        for start in range(0, readers, 10_000):
            async with unit_of_work(db) as uow:
                await uow.subscribers.add_many(chats[start : start + 10_000], lang="zh", now=NOW)
    excerpt = "注意力要除以$\\sqrt{d}$，否则$\\text{softmax}$会趋于one hot。"
    feed = make_feed_xml([(10735, "MoE环游记：2、不患寡而患不均", NOW - timedelta(hours=2), excerpt)])
    (workdir / "feed.xml").write_bytes(feed)


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set (VmHWM), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run_service(workdir: Path, server: BotApiServer, stop_after: int) -> tuple[float, float]:
    """Run the service until `stop_after` messages arrived; (seconds from first to last, peak RSS MiB)."""
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
        "SEND_RATE": str(SEND_RATE),
        "TELEGRAM_RATE": str(GLOBAL_LIMIT),
        "SEND_CONCURRENCY": str(CONCURRENCY),
        "LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli.main", "run", cwd=workdir, env=env, stderr=asyncio.subprocess.DEVNULL
    )
    peak = 0.0
    try:
        while len(server.sent) < stop_after:
            if proc.returncode is not None:
                raise RuntimeError("the service exited")
            peak = max(peak, peak_rss_mib(proc.pid))
            await asyncio.sleep(0.2)
        peak = max(peak, peak_rss_mib(proc.pid))
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.wait()
    accepted = [c.at for c in server.calls_of("sendMessage") if c.status == 200]
    return accepted[-1] - accepted[0], peak


async def one(readers: int, stop_after: int) -> tuple[float, int, int, int, float]:
    """(fraction of the allowed rate, 429s, duplicates, losses, peak RSS MiB) of one run."""
    limits = RateLimits(global_per_second=GLOBAL_LIMIT, private_per_second=1, group_per_minute=20)
    server = await start_bot_api(rate_limits=limits)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            await prepare(Path(tmp), readers)
            seconds, peak = await run_service(Path(tmp), server, stop_after)
        received = Counter(m.chat_id for m in server.sent)
        duplicates = sum(n - 1 for n in received.values())
        losses = stop_after - len(received) if stop_after == readers else 0
        rate = (len(server.sent) - 1) / seconds if seconds > 0 else float("nan")
        return rate / GLOBAL_LIMIT, server.too_many_requests, duplicates, losses, peak
    finally:
        await server.stop()


async def bench() -> None:
    started = time.perf_counter()
    fraction, refused, duplicates, losses, peak = await one(READERS, READERS)
    print(
        f"fan-out to {READERS:,} readers, Bot API limit {GLOBAL_LIMIT}/s and 1/s per chat, "
        f"SEND_RATE {SEND_RATE:g}, SEND_CONCURRENCY {CONCURRENCY}: {fraction * GLOBAL_LIMIT:.0f} msgs/s = "
        f"{fraction:.3f} of the allowed rate (target >= 0.95), 429s {refused} (target 0), "
        f"duplicates {duplicates}, losses {losses} (must be 0)"
    )
    _, _, _, _, many_peak = await one(MANY_READERS, READERS)
    print(
        f"sender peak RSS: {peak:.1f} MiB with {READERS:,} readers, {many_peak:.1f} MiB with "
        f"{MANY_READERS:,} queued (first {READERS:,} sent): ratio {many_peak / peak:.2f} (target within 1.20)"
    )
    print(f"({time.perf_counter() - started:.0f} s in all)")


def main() -> None:
    """Run the delivery benchmark."""
    asyncio.run(bench())


if __name__ == "__main__":
    main()
