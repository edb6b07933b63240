"""HTTP listeners that a slow or hostile client cannot hold: read deadlines, a connection cap, fixed headers.

Every aiohttp server of the process (the web app, the bot's webhook) runs through `GuardedRunner`:
- a request's line and headers must arrive within `read_timeout` of its first byte (or of the connection,
  or of the previous answer on a kept-alive connection), and its body must be read and answered within
  `read_timeout` of its headers: a client that dribbles bytes or says nothing is disconnected then;
- at most `max_connections` are open; one more first evicts the oldest connection still waiting for a
  complete request (a slow client), and is itself refused only when every connection is busy;
- `headers` go on every answer, aiohttp's own 400 and 413 included, and `Server:` names no version;
- the event loop's "accept() out of system resource" (and any other loop error) is logged once a minute
  with a count of the repeats, never once per attempt.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_server import Server

from notifier.logs import Throttle

log = logging.getLogger(__name__)

SERVER_NAME = "kexue-notifier"
READ_TIMEOUT = 20.0
MAX_CONNECTIONS = 512

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


def connection_cap(wanted: int = MAX_CONNECTIONS) -> int:
    """`wanted`, or less when the process may open few files: a quarter of them per listener, at least 8."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return wanted
    return max(8, min(wanted, soft // 4))


@dataclass
class Limits:
    """What one listener allows, and its once-a-minute log of what it refused."""

    name: str
    read_timeout: float = READ_TIMEOUT
    max_connections: int = field(default_factory=connection_cap)
    headers: Mapping[str, str] = field(default_factory=dict)
    throttle: Throttle = field(default_factory=Throttle)

    def note(self, key: str, message: str, *args: object) -> None:
        """Log `message` at INFO at most once a minute per `key`, with how many were held back."""
        held = self.throttle.admit(key)
        if held is not None:
            more = f" (and {held} more like it in the last minute)" if held else ""
            log.info("%s: " + message + more, self.name, *args)


class _GuardedProtocol(RequestHandler):
    """aiohttp's connection handler with a deadline for each request to arrive whole."""

    __slots__ = ("_busy", "_deadline", "_limits", "_waiting_since")

    def __init__(self, manager: Server, *, limits: Limits, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._limits = limits
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_since: float | None = None
        self._busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm()
        manager = self._manager
        if isinstance(manager, GuardedServer):
            manager.make_room(self)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._busy and self._deadline is None:
            self._arm()
        super().data_received(data)

    @property
    def waiting_since(self) -> float | None:
        """When this connection began to wait for a complete request; None while one is being answered."""
        return None if self._busy else self._waiting_since

    def request_started(self) -> None:
        """The headers are in: from now the body and the answer run under the handler's deadline."""
        self._busy = True
        self._disarm()

    def request_finished(self) -> None:
        """Answered: the next request (or nothing, on an idle kept-alive connection) has its own deadline."""
        self._busy = False
        self._arm()

    def drop(self, why: str) -> None:
        """Close this connection now, noting why (at most a line a minute)."""
        # No peer address: a line a minute says what happens, not who (an IP is personal data).
        self._limits.note(why, "closed a connection: %s", why)
        self._disarm()
        self.force_close()

    def _arm(self) -> None:
        self._disarm()
        if self.transport is None:
            return
        self._waiting_since = self._loop.time()
        self._deadline = self._loop.call_later(self._limits.read_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.transport is not None:
            self.drop(f"no complete request within {self._limits.read_timeout:g} s")

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # aiohttp's own answers to a request it cannot parse bypass the application: same headers here.
        response = super().handle_error(request, status, exc, message)
        response.headers.update(self._limits.headers)
        response.headers["Server"] = SERVER_NAME
        return response


class GuardedServer(Server):
    """aiohttp's Server making guarded connections, each request under the read deadline."""

    def __init__(self, handler: Handler, *, limits: Limits, **kwargs: Any) -> None:
        self.limits = limits
        super().__init__(self._guarded(handler), **kwargs)

    def __call__(self) -> RequestHandler:
        return _GuardedProtocol(self, limits=self.limits, loop=self._loop, **self._kwargs)

    def make_room(self, newcomer: _GuardedProtocol) -> None:
        """Over the cap: drop the connection waiting longest for a complete request, else the newcomer."""
        if len(self._connections) <= self.limits.max_connections:
            return
        waiting = [
            (since, conn)
            for conn in self._connections
            if isinstance(conn, _GuardedProtocol)
            and conn is not newcomer
            and (since := conn.waiting_since) is not None
        ]
        if waiting:
            min(waiting, key=lambda pair: pair[0])[1].drop(
                f"{self.limits.max_connections} connections open, this one the slowest"
            )
        else:
            newcomer.drop(f"{self.limits.max_connections} connections open, all busy")

    def _guarded(self, handler: Handler) -> Handler:
        timeout = self.limits.read_timeout

        async def guarded(request: web.BaseRequest) -> web.StreamResponse:
            protocol = request.protocol
            guarded_protocol = protocol if isinstance(protocol, _GuardedProtocol) else None
            if guarded_protocol is not None:
                guarded_protocol.request_started()
            try:
                async with asyncio.timeout(timeout):
                    return await handler(request)
            except TimeoutError:
                if guarded_protocol is not None:
                    guarded_protocol.drop(f"request not read and answered within {timeout:g} s")
                response = web.Response(status=408, text="Request Timeout")
                response.force_close()
                return response
            finally:
                if guarded_protocol is not None:
                    guarded_protocol.request_finished()

        return guarded


class GuardedRunner(web.AppRunner):
    """`web.AppRunner` whose server is a GuardedServer under `limits`."""

    def __init__(self, app: web.Application, limits: Limits, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.limits = limits
        headers = dict(limits.headers)

        async def stamp(request: web.Request, response: web.StreamResponse) -> None:
            # What a handler chose itself stays (the immutable caching of formula drawings and feeds).
            for name, value in headers.items():
                response.headers.setdefault(name, value)
            response.headers["Server"] = SERVER_NAME

        app.on_response_prepare.append(stamp)

    async def _make_server(self) -> Server:
        plain = await super()._make_server()
        install_loop_error_throttle()
        return GuardedServer(
            plain.request_handler,
            limits=self.limits,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=asyncio.get_running_loop(),
            **plain._kwargs,
        )


_LOOP_THROTTLE = Throttle()


def install_loop_error_throttle() -> None:
    """Route the running loop's errors through a once-a-minute log per kind (idempotent)."""
    loop = asyncio.get_running_loop()
    current = loop.get_exception_handler()
    if getattr(current, "throttled", False):
        return

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message") or "event loop error")
        held = _LOOP_THROTTLE.admit(message)
        if held is None:
            return
        error = context.get("exception")
        more = f" (and {held} more in the last minute)" if held else ""
        if "out of system resource" in message:
            # The process has run out of file descriptors: the connection cap keeps slow clients below
            # that, so this is a sign to raise LimitNOFILE, not a bug with a traceback to read.
            log.error("%s: %s%s", message, error, more)
            return
        if current is not None:
            current(loop, context)
        else:
            loop.default_exception_handler(context)
        if held:
            log.error("%s: %d more in the last minute", message, held)

    handler.throttled = True  # type: ignore[attr-defined]
    loop.set_exception_handler(handler)
