"""End to end: the real `kexue-notifier run` with the bot on, against the local Bot API and a local blog."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.cli.test_run import read_until, start_service, stop
from tests.support.blog_server import BlogServer
from tests.support.bot_api import BotApiServer
from tests.support.fixtures import make_feed_xml

TZ = ZoneInfo("Asia/Shanghai")


async def test_run_answers_start_and_latest_as_a_user_sees_them(
    tmp_path: Path, blog_server: BlogServer, bot_api: BotApiServer
) -> None:
    items = [
        (
            10907,
            "Transformer升级之路：20、MLA好在哪里?（上）",
            datetime(2025, 5, 4, 9, tzinfo=TZ),
            "摘要 $x^2$。",
        ),
        (10900, "MoE环游记：5、均匀分布的反思", datetime(2025, 4, 20, 9, tzinfo=TZ), "负载均衡。"),
    ]
    blog_server.set("/feed", make_feed_xml(items), content_type="application/rss+xml")
    proc = await start_service(
        tmp_path,
        KEXUE_SOURCES=blog_server.url("/feed"),
        POLL_INTERVAL="60",
        READERS_REFRESH_DAYS="0",
        TELEGRAM_BOT_TOKEN=bot_api.token,
        TELEGRAM_API_BASE=bot_api.base_url,
        TELEGRAM_RICH="false",
    )
    assert proc.stderr is not None
    seen: list[str] = []
    try:
        await read_until(proc.stderr, "(baseline)", seen)
        await bot_api.wait_for_poll(timeout=30)
        reader = bot_api.user("Ada", language_code="en")
        bot_api.send_text(reader, None, "/start")
        welcome = await bot_api.wait_for_message(reader.id, timeout=15)
        assert welcome.plain.startswith("Hello, Ada!")
        bot_api.send_text(reader, None, "/latest")
        latest = await bot_api.wait_for_message(reader.id, timeout=15)
        assert latest.plain.startswith("The newest posts")
        assert latest.plain.index("MLA好在哪里") < latest.plain.index("均匀分布的反思")
        assert "x²" in latest.plain
        assert bot_api.commands_for(language_code="zh")
    finally:
        assert await stop(proc, seen) == 0
    log = "".join(seen)
    assert "bot: @kexue_notifier_bot" in log and "bot: stopped" in log
    assert "Traceback" not in log
    # The service's own "stopped" is the last line: aiogram's dispatcher says nothing after it.
    assert [line for line in seen if line.strip()][-1].rstrip().endswith("stopped")
    assert "Polling stopped" not in log
    assert bot_api.token not in log and bot_api.token.split(":")[1] not in log


async def test_without_a_token_run_says_plainly_that_the_bot_is_off(
    tmp_path: Path, blog_server: BlogServer
) -> None:
    blog_server.set("/feed", make_feed_xml([]), content_type="application/rss+xml")
    proc = await start_service(tmp_path, KEXUE_SOURCES=blog_server.url("/feed"), POLL_INTERVAL="60")
    assert proc.stderr is not None
    seen: list[str] = []
    await read_until(proc.stderr, "TELEGRAM_BOT_TOKEN is not set: the bot and sending are off", seen)
    assert await stop(proc, seen) == 0
    # Said once, not twice in other words.
    assert sum("bot" in line and "off" in line for line in seen) == 1
