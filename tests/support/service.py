"""The real `kexue-notifier run` as a subprocess, for end-to-end and fault tests.

The child gets a clean environment: every setting of `notifier.settings.Settings` that the test runner's
environment happens to hold is dropped, so only what a test passes counts. Its log goes to a file in the work
directory, read back with `log()` and waited on with `wait_for_log()`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from notifier.settings import Settings
from tests.support.bot_api import BotApiServer


def setting_names() -> frozenset[str]:
    """Every environment variable the service reads."""
    names = {field.alias for field in Settings.model_fields.values() if field.alias}
    return frozenset(names)


def clean_environment(**env: str) -> dict[str, str]:
    """The runner's environment without any setting of ours, plus `env`."""
    ours = setting_names()
    return {**{k: v for k, v in os.environ.items() if k not in ours}, **env}


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], *, timeout: float = 30, what: str = "the condition"
) -> None:
    """Wait until `check()` holds, polling every 20 ms; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.02)


class Service:
    """One `kexue-notifier run` process in `workdir`; `async with` starts it and stops it with SIGTERM."""

    def __init__(self, workdir: Path, *, name: str = "run", command: tuple[str, ...] = ("run",), **env: str):
        self.workdir = workdir
        self.name = name
        self.command = command
        self.env = {"KEXUE_DB": str(workdir / "k.sqlite3"), "CRAWL_DELAY": "0", **env}
        self.log_path = workdir / f"{name}.log"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> Self:
        """Start the process; its stdout and stderr go to `log_path` (appended, so restarts keep history)."""
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "cli.main",
                *self.command,
                cwd=self.workdir,
                env=clean_environment(**self.env),
                stdout=log,
                stderr=log,
                stdin=asyncio.subprocess.DEVNULL,
            )
        return self

    @property
    def pid(self) -> int:
        """The process id (the process must have started)."""
        assert self.proc is not None, "the service has not started"
        return self.proc.pid

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.proc is not None and self.proc.returncode is None

    def log(self) -> str:
        """Everything the process logged so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def wait_for_log(self, needle: str, *, count: int = 1, timeout: float = 30) -> None:
        """Wait until `needle` appears `count` times in the log; fail at once if the process exits first."""

        def seen() -> bool:
            if self.proc is not None and self.proc.returncode is not None:
                raise AssertionError(f"the service exited ({self.proc.returncode}):\n{self.log()[-4000:]}")
            return self.log().count(needle) >= count

        try:
            await eventually(seen, timeout=timeout, what=f"{needle!r} x{count} in the log")
        except AssertionError as error:
            raise AssertionError(f"{error}\n--- log tail ---\n{self.log()[-4000:]}") from None

    async def stop(self, sig: signal.Signals = signal.SIGTERM, *, timeout: float = 20) -> int:
        """Send `sig` and return the exit status."""
        assert self.proc is not None, "the service has not started"
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def kill(self) -> None:
        """SIGKILL, as a crash would."""
        await self.stop(signal.SIGKILL)

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.proc is not None and self.proc.returncode is None:
            try:
                await self.stop()
            except TimeoutError:
                await self.kill()


def telegram_service(db_path: str, api: BotApiServer, now: datetime, **env: str) -> Service:
    """`kexue-notifier run` on the store at `db_path`, polling its `feed.xml` once (at start) at the clock
    `now` and sending through the local Bot API `api` as HTML; `env` adds or replaces settings."""
    workdir = Path(db_path).parent
    svc = Service(workdir)
    svc.env.update(
        {
            "KEXUE_DB": db_path,
            "KEXUE_SOURCES": str(workdir / "feed.xml"),
            "KEXUE_NOW": now.isoformat(),
            "POLL_INTERVAL": "3600",
            "READERS_REFRESH_DAYS": "0",
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_API_BASE": api.base_url,
            "TELEGRAM_RICH": "false",
            "WEB_PORT": "0",
            **env,
        }
    )
    return svc
