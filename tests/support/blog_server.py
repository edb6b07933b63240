"""A real local HTTP server that stands in for kexue.fm in tests.

Use the `blog_server` fixture by listing this module as a plugin, e.g. in a test module or the top-level
tests/conftest.py: ``pytest_plugins = ["tests.support.blog_server"]``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Self

import pytest
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

__all__ = ["CHALLENGE_COOKIE", "BlogServer", "Page", "Recorded", "blog_server", "make_blog_server"]

CHALLENGE_COOKIE = ("kexue_challenge", "passed-7f3a")
HTML = "text/html; charset=utf-8"


@dataclass
class Page:
    """One path's answer; mutate it or call BlogServer.set between polls."""

    body: bytes = b""
    content_type: str = HTML
    status: int = 200
    etag: str | None = None
    last_modified: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # Seconds to wait before answering, to provoke client timeouts.
    delay: float = 0.0
    # Stream the body in chunks without Content-Length, as a server that does not know the size would.
    chunked: bool = False


@dataclass(frozen=True)
class Recorded:
    """One request the server saw: path, query, headers (case-insensitive), the status it got, when."""

    path: str
    headers: Mapping[str, str]
    status: int
    method: str = "GET"
    query: str = ""
    at: float = 0.0  # time.monotonic() when the request arrived


@dataclass
class _Failure:
    status: int
    body: bytes
    remaining: int | None  # None: until recover()


ROBOTS_TXT = "User-agent: *\nDisallow: /search/\n"


