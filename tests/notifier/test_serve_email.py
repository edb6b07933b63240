"""`run` starts the web app and the weekly-email jobs, and says plainly when email is off."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp

from tests.cli.test_run import read_until, start_service, stop
from tests.support.smtp_server import SmtpServer


async def test_run_serves_the_web_app_and_says_email_is_off_without_smtp_host(tmp_path: Path) -> None:
    proc = await start_service(tmp_path, KEXUE_SOURCES="http://127.0.0.1:9/feed", WEB_PORT="0", SMTP_HOST="")
    assert proc.stderr is not None
    seen: list[str] = []
    await read_until(proc.stderr, "web app listening on", seen)
    await read_until(proc.stderr, "poll failed", seen)
    log = "".join(seen)
    assert "email is off: SMTP_HOST is not set" in log
    found = re.search(r"web app listening on (http://127\.0\.0\.1:\d+)", log)
    assert found is not None
    async with aiohttp.ClientSession() as session, session.get(found[1] + "/healthz") as response:
        assert response.status == 200 and (await response.json())["status"] == "ok"
    assert await stop(proc, seen) == 0
    assert "Traceback" not in "".join(seen)


async def test_run_schedules_the_weekly_email_with_an_smtp_server(tmp_path: Path, smtp: SmtpServer) -> None:
    proc = await start_service(
        tmp_path,
        KEXUE_SOURCES="http://127.0.0.1:9/feed",
        WEB_PORT="0",
        SMTP_HOST=smtp.host,
        SMTP_PORT=str(smtp.port),
        SMTP_SECURITY="none",
        WEEKLY_DAY="Monday",
        WEEKLY_TIME="7:30",
    )
    assert proc.stderr is not None
    seen: list[str] = []
    await read_until(proc.stderr, "weekly email on mon at 07:30", seen)
    # Stopped once the first poll has run (a stop in the very first milliseconds is another test's subject).
    await read_until(proc.stderr, "poll failed", seen)
    assert await stop(proc, seen) == 0
    assert "email is off" not in "".join(seen) and "Traceback" not in "".join(seen)
