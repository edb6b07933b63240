"""Shared setup of the weekly-email tests: an application whose mail goes to the loopback SMTP server, a clock
the test moves, seeded posts (one with a title holding markup) and confirmed addresses."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from archive.model import Post, PostDate
from notifier.bootstrap import App, open_app
from notifier.config import Config
from notifier.mail.weekly import WeeklyMail
from notifier.services import Services
from notifier.settings import Settings
from tests.support.smtp_server import SmtpServer
from tests.support.store import seed

TZ = ZoneInfo("Asia/Shanghai")
# Monday of ISO week 2025-W20, an hour after the default send time (08:00).
MONDAY = datetime(2025, 5, 12, 9, 0, tzinfo=TZ)
SECRET = "test-secret-key"
BASE_URL = "https://mail.example.org"
POSTS = [
    Post(10901, "MoE环游记：5、均匀分布的反思", PostDate(2025, 5, 8), excerpt="负载均衡的另一种视角。"),
    Post(10902, "When <script>alert(1)</script> & friends", PostDate(2025, 5, 10), excerpt="a < b > c"),
]


@dataclass
class Clock:
    """A clock the test moves."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class MailWorld:
    """The application, its clock and its mail settings pointed at the loopback SMTP server."""

    app: App
    clock: Clock
    config: Config
    smtp: SmtpServer

    def weekly(self, **mail: Any) -> WeeklyMail:
        """The weekly job over this world (mail settings overridden by `mail`)."""
        config = replace(self.config, mail=replace(self.config.mail, **mail)) if mail else self.config
        return WeeklyMail(db=self.app.db, config=config, renderer=self.app.renderer, clock=self.clock)

    def services(self, **mail: Any) -> Services:
        """The service layer over this world (mail settings overridden by `mail`)."""
        config = replace(self.config, mail=replace(self.config.mail, **mail)) if mail else self.config
        return Services(
            config=config,
            db=self.app.db,
            clock=self.clock,
            poller=lambda: self.app.poller,
            crawler=self.app.crawler,
            renderer=lambda: self.app.renderer,
        )

    async def confirmed(self, address: str, lang: str = "zh", *, days_ago: int = 3) -> int:
        """An address signed up and confirmed `days_ago` days before the clock; its id."""
        at = self.clock.now - timedelta(days=days_ago)
        async with self.app.uow() as uow:
            signed = await uow.emails.sign_up(address, lang=lang, now=at)
            await uow.emails.confirm(signed.email.id, at)
        return signed.email.id


def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting of the machine running the tests leaks in."""
    prefixes = (
        "KEXUE_",
        "POLL_",
        "LINK_",
        "TIME_",
        "SMTP_",
        "MAIL_",
        "WEB_",
        "PUBLIC_",
        "SECRET_",
        "WEEKLY_",
    )
    for name in list(os.environ):
        if name.startswith(prefixes) or name == "SEND_EMPTY_WEEKS":
            monkeypatch.delenv(name)


@asynccontextmanager
async def mail_world(
    tmp_path: Path, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[MailWorld]:
    """The world of a weekly-email test, its clock at MONDAY."""
    clean_environment(monkeypatch)
    monkeypatch.chdir(tmp_path)
    async with open_app(Settings(), db_path=str(tmp_path / "k.sqlite3")) as app:
        clock = Clock(MONDAY)
        config = replace(
            app.config,
            tz=TZ,
            mail=replace(
                app.config.mail,
                smtp_host=smtp.host,
                smtp_port=smtp.port,
                smtp_security="none",
                mail_from="科学空间 Weekly <weekly@example.org>",
                mail_rate=1000.0,
                public_base_url=BASE_URL,
                secret_key=SECRET,
            ),
        )
        await seed(app.db, POSTS, now=MONDAY - timedelta(days=2))
        yield MailWorld(app, clock, config, smtp)


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpServer]:
    """A running SMTP server on loopback (a pytest fixture)."""
    server = SmtpServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def world(
    tmp_path: Path, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[MailWorld]:
    """The weekly-email world over a fresh database and the loopback SMTP server."""
    async with mail_world(tmp_path, smtp, monkeypatch) as opened:
        yield opened
