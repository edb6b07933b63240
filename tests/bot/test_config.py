"""The bot's settings: the issue's names, parsed and checked, the token kept out of every repr."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from notifier.config import TelegramConfig
from notifier.settings import Settings
from tests.bot.conftest import clean_env


def test_no_token_means_no_bot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env(monkeypatch, tmp_path)
    assert TelegramConfig.from_settings(Settings()) is None
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "   ")
    assert TelegramConfig.from_settings(Settings()) is None


def test_the_bot_settings_by_their_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env(monkeypatch, tmp_path)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "42:SECRET-token")
    monkeypatch.setenv("TELEGRAM_API_BASE", "http://127.0.0.1:8081/")
    monkeypatch.setenv("ADMIN_IDS", "1, 22,333")
    monkeypatch.setenv("CHANNEL_ID", "@kexue_channel")
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.org/tg")
    monkeypatch.setenv("WEBHOOK_SECRET", "hush")
    monkeypatch.setenv("TELEGRAM_RICH", "false")
    settings = Settings()
    config = TelegramConfig.from_settings(settings)
    assert config is not None
    assert config.token == "42:SECRET-token" and config.api_base == "http://127.0.0.1:8081"
    assert config.admin_ids == {1, 22, 333} and config.channel_id == "@kexue_channel"
    assert config.webhook_path == "/tg" and config.webhook_secret == "hush" and not config.rich
    assert "SECRET" not in repr(config) and "SECRET" not in repr(settings) and "hush" not in repr(config)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ADMIN_IDS", "1,alice"),
        ("TELEGRAM_API_BASE", "127.0.0.1:8081"),
        ("WEBHOOK_URL", "http://plain.org/x"),
    ],
)
def test_bad_bot_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str
) -> None:
    clean_env(monkeypatch, tmp_path)
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name):
        Settings()