class BlogServer:
    """Serves `routes` on 127.0.0.1 at a random port, with conditional GET, errors and a cookie challenge."""

    challenge_cookie = CHALLENGE_COOKIE

    def __init__(self, *, challenge: bool = False) -> None:
        """Create a stopped server; `challenge` turns on the first-visit cookie challenge."""
        self.routes: dict[str, Page] = {}
        self.challenge = challenge
        # Page requests; the robots.txt a polite fetcher reads first is recorded apart, in `robots_requests`.
        self.requests: list[Recorded] = []
        self.robots_requests: list[Recorded] = []
        self._failures: dict[str, _Failure] = {}
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        # The live blog's rules: its search pages are not for robots.
        self.set("/robots.txt", ROBOTS_TXT, content_type="text/plain")

    # -- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind to a free port on 127.0.0.1 (after `stop()`, the same one: a blog back up) and serve."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # handler_cancellation: a client that timed out and left must not keep a slow handler (and
        # thereby stop()) waiting; a short shutdown_timeout bounds stop() for the same reason.
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self._port or 0)
        await site.start()
        self._port = int(runner.addresses[0][1])
        self._runner = runner

    async def stop(self) -> None:
        """Stop serving and release the port."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        """Start the server."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        await self.stop()

    # -- configuration -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._port is None:
            raise RuntimeError("BlogServer is not started")
        return self._port

    def url(self, path: str = "/") -> str:
        """The absolute URL of `path` on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def set(
        self,
        path: str,
        body: bytes | str,
        *,
        content_type: str = HTML,
        status: int = 200,
        etag: str | None = None,
        last_modified: str | None = None,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        chunked: bool = False,
    ) -> Page:
        """Serve `body` at `path` (replacing what was there) and return the Page for further tweaks."""
        page = Page(
            body=body.encode() if isinstance(body, str) else body,
            content_type=content_type,
            status=status,
            etag=etag,
            last_modified=last_modified,
            headers=dict(headers or {}),
            delay=delay,
            chunked=chunked,
        )
        self.routes[path] = page
        return page

    def redirect(self, path: str, location: str, *, status: int = 302) -> Page:
        """Answer `path` with a redirect to `location`."""
        return self.set(path, b"", status=status, headers={"Location": location})

    def fail(self, path: str, status: int, *, body: bytes = b"", times: int | None = None) -> None:
        """Answer `path` with `status` for the next `times` requests (None: until recover), page kept."""
        self._failures[path] = _Failure(status, body, times)

    def recover(self, path: str) -> None:
        """Stop failing `path`."""
        self._failures.pop(path, None)

    def requests_for(self, path: str) -> list[Recorded]:
        """The recorded requests for one path, in arrival order."""
        return [r for r in self.requests if r.path == path]

    # -- serving -------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        response, page = self._answer(request)
        (self.robots_requests if request.path == "/robots.txt" else self.requests).append(
            Recorded(
                path=request.path,
                headers=CIMultiDictProxy(CIMultiDict(request.headers)),
                status=response.status,
                method=request.method,
                query=request.query_string,
                at=arrived,
            )
        )
        if page is not None and page.delay > 0:
            await asyncio.sleep(page.delay)
        if page is not None and page.chunked and response.status == 200:
            return await self._stream(request, response, page.body)
        return response

    def _answer(self, request: web.Request) -> tuple[web.Response, Page | None]:
        path = request.path
        if self.challenge and CHALLENGE_COOKIE[0] not in request.cookies:
            return self._challenge_response(request), None

        failure = self._failures.get(path)
        if failure is not None:
            if failure.remaining is not None:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    del self._failures[path]
            return web.Response(status=failure.status, body=failure.body, content_type="text/html"), None

        page = self.routes.get(path)
        if page is None:
            return web.Response(status=404, text="not found"), None

        headers: CIMultiDict[str] = CIMultiDict(page.headers)
        if page.etag is not None:
            headers["ETag"] = page.etag
        if page.last_modified is not None:
            headers["Last-Modified"] = page.last_modified
        if page.status == 200 and _not_modified(request, page):
            return web.Response(status=304, headers=headers), page
        headers["Content-Type"] = page.content_type
        if page.chunked:
            return web.Response(status=page.status, headers=headers), page
        return web.Response(status=page.status, headers=headers, body=page.body), page

    def _challenge_response(self, request: web.Request) -> web.Response:
        name, value = CHALLENGE_COOKIE
        # Shaped like the live site's: a tiny page whose script sets the cookie and reloads.
        body = (
            "<html><head><script>"
            f'document.cookie="{name}={value}; path=/";'
            f'window.location.href="{request.path_qs}";'
            "</script></head><body></body></html>"
        )
        response = web.Response(status=403, text=body, content_type="text/html")
        response.set_cookie(name, value, path="/")
        return response

    async def _stream(self, request: web.Request, template: web.Response, body: bytes) -> web.StreamResponse:
        stream = web.StreamResponse(status=template.status, headers=template.headers)
        stream.enable_chunked_encoding()
        await stream.prepare(request)
        step = 16 * 1024
        for start in range(0, len(body), step):
            await stream.write(body[start : start + step])
        await stream.write_eof()
        return stream


def _not_modified(request: web.Request, page: Page) -> bool:
    """RFC 9110 precedence: If-None-Match decides when present; otherwise If-Modified-Since."""
    inm = request.headers.get("If-None-Match")
    if inm is not None:
        if page.etag is None:
            return False
        wanted = {tag.strip().removeprefix("W/") for tag in inm.split(",")}
        return "*" in wanted or page.etag.removeprefix("W/") in wanted
    ims = request.headers.get("If-Modified-Since")
    if ims is None or page.last_modified is None:
        return False
    try:
        return parsedate_to_datetime(page.last_modified) <= parsedate_to_datetime(ims)
    except (TypeError, ValueError):
        return False


@pytest.fixture
async def blog_server() -> AsyncIterator[BlogServer]:
    """A started BlogServer, stopped after the test."""
    async with BlogServer() as server:
        yield server


@pytest.fixture
async def make_blog_server() -> AsyncIterator[Callable[..., Awaitable[BlogServer]]]:
    """A factory of further started BlogServers (another origin, say), all stopped after the test."""
    servers: list[BlogServer] = []

    async def make(*, challenge: bool = False) -> BlogServer:
        server = BlogServer(challenge=challenge)
        await server.start()
        servers.append(server)
        return server

    try:
        yield make
    finally:
        for server in servers:
            await server.stop()
