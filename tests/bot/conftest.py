"""The bot under test: the real dispatcher long-polling the local Bot API over HTTP on a real SQLite file."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from archive.model import Post, PostDate
from bot.app import BotRunner, build_dispatcher
from notifier.bootstrap import App, open_app
from notifier.config import TelegramConfig
from notifier.settings import Settings
from notifier.telegram import Budget, make_bot
from tests.support.bot_api import BotApiServer, User
from tests.support.store import seed

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 5, 10, 12, 0, tzinfo=TZ)
ADMIN_ID = 777

POSTS = [
    Post(10366, "低秩近似之路（一）：伪逆", PostDate(2024, 9, 15), 9000, excerpt="伪逆的几种定义 $A^{+}$。"),
    Post(10427, "低秩近似之路（三）：CR", PostDate(2024, 10, 11), 5000, excerpt="矩阵乘法的近似。"),
    Post(10699, "MoE环游记：1、从几何意义出发", PostDate(2025, 2, 8), 7000, excerpt="混合专家模型。"),
    Post(10735, "MoE环游记：2、不患寡而患不均", PostDate(2025, 2, 21), 6000, excerpt="负载均衡 <b>&。"),
    Post(
        10592,
        "Muon优化器赏析：从向量到矩阵的本质跨越",
        PostDate(2024, 12, 10),
        12000,
        excerpt=r"矩阵的优化器，更新量为 $\boldsymbol{Q}\boldsymbol{K}^{\top}$ 的符号。",
    ),
] + [
    Post(
        10800 + n,
        f"杂谈第{n}号：关于梯度下降的思考",
        PostDate(2025, 3, 1 + n),
        100 + n,
        excerpt=f"梯度 {n}。" if n < 24 else r"梯度 $\nabla f$ 指向上升最快的方向。",
    )
    for n in range(1, 25)
]


@dataclass
class Harness:
    """The running bot, its application, and the local Bot API playing the users."""

    api: BotApiServer
    app: App
    runner: BotRunner
    config: TelegramConfig

    def user(self, lang: str | None = "zh-hans", **kwargs: object) -> User:
        """A new user of the given Telegram language."""
        return self.api.user(language_code=lang, **kwargs)  # type: ignore[arg-type]

    async def ask(self, user: User, text: str, chat: object = None, timeout: float = 10.0) -> str:
        """Send `text` as `user` and return the plain text of the bot's first answer."""
        self.api.send_text(user, chat, text)  # type: ignore[arg-type]
        chat_id = user.id if chat is None else chat.id  # type: ignore[attr-defined]
        return (await self.api.wait_for_message(chat_id, timeout=timeout)).plain


def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting from the developer's shell; the clock at NOW."""
    for name in list(os.environ):
        if name.startswith(
            ("KEXUE_", "POLL_", "LINK_", "TIME_", "TELEGRAM_", "ADMIN_", "WEBHOOK_", "CHANNEL_")
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("KEXUE_NOW", NOW.isoformat())
    monkeypatch.chdir(tmp_path)


@pytest.fixture
async def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[App]:
    """The application over a real file, seeded with POSTS."""
    clean_env(monkeypatch, tmp_path)
    async with open_app(Settings(), db_path=str(tmp_path / "k.sqlite3")) as opened:
        await seed(opened.db, POSTS, now=NOW)
        yield opened


async def running(
    api: BotApiServer, app: App, *, flood_limit: int = 20, rich: bool = True, budget: Budget | None = None
) -> AsyncIterator[Harness]:
    """The bot long-polling `api` until the test ends (its calls paced by `budget`, if any)."""
    config = TelegramConfig(
        token=api.token, api_base=api.base_url, admin_ids=frozenset({ADMIN_ID}), rich=rich
    )
    bot = make_bot(config, budget=budget)
    dp = build_dispatcher(app, config, flood_limit=flood_limit)
    runner = BotRunner(app, config, bot=bot, dp=dp)
    runner.start_polling(polling_timeout=1)
    await api.wait_for_poll(timeout=10)
    try:
        yield Harness(api, app, runner, config)
    finally:
        await runner.stop()


@pytest.fixture
async def harness(bot_api: BotApiServer, app: App) -> AsyncIterator[Harness]:
    """The bot running against the `bot_api` fixture."""
    async for running_harness in running(bot_api, app):
        yield running_harness


__all__ = ["ADMIN_ID", "NOW", "POSTS", "Harness", "replace", "running"]
