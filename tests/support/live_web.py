"""The real `kexue-notifier run` with its web app on a free port, and a browser-like client for it."""

from __future__ import annotations

import re
import resource
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import aiohttp

from tests.support.service import Service, eventually

CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
LISTENING = re.compile(r"web app listening on (http://[^\s]+) ")
# A source nobody answers on, polled once an hour: the web app is what these tests attack.
QUIET = {"KEXUE_SOURCES": "http://127.0.0.1:9/feed", "POLL_INTERVAL": "3600", "WEB_PORT": "0"}


@dataclass
class LiveWeb:
    """A running service and the URL its web app answers on."""

    service: Service
    url: str

    async def sign_up(self, address: str, *, lang: str = "en", via: str | None = None) -> tuple[int, str]:
        """One sign-up through the form, as a browser does it (GET the page, POST with its CSRF token)."""
        headers = {"X-Forwarded-For": via} if via else {}
        # unsafe: the jar keeps cookies of an IP address (the service listens on 127.0.0.1).
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            async with session.get(self.url + "/") as page:
                match = CSRF_FIELD.search(await page.text())
            assert match is not None
            form = {"csrf": match[1], "address": address, "lang": lang}
            async with session.post(self.url + "/subscribe", data=form, headers=headers) as answer:
                return answer.status, await answer.text()

    async def confirm(self, link: str) -> int:
        """Open a confirmation link (`/confirm/…`) and press its button, as a browser does; the status."""
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            async with session.get(self.url + link) as page:
                match = CSRF_FIELD.search(await page.text())
            assert match is not None, f"no confirm button at {link}"
            path = link.split("?", 1)[0]
            async with session.post(self.url + path, data={"csrf": match[1]}) as answer:
                return answer.status


def confirm_link(message: EmailMessage) -> str:
    """The path (with its query) of the confirmation link in a mail's plain-text part."""
    body = message.get_body(("plain",))
    assert body is not None
    found = re.search(r"https?://[^/\s]+(/confirm/[A-Za-z0-9_-]+\?lang=[a-z]+)", str(body.get_content()))
    assert found is not None, "no confirmation link in the mail"
    return found[1]


@contextmanager
def open_files_limit(limit: int | None) -> Iterator[None]:
    """Within the block, processes started inherit a soft limit of `limit` open files (None: unchanged)."""
    if limit is None:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@asynccontextmanager
async def live_web(
    workdir: Path, env: Mapping[str, str] | None = None, *, open_files: int | None = None
) -> AsyncIterator[LiveWeb]:
    """`kexue-notifier run` in `workdir` with `env`, its web app listening; stopped on exit.

    `open_files`: the process may open no more files than that (as systemd's LimitNOFILE would say)."""
    service = Service(workdir)
    service.env.update({**QUIET, **(env or {})})
    with open_files_limit(open_files):
        await service.start()
    try:
        await service.wait_for_log("web app listening on")
        found: list[str] = []

        def listening() -> bool:
            found[:] = LISTENING.findall(service.log())
            return bool(found)

        await eventually(listening, what="the web app's address")
        yield LiveWeb(service, found[0])
    finally:
        await service.__aexit__(None, None, None)
