"""Settings: the names and defaults of the issue, read from the environment and `.env`."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from notifier.settings import DEFAULT_FEED, Settings

NAMES = (
    "KEXUE_DB",
    "KEXUE_SOURCES",
    "POLL_INTERVAL",
    "NOTIFY_MAX_AGE_DAYS",
    "TIME_ZONE",
    "LINK_HOST",
    "KEXUE_NOW",
    "READERS_REFRESH_DAYS",
    "CRAWL_DELAY",
    "FETCH_TIMEOUT",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "ADMIN_IDS",
    "ALERT_AFTER",
    "WEB_TRUSTED_PROXIES",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting from the developer's shell or `.env`: each test sets its own."""
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_are_the_issues() -> None:
    settings = Settings()
    assert settings.kexue_db == "var/kexue.sqlite3"
    assert settings.kexue_sources == [DEFAULT_FEED] == ["https://kexue.fm/feed"]
    assert (settings.poll_interval, settings.notify_max_age_days) == (900, 14)
    assert (settings.time_zone, settings.link_host, settings.kexue_now) == ("Asia/Shanghai", "kexue.fm", None)


def test_sources_are_comma_separated_not_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEXUE_SOURCES", " https://kexue.fm/feed , /tmp/a capture.txt,,https://spaces.ac.cn/ ")
    assert Settings().kexue_sources == [
        "https://kexue.fm/feed",
        "/tmp/a capture.txt",
        "https://spaces.ac.cn/",
    ]


def test_dotenv_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "KEXUE_DB=/srv/k.sqlite3\nKEXUE_SOURCES=a.xml,b.txt\nLINK_HOST=spaces.ac.cn\nKEXUE_NOW=\n",
        encoding="utf-8",
    )
    settings = Settings()
    assert (settings.kexue_db, settings.kexue_sources) == ("/srv/k.sqlite3", ["a.xml", "b.txt"])
    assert (settings.link_host, settings.kexue_now) == ("spaces.ac.cn", None)


def test_a_naive_kexue_now_is_read_in_time_zone_and_then_runs_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEXUE_NOW", "2025-05-10T12:00:00")
    monkeypatch.setenv("TIME_ZONE", "UTC")
    settings = Settings()
    first = settings.now()
    assert first - datetime(2025, 5, 10, 12, tzinfo=ZoneInfo("UTC")) < timedelta(seconds=5)
    time.sleep(0.05)
    # A service started with KEXUE_NOW must see time pass, or a backed-off source would never be retried.
    assert settings.now() - first >= timedelta(seconds=0.05)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KEXUE_NOW", "1700000000"),
        ("KEXUE_NOW", "tomorrow"),
        ("LINK_HOST", "example.com"),
        ("TIME_ZONE", "Mars/Olympus"),
        ("POLL_INTERVAL", "0"),
        ("FETCH_TIMEOUT", "0"),
        ("FETCH_TIMEOUT", "nan"),
        ("LOG_LEVEL", "LOUD"),
        ("KEXUE_SOURCES", " , "),
        ("WEB_TRUSTED_PROXIES", "127.0.0.1,proxy.local"),
    ],
)
def test_bad_values_are_rejected(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_trusted_proxies_are_comma_separated_addresses_or_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_TRUSTED_PROXIES", " 10.0.0.0/8, ::1 ")
    assert Settings().web_trusted_proxies == ["10.0.0.0/8", "::1"]
    monkeypatch.setenv("WEB_TRUSTED_PROXIES", "none")
    assert Settings().web_trusted_proxies == []


def test_every_setting_is_in_env_example_with_a_comment() -> None:
    example = (Path(__file__).parents[2] / ".env.example").read_text(encoding="utf-8").splitlines()
    for name in NAMES:
        index = next(i for i, line in enumerate(example) if line.startswith(f"{name}="))
        assert example[index - 1].startswith("#"), name
