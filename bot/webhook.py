"""The webhook endpoint: aiogram's request handler, hardened against requests Telegram never sends.

Only Telegram knows the secret token, so a request without it is refused (401) before its body is read,
and logged at INFO only (anyone can send one; a log flooded at WARNING would hide what matters). A request
with the token but a body that is not an update cannot be Telegram's either: it is answered 400 (not JSON, or
JSON that is not an object) or dropped with a 200 (an object aiogram cannot read as an update: Telegram
re-sends a refused update until it expires, holding back every later one), and logged once at WARNING, since
whoever sent it holds the secret. A request the HTTP parser cannot read is aiohttp's 400 and one INFO line.
Nothing a request carries reaches the log at ERROR or as a traceback; a failure while handling a genuine
update goes through the dispatcher's error handler as in long polling.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiogram.types.update import UpdateTypeLookupError
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import ValidationError

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# At shutdown, how long the updates in hand may take before they are cancelled.
CLOSE_WAIT = 5.0


class _MalformedRequests(logging.Filter):
    """aiohttp logs a request it cannot parse (a control character in a header, a request line over 8 KiB)
    at ERROR with a traceback and answers 400: the client's mistake, so one INFO line without the trace."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and 400 <= exc.code < 500:
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            # The first line only: aiohttp quotes the offending header after it, the secret token included.
            reason = str(exc.message).partition("\n")[0][:100]
            log.info("webhook: malformed request from %s refused (%d): %s", remote, exc.code, reason)
            return False
        return True


# The webhook server's own log, for web.AppRunner(logger=...): aiohttp's "aiohttp.server" is shared with
# every other aiohttp server in the process.
server_log = logging.getLogger("bot.webhook.server")
server_log.addFilter(_MalformedRequests())


class WebhookHandler(SimpleRequestHandler):
    """Checks the secret token, reads the body as an update, feeds it to the dispatcher in the background."""

    def __init__(self, dispatcher: Dispatcher, bot: Bot, secret_token: str, **data: Any) -> None:
        super().__init__(dispatcher, bot, handle_in_background=True, secret_token=secret_token, **data)
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    def verify_secret(self, telegram_secret_token: str, bot: Bot) -> bool:
        """Whether the header carries the secret token, compared in constant time."""
        if not self.secret_token:
            return True
        # As bytes: compare_digest raises TypeError on a str with non-ASCII characters, and aiohttp decodes
        # any header bytes into one (aiogram's str comparison made one accented letter a 500).
        given = telegram_secret_token.encode("utf-8", errors="surrogateescape")
        return secrets.compare_digest(given, self.secret_token.encode("utf-8"))

    async def handle(self, request: web.Request) -> web.Response:
        """Refuse without the token, refuse or drop what is not an update, and answer at once."""
        bot = await self.resolve_bot(request)
        if not self.verify_secret(request.headers.get(SECRET_HEADER, ""), bot):
            log.info("webhook: a request from %s without the secret token refused", request.remote)
            return web.Response(status=401, text="Unauthorized")
        # Over the server's client_max_size, read() raises aiohttp's 413 itself.
        body = await request.read()
        try:
            raw = bot.session.json_loads(body.decode("utf-8"))
        except (ValueError, RecursionError) as exc:
            # ValueError covers bytes that are not UTF-8 and text that is not JSON; RecursionError, nesting
            # deeper than the parser goes.
            log.warning("webhook: a body of %d bytes, not JSON, refused (%s)", len(body), type(exc).__name__)
            return web.Response(status=400, text="Bad Request: not JSON")
        if not isinstance(raw, dict):
            log.warning("webhook: a JSON %s instead of an update refused", type(raw).__name__)
            return web.Response(status=400, text="Bad Request: not an update")
        try:
            update = Update.model_validate(raw, context={"bot": bot})
            kind = update.event_type
        except (ValidationError, RecursionError, UpdateTypeLookupError) as exc:
            log.warning("webhook: a body that is no update we know dropped (%s)", _reason(exc))
            return web.json_response({})
        log.debug("webhook: update %d (%s)", update.update_id, kind)
        task = asyncio.create_task(self._feed(bot, update), name=f"webhook-update-{update.update_id}")
        self._tasks.add(task)
        self._idle.clear()
        task.add_done_callback(self._done)
        return web.json_response({})

    async def _feed(self, bot: Bot, update: Update) -> None:
        try:
            result = await self.dispatcher.feed_update(bot, update, **self.data)
            if isinstance(result, TelegramMethod):
                await self.dispatcher.silent_call_request(bot=bot, result=result)
        except Exception:
            # The dispatcher's error handler has its say first; only what escapes it lands here, once,
            # instead of asyncio's "Task exception was never retrieved" at some later garbage collection.
            log.exception("webhook: update %d failed", update.update_id)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not self._tasks:
            self._idle.set()

    async def idle(self) -> None:
        """Wait until every update accepted so far has been handled."""
        await self._idle.wait()

    async def close(self) -> None:
        """Let the updates in hand finish, then close the bot's session (aiohttp's shutdown calls this)."""
        if self._tasks:
            _, stuck = await asyncio.wait(set(self._tasks), timeout=CLOSE_WAIT)
            for task in stuck:
                task.cancel()
        await super().close()


def _reason(exc: Exception) -> str:
    """A short reason for the log: the first validation error's place and kind, never the input itself."""
    if isinstance(exc, ValidationError) and exc.errors():
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])[:100]
        return f"{exc.error_count()} errors, first at {where or 'top'!r}: {first['type']}"
    if isinstance(exc, UpdateTypeLookupError):
        return "no event of a known kind"
    return type(exc).__name__
