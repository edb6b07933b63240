"""Fixtures of the weekly-email tests: the loopback SMTP server and a world whose mail goes to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.notifier.mail_support import MailWorld, mail_world
from tests.notifier.smtp_server import SmtpServer


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpServer]:
    """A running SMTP server on loopback."""
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
