"""One budget for every Bot API call that sends: replies, edits, callback answers, broadcasts, digests.

Telegram takes about 30 messages a second from a bot, one a second into a private chat and 20 a minute
into a group, and answers 429 with `retry_after` beyond that. Every call that sends passes here first:
- **The global rate** is a sliding window of `rate` calls per second, counted as the server sees them: a
  call in flight counts as happening now and a finished one at the moment its answer came, so however late
  the server reads a request, no second of its clock holds more than `rate` of ours.
- **The chat's pace**: a chat's next call waits for the previous one's answer plus the chat's gap (one second
  for a private chat, three for a group), in the order the calls came (a reader's commands answered in order).
- **Interactive first**: a reply takes the next free slot before any broadcast message waiting; a broadcast
  (calls made under `bulk()`) takes what replies leave.
- **A 429 is a wait, never a loss**: a reply waits `retry_after` and goes again, until its deadline (the
  reader's update older than `reply_deadline`): then it is dropped with one log line and counted, for an
  answer a minute late is stale. A broadcast's 429 goes back to the sender, which defers the row and adapts
  its own rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

from aiogram.exceptions import TelegramRetryAfter

from notifier.telegram.failures import TelegramError

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.client.session.middlewares.base import NextRequestMiddlewareType
    from aiogram.methods import Response, TelegramMethod
    from aiogram.methods.base import TelegramType

log = logging.getLogger(__name__)

T = TypeVar("T")

# Calls that put something into a chat or answer a user: the ones the budget paces. Reads (getMe,
# getUpdates, getChatMember) and settings (setMyCommands, setWebhook) pass freely.
PACED_PREFIXES = ("send", "edit", "answer", "copy", "forward", "delete")

# Set around the broadcast sender's calls: they yield to replies and their 429s go back to the sender.
_bulk: contextvars.ContextVar[bool] = contextvars.ContextVar("telegram_bulk", default=False)
# When the update being answered arrived (monotonic): a reply's deadline counts from it.
_started: contextvars.ContextVar[float | None] = contextvars.ContextVar("telegram_started", default=None)


@contextlib.contextmanager
def bulk() -> Iterator[None]:
    """Calls made inside are broadcast traffic: after every waiting reply."""
    token = _bulk.set(True)
    try:
        yield
    finally:
        _bulk.reset(token)


def answering_since(started: float) -> contextvars.Token[float | None]:
    """The calls of this task answer an update that arrived at `started` (time.monotonic)."""
    return _started.set(started)


class StaleReply(TelegramError):
    """A reply that could not go out before its deadline: dropped, the reader gets nothing stale."""


def _chat_of(method: object) -> int | str | None:
    chat = getattr(method, "chat_id", None)
    return chat if isinstance(chat, int | str) else None


def _is_group(chat: int | str) -> bool:
    return isinstance(chat, str) or chat < 0


class _Late(Exception):
    """The chat's turn came after the reply's deadline."""


class _Chat:
    """One chat's queue: a FIFO lock and the earliest moment of its next call."""

    __slots__ = ("lock", "next_at", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.next_at = 0.0
        self.users = 0


class Budget:
    """The shared budget; `middleware` is installed on the Bot's session (see notifier.telegram.client)."""

    def __init__(
        self,
        rate: float = 30.0,
        *,
        private_gap: float = 1.0,
        group_gap: float = 3.0,
        reply_deadline: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        on_stale: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.limit = max(1, int(rate))
        self.span = self.limit / rate
        self.private_gap = private_gap
        self.group_gap = group_gap
        self.reply_deadline = reply_deadline
        self.clock = clock
        self.on_stale = on_stale
        self._done: deque[float] = deque()  # answer times of finished calls within the last span
        self._in_flight = 0
        self._replies: deque[asyncio.Future[None]] = deque()
        self._broadcast: deque[asyncio.Future[None]] = deque()
        self._chats: dict[int | str, _Chat] = {}
        self._wake = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        self._pruned = 0.0
        self.stale = 0
        self.retried = 0

    # --- the global window ----------------------------------------------------------------------------

    def _wait(self, now: float) -> float:
        """Seconds until one more call fits in the window (0: now)."""
        while self._done and self._done[0] <= now - self.span:
            self._done.popleft()
        busy = len(self._done) + self._in_flight
        if busy < self.limit:
            return 0.0
        if self._in_flight >= self.limit or not self._done:
            return self.span  # woken early by a finishing call
        return self._done[busy - self.limit] + self.span - now

    async def _run_pump(self) -> None:
        # Runs while calls wait, and ends when none does (the next waiter starts it again).
        while self._replies or self._broadcast:
            wait = self._wait(self.clock())
            if wait > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
                continue
            queue = self._replies if self._replies else self._broadcast
            waiter = queue.popleft()
            if waiter.done():  # its caller gave up (cancelled)
                continue
            self._in_flight += 1
            waiter.set_result(None)

    async def _slot(self, interactive: bool) -> None:
        """Wait for a slot in the global window (replies before broadcasts)."""
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._run_pump(), name="telegram-budget")
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._replies if interactive else self._broadcast).append(waiter)
        self._wake.set()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._finished()  # granted as we were cancelled: give the slot back
            raise

    def _finished(self) -> None:
        self._in_flight -= 1
        self._done.append(self.clock())
        self._wake.set()

    # --- one call -------------------------------------------------------------------------------------

    def ready_at(self, chat: int | str) -> float:
        """When this chat may get its next call (the clock's time; ≤ now: at once)."""
        state = self._chats.get(chat)
        return 0.0 if state is None else state.next_at

    def hold(self, chat: int | str, seconds: float) -> None:
        """Telegram asked this chat to wait (429 retry_after)."""
        state = self._chats.setdefault(chat, _Chat())
        state.next_at = max(state.next_at, self.clock() + seconds)

    async def call(
        self,
        chat: int | str | None,
        send: Callable[[], Awaitable[T]],
        interactive: bool,
        deadline: float | None = None,
    ) -> T:
        """Run `send` once in its turn: after the chat's pace and a global slot (`_Late` past `deadline`)."""
        if chat is None:
            await self._slot(interactive)
            try:
                return await send()
            finally:
                self._finished()
        self._prune()
        state = self._chats.get(chat)
        if state is None:
            state = self._chats[chat] = _Chat()
        state.users += 1
        try:
            async with state.lock:
                pause = state.next_at - self.clock()
                if pause > 0:
                    await asyncio.sleep(pause)
                if deadline is not None and self.clock() > deadline:
                    raise _Late
                await self._slot(interactive)
                try:
                    return await send()
                finally:
                    self._finished()
                    gap = self.group_gap if _is_group(chat) else self.private_gap
                    state.next_at = max(state.next_at, self.clock() + gap)
        finally:
            state.users -= 1

    def _prune(self) -> None:
        # Once a second: only chats with a call waiting or a pace still running are kept (memory stays flat).
        now = self.clock()
        if now - self._pruned < 1.0:
            return
        self._pruned = now
        self._chats = {c: s for c, s in self._chats.items() if s.users or s.next_at > now}

    async def middleware(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        """aiogram's request middleware: every paced call goes through `call`, a reply's 429 is retried."""
        name = type(method).__name__.lower()
        if not name.startswith(PACED_PREFIXES):
            return await make_request(bot, method)
        chat = _chat_of(method)
        if _bulk.get():
            return await self.call(chat, lambda: make_request(bot, method), interactive=False)
        started = _started.get()
        if started is None:
            started = self.clock()
        deadline = started + self.reply_deadline
        while True:
            try:
                return await self.call(chat, lambda: make_request(bot, method), True, deadline)
            except _Late:
                await self._drop(chat, type(method).__name__, self.clock() - started)
                raise StaleReply(f"chat {chat}: a reply older than {self.reply_deadline:g} s") from None
            except TelegramRetryAfter as exc:
                wait = float(exc.retry_after)
                if self.clock() + wait - started > self.reply_deadline:
                    await self._drop(chat, type(method).__name__, self.clock() - started)
                    raise StaleReply(f"chat {chat}: a reply older than {self.reply_deadline:g} s") from exc
                self.retried += 1
                log.info("telegram: 429 on %s to chat %s; again in %g s", type(method).__name__, chat, wait)
                if chat is not None:
                    self.hold(chat, wait)
                else:
                    await asyncio.sleep(wait)

    async def _drop(self, chat: int | str | None, method: str, age: float) -> None:
        self.stale += 1
        log.warning("telegram: %s to chat %s dropped: %.0f s old, past the reply deadline", method, chat, age)
        if self.on_stale is not None:
            try:
                await self.on_stale()
            except Exception as exc:  # a count lost is no reason to fail the update further
                log.warning("telegram: cannot count a dropped reply: %s", exc)
