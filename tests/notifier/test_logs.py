"""Logs: text or one JSON object per line, times in TIME_ZONE, and never a secret."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from notifier.logs import Scrubber, formatter
from notifier.settings import Settings
from tests.cli.test_main import Cli
from tests.support.blog_server import BlogServer
from tests.support.fixtures import make_feed_xml

TZ = ZoneInfo("Asia/Shanghai")
TOKEN = "123456789:AAHlocal-test-token_kexue-notifier"
PASSWORD = "pa55word-xyz"


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    """A record as `logging.getLogger("notifier.ingest.polling").warning(message, *args, extra=extra)` makes
    (one polling line)."""
    made = logging.LogRecord("notifier.ingest.polling", logging.WARNING, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    made.created = datetime(2025, 5, 10, 4, 0, 0, 250_000, tzinfo=ZoneInfo("UTC")).timestamp()
    return made


def test_a_json_line_has_the_time_in_time_zone_level_logger_message_and_context() -> None:
    line = formatter("json", TZ).format(
        record("poll failed: %s (failure %d)", "https://kexue.fm/feed", 3, source="x")
    )
    assert "\n" not in line
    assert json.loads(line) == {
        "time": "2025-05-10T12:00:00.250+08:00",
        "level": "WARNING",
        "logger": "notifier.ingest.polling",
        "message": "poll failed: https://kexue.fm/feed (failure 3)",
        "source": "x",
    }


def test_text_lines_keep_their_shape() -> None:
    line = formatter("text", TZ).format(record("poll %d: %d new", 7, 2))
    assert line == "2025-05-10 12:00:00.250+08:00 WARNING notifier.ingest.polling: poll 7: 2 new"


def test_secrets_are_masked_in_messages_context_and_tracebacks() -> None:
    fmt = formatter("json", TZ, [TOKEN, PASSWORD, None])
    try:
        raise OSError(f"cannot connect to https://api.telegram.org/bot{TOKEN}/getMe")
    except OSError:
        failed = record("sending with %s", TOKEN, url=f"https://u:{PASSWORD}@kexue.fm/feed")
        failed.exc_info = sys.exc_info()
    line = fmt.format(failed)
    assert TOKEN not in line and PASSWORD not in line
    entry = json.loads(line)
    assert entry["message"] == "sending with ***"
    assert entry["url"] == "https://u:***@kexue.fm/feed"
    assert "bot***/getMe" in entry["exception"]


@pytest.mark.parametrize(
    "text",
    [
        "https://bob:hunter2x@example.org/feed",
        "GET /bot987654321:AAHsomething-quite_secret-here/sendMessage",
        "https://kexue.fm/feed?access_token=abcdef&page=2",
    ],
)
def test_secret_shapes_are_masked_even_when_no_setting_names_them(text: str) -> None:
    scrubbed = Scrubber()(text)
    for secret in ("hunter2x", "AAHsomething-quite_secret-here", "abcdef"):
        assert secret not in scrubbed
    assert "page=2" in Scrubber()("?page=2&x=1")


def test_log_format_is_text_or_json(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    assert Settings().log_format == "text"
    monkeypatch.setenv("LOG_FORMAT", " JSON ")
    assert Settings().log_format == "json"
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ValidationError, match="neither text nor json"):
        Settings()


async def test_a_command_logs_json_lines_without_the_token_or_a_url_password(
    tmp_path: Path, blog_server: BlogServer
) -> None:
    items = [(10_001, "第一篇", datetime(2025, 5, 1, 9, tzinfo=TZ), "摘要")]
    blog_server.set("/feed", make_feed_xml(items), content_type="application/rss+xml")
    with_password = blog_server.url("/feed").replace("http://", f"http://reader:{PASSWORD}@")
    cli = Cli(tmp_path)
    run = await cli(
        "poll",
        with_password,
        f"http://reader:{PASSWORD}@127.0.0.1:9/feed?token={PASSWORD}",
        LOG_FORMAT="json",
        LOG_LEVEL="DEBUG",
        TELEGRAM_BOT_TOKEN=TOKEN,
        KEXUE_SOURCES=with_password,
    )
    assert run.code == 0, run.stderr
    output = run.stdout + run.stderr
    assert PASSWORD not in output and TOKEN not in output
    logged = [json.loads(line) for line in run.stderr.splitlines() if line.startswith("{")]
    assert any(entry["logger"] == "notifier.ingest.polling" for entry in logged)
    for entry in logged:
        assert {"time", "level", "logger", "message"} <= entry.keys()
        assert datetime.fromisoformat(entry["time"]).utcoffset() is not None
