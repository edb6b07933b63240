"""`doctor`'s checks against real local servers: a blog, the Bot API, an SMTP server, and a dead port."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import SecretStr

from notifier.config import Config, MailConfig, TelegramConfig
from notifier.ops import SmtpLogin, check_bot, check_smtp, check_source, doctor, smtp_of
from storage.db import database
from tests.cli.test_main import Cli
from tests.support.blog_server import BlogServer
from tests.support.bot_api import BotApiServer
from tests.support.fixtures import make_feed_xml

TZ = ZoneInfo("Asia/Shanghai")
RSS = "application/rss+xml; charset=UTF-8"
USER, PASSWORD = "kexue", "s3cret-mail-password"


def dead_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config(**values: Any) -> Config:
    """A Config as the settings' defaults give it, with `values` replaced."""
    base = Config(
        db_path=":memory:",
        sources=("https://kexue.fm/feed",),
        tz=TZ,
        link_host="kexue.fm",
        poll_interval=900,
        notify_max_age_days=14,
        readers_refresh_days=7,
        crawl_delay=1.0,
        excerpt_chars=200,
    )
    return dataclasses.replace(base, **values)


class _Accept:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (USER.encode(), PASSWORD.encode())
    # handled=False: the server itself answers 535, as a real one does.
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[int]:
    """A real SMTP server on 127.0.0.1 (no TLS) that accepts USER/PASSWORD; yields its port."""
    port = dead_port()
    controller = Controller(
        _Accept(), hostname="127.0.0.1", port=port, authenticator=_authenticate, auth_require_tls=False
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


async def test_a_feed_that_answers_is_ok_and_a_dead_port_says_how_to_fix_it(blog_server: BlogServer) -> None:
    items = [(10_001, "第一篇", datetime(2025, 5, 1, 9, tzinfo=TZ), "摘要")]
    blog_server.set("/feed", make_feed_xml(items), content_type=RSS)
    ok = await check_source(blog_server.url("/feed"), TZ)
    assert (ok.status, ok.detail) == ("ok", f"{blog_server.url('/feed')}: feed, 1 post")
    dead = await check_source(f"http://127.0.0.1:{dead_port()}/feed", TZ, timeout=2)
    assert dead.failed and dead.detail.endswith("check KEXUE_SOURCES, the network and any proxy")


async def test_an_error_page_is_reachable_but_not_ok(blog_server: BlogServer) -> None:
    blog_server.set("/feed", b"<html><body>502 Bad Gateway</body></html>")
    found = await check_source(blog_server.url("/feed"), TZ)
    assert found.failed and "answers, but not with posts" in found.detail


async def test_a_file_source_must_be_readable(tmp_path: Path) -> None:
    found = await check_source(str(tmp_path / "missing.xml"), TZ)
    assert found.failed and "check the path in KEXUE_SOURCES" in found.detail


async def test_the_bot_token_is_checked_with_getme(bot_api: BotApiServer) -> None:
    assert (await check_bot(config())).status == "off"
    good = await check_bot(config(telegram=TelegramConfig(token=bot_api.token, api_base=bot_api.base_url)))
    assert good.status == "ok" and f"(id {bot_api.bot.id})" in good.detail
    wrong = "987654321:AAHwrong-token-entirely_kexue-notifier"
    bad = await check_bot(config(telegram=TelegramConfig(token=wrong, api_base=bot_api.base_url)))
    assert bad.failed and "401 Unauthorized" in bad.detail and wrong not in bad.detail
    garbled = await check_bot(config(telegram=TelegramConfig(token="not a token", api_base=bot_api.base_url)))
    assert garbled.failed and "@BotFather" in garbled.detail
    gone = await check_bot(
        config(telegram=TelegramConfig(token=bot_api.token, api_base=f"http://127.0.0.1:{dead_port()}")),
        timeout=2,
    )
    assert gone.failed and "check TELEGRAM_API_BASE" in gone.detail and bot_api.token not in gone.detail


async def test_the_smtp_login_is_tried_only_when_smtp_host_is_set(smtp_server: int) -> None:
    assert smtp_of(config()) is None
    assert (await check_smtp(None)).status == "off"
    mail = dataclasses.replace(
        config(),
        mail=MailConfig(
            smtp_host="127.0.0.1",
            smtp_port=smtp_server,
            smtp_user=USER,
            smtp_password=PASSWORD,
            smtp_security="none",
        ),
    )
    login = smtp_of(mail)
    assert login == SmtpLogin("127.0.0.1", smtp_server, "none", USER, SecretStr(PASSWORD))
    ok = await check_smtp(login)
    assert ok.status == "ok" and PASSWORD not in ok.detail
    assert "plaintext" in ok.detail  # the login works, and the password crossed in the clear
    wrong = await check_smtp(dataclasses.replace(login, password=SecretStr("guess")))
    assert wrong.failed and "check SMTP_USER and SMTP_PASSWORD" in wrong.detail
    no_tls = await check_smtp(dataclasses.replace(login, security="starttls"))
    assert no_tls.failed and "SMTP_SECURITY" in no_tls.detail
    refused = await check_smtp(dataclasses.replace(login, port=dead_port()), timeout=2)
    assert refused.failed and "check SMTP_HOST, SMTP_PORT" in refused.detail


async def test_doctor_reports_the_file_not_the_in_memory_store(tmp_path: Path) -> None:
    async with database(tmp_path / "k.sqlite3"):
        pass
    checks = await doctor(config(sources=(str(tmp_path / "nothing.xml"),)), str(tmp_path / "k.sqlite3"))
    assert [c.name for c in checks] == ["settings", "database", "blog", "telegram", "email"]
    assert f"KEXUE_DB={tmp_path / 'k.sqlite3'}" in checks[0].detail
    assert checks[1].status == "ok" and "schema version" in checks[1].detail


async def test_doctor_command_exit_status_and_no_secret(
    tmp_path: Path, blog_server: BlogServer, bot_api: BotApiServer
) -> None:
    items = [(10_001, "第一篇", datetime(2025, 5, 1, 9, tzinfo=TZ), "摘要")]
    blog_server.set("/feed", make_feed_xml(items), content_type=RSS)
    cli = Cli(tmp_path)
    env = {
        "KEXUE_SOURCES": blog_server.url("/feed"),
        "TELEGRAM_API_BASE": bot_api.base_url,
        "TELEGRAM_BOT_TOKEN": bot_api.token,
    }
    assert (await cli("poll", **env)).code == 0
    healthy = await cli("doctor", **env)
    assert healthy.code == 0, healthy.stdout
    lines = healthy.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["settings", "ok"],
        ["database", "ok"],
        ["blog", "ok"],
        ["telegram", "ok"],
        ["email", "off"],
    ]
    assert bot_api.token not in healthy.stdout + healthy.stderr

    wrong = "987654321:AAHwrong-token-entirely_kexue-notifier"
    broken = await cli(
        "doctor",
        "--json",
        **{**env, "TELEGRAM_BOT_TOKEN": wrong, "KEXUE_SOURCES": f"http://127.0.0.1:{dead_port()}/"},
    )
    assert broken.code == 1
    report = {c["check"]: c for c in broken.json()}
    assert report["telegram"]["status"] == report["blog"]["status"] == "FAIL"
    assert "401" in report["telegram"]["detail"]
    assert report["database"]["status"] == "ok"
    assert wrong not in broken.stdout + broken.stderr

    missing = await cli("doctor", "--db", "typo.sqlite3", KEXUE_SOURCES=env["KEXUE_SOURCES"])
    assert missing.code == 1 and "database  FAIL typo.sqlite3 does not exist" in missing.stdout
    assert not (tmp_path / "typo.sqlite3").exists()
