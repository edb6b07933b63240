"""The real `kexue-notifier run` with its web app on a free port, and a browser-like client for it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
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


@asynccontextmanager
async def live_web(workdir: Path, **env: str) -> AsyncIterator[LiveWeb]:
    """`kexue-notifier run` in `workdir` with `env`, its web app listening; stopped on exit."""
    service = Service(workdir)
    service.env.update({**QUIET, **env})
    async with service:
        await service.wait_for_log("web app listening on")
        found: list[str] = []

        def listening() -> bool:
            found[:] = LISTENING.findall(service.log())
            return bool(found)

        await eventually(listening, what="the web app's address")
        yield LiveWeb(service, found[0])
