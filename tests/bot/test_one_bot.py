"""One Bot for the whole process: the bot's replies and the sender's broadcasts go through the same adapter,
so the same budget paces them."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import BotRunner
from notifier.bootstrap import open_app
from notifier.settings import Settings
from tests.bot.conftest import clean_env
from tests.support.bot_api import BotApiServer


async def test_the_bot_and_the_sender_share_one_bot_and_its_budget(
    bot_api: BotApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean_env(monkeypatch, tmp_path)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", bot_api.token)
    monkeypatch.setenv("TELEGRAM_API_BASE", bot_api.base_url)
    async with open_app(Settings(), db_path=str(tmp_path / "k.sqlite3")) as app:
        telegram, sender = app.telegram, app.sender
        assert app.config.telegram is not None
        assert telegram is not None and sender is not None
        runner = BotRunner(app, app.config.telegram)
        try:
            assert runner.bot is telegram.bot
            assert sender.telegram is telegram
            assert runner.dp["rich"] is telegram
            assert telegram.budget is not None
            # The budget sits on the Bot's session: every call through that Bot passes it.
            assert telegram.budget.middleware in telegram.bot.session.middleware[:]
        finally:
            await runner.stop()


async def test_a_malformed_token_turns_telegram_off_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clean_env(monkeypatch, tmp_path)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "not-a-token")
    async with open_app(Settings(), db_path=str(tmp_path / "k.sqlite3")) as app:
        assert app.telegram is None
        assert app.sender is None
    assert any("not a bot token" in r.getMessage() for r in caplog.records)
    assert "not-a-token" not in caplog.text
