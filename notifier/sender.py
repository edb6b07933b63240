"""The sender: works through the delivery outbox at the speed Telegram allows, losing nothing.

One process sends (the `sender` lease). It reads due rows in small batches, so memory stays flat whatever
the number of readers, and for each row: waits for the chat's own pace (one a second to a private chat,
20 a minute to a group or channel) and the global token bucket (`SEND_RATE`), marks the row `sending` in a
committed transaction, sends, and records the answer. A row's slot (at most `SEND_CONCURRENCY`) is freed only
once its answer is committed, so a kill -9 leaves at most `SEND_CONCURRENCY` rows `sending`; the next holder
of the lease sends those again (the only repeats) and everything still pending.

Replies to commands never wait behind a broadcast: the bot answers its handlers directly through aiogram and
shares no lock or queue with the sender, and `SEND_RATE` (25) stays below Telegram's 30 a second, leaving the
rest of the bot's budget to replies. The bucket lowers itself when Telegram answers 429 across several chats
(halving, then growing back slowly, like a congestion window).

A 5xx, a network error or a timeout is retried with exponential backoff (`backoff_base` doubling, capped at
300 times it) for as long as the row is younger than `give_up_after` (hours): an outage of minutes, or of an
afternoon, loses nothing, and only a message that could not go out for that long is given up on. Every
outcome is counted for /metrics (storage/counters.py) in the transaction that records it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import sqlite3
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, InputRichMessage, LinkPreviewOptions

from digest import DigestError
from digest.model import Digest, Lang, PostItem, check_lang, home_url
from digest.render import Renderer
from digest.rich import rich_post_html
from digest.selection import DigestBuilder
from notifier.alerts import alert_html
from notifier.config import Clock
from notifier.formula_choice import AGAIN_POST, FormulaChoice, switch_data
from notifier.leasing import LeaseKeeper, holder_id
from notifier.telegram import redact
from notifier.watching import with_watch_note
from storage import StorageError
from storage.counters import MESSAGES_FAILED, MESSAGES_SENT, TELEGRAM_429
from storage.db import Database, WriteFailed
from storage.deliveries import Delivery
from storage.recipients import Recipient
from storage.uow import Stores, read_stores, unit_of_work

log = logging.getLogger(__name__)

# The one user-facing string the sender adds; moves into the translation catalogs at merge.

SENDER_LEASE = "sender"
LEASE_TTL = 15.0
POLL_EVERY = 1.0
BACKOFF_BASE = 2.0
# The longest wait between two retries, as a multiple of the base: 10 minutes at the default base.
BACKOFF_CAP_FACTOR = 300.0
BACKOFF_CAP = BACKOFF_BASE * BACKOFF_CAP_FACTOR
# A row failing with 5xx or network errors is retried until it is this old (seconds): Telegram's outages
# last minutes, rarely hours; a post announced a quarter of a day late is still worth sending.
GIVE_UP_AFTER = 6 * 3600.0
REQUEST_TIMEOUT = 20
# 429s from this many chats within CONGESTION_WINDOW seconds mean the bot as a whole sends too fast.
CONGESTION_CHATS = 3
CONGESTION_WINDOW = 10.0
MIN_RATE = 1.0
# The longest pause between attempts to record an outcome the database refused (locked, disk full).
RECORD_PAUSE_CAP = 5.0
# While the database refuses the sender's reads, it says so at most once this many seconds.
OUTAGE_LOG_EVERY = 60.0


@dataclass(frozen=True, slots=True)
class ChatLimits:
    """Telegram's pace per chat: messages a second to a private chat, a minute to a group or channel."""

    private_per_second: float = 1.0
    group_per_minute: int = 20


def backoff(attempt: int, *, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP) -> float:
    """Seconds before retry `attempt` (1, 2, …): exponential with full jitter, at most `cap`."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


def failure_reason(exc: BaseException) -> str:
    """The /metrics label of an attempt that failed in a way that may pass (retried)."""
    if isinstance(exc, TelegramServerError | ClientDecodeError):
        return "server_error"
    if isinstance(exc, TelegramNetworkError | OSError | TimeoutError):
        return "network"
    return "api_error"


def chat_id_of(recipient: str) -> int | str:
    """A row's recipient as aiogram wants it: an int chat id, or `@channelname`."""
    return int(recipient) if recipient.lstrip("-").isdigit() else recipient


def _is_group(delivery: Delivery) -> bool:
    if delivery.chat_type is not None:
        return delivery.chat_type != "private"
    return delivery.recipient.startswith(("-", "@"))


class TokenBucket:
    """The global rate: `rate` tokens a second, at most `burst` saved up; the rate adapts (AIMD)."""

    def __init__(
        self, rate: float, *, burst: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_rate = rate
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._tokens = burst
        self._last = clock()
        self._lock = asyncio.Lock()
        self._last_change = self._last

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    async def take(self) -> None:
        """Wait for one token."""
        async with self._lock:
            while True:
                now = self.clock()
                self._refill(now)
                self._grow(now)
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                await asyncio.sleep((1.0 - self._tokens) / self.rate)

    def slow_down(self) -> None:
        """Telegram says we send too fast overall: halve the rate (not below MIN_RATE)."""
        now = self.clock()
        self._refill(now)
        self.rate = max(MIN_RATE, self.rate / 2)
        self._tokens = min(self._tokens, 0.0)
        self._last_change = now
        log.warning("sender: 429s from several chats; rate lowered to %.1f/s", self.rate)

    def _grow(self, now: float) -> None:
        # Additive increase: a twentieth of the configured rate per quiet second, back up to it.
        if self.rate < self.max_rate and now - self._last_change >= 1.0:
            steps = int(now - self._last_change)
            self.rate = min(self.max_rate, self.rate + steps * self.max_rate / 20)
            self._last_change += steps
            if self.rate == self.max_rate:
                log.info("sender: rate back to %.1f/s", self.rate)


class ChatPacer:
    """When each chat may get its next message; forgets chats whose pace no longer matters."""

    def __init__(self, limits: ChatLimits) -> None:
        self.private_gap = 1.0 / limits.private_per_second
        self.group_limit = limits.group_per_minute
        self._private: dict[str, float] = {}  # chat -> earliest next send
        self._groups: dict[str, deque[float]] = {}  # chat -> send times within the last minute
        self._held: dict[str, float] = {}  # chat -> end of a 429's retry_after
        self._pruned = 0.0

    def ready_at(self, delivery: Delivery, now: float) -> float:
        """The earliest moment this row's chat may get a message (≤ now: at once)."""
        chat = delivery.recipient
        ready = self._held.get(chat, 0.0)
        if _is_group(delivery):
            times = self._groups.get(chat)
            if times is not None:
                while times and times[0] <= now - 60.0:
                    times.popleft()
                if len(times) >= self.group_limit:
                    ready = max(ready, times[len(times) - self.group_limit] + 60.0)
        else:
            ready = max(ready, self._private.get(chat, 0.0))
        return ready

    def note(self, delivery: Delivery, now: float) -> None:
        """A message to this chat is being sent now."""
        self._prune(now)
        if _is_group(delivery):
            self._groups.setdefault(delivery.recipient, deque()).append(now)
        else:
            self._private[delivery.recipient] = now + self.private_gap

    def hold(self, recipient: str, until: float) -> None:
        """Telegram asked this chat to wait (429 retry_after)."""
        self._held[recipient] = max(until, self._held.get(recipient, 0.0))

    def gap(self, delivery: Delivery) -> float:
        """Seconds between two messages of one row (a digest in several parts)."""
        return 60.0 / self.group_limit if _is_group(delivery) else self.private_gap

    def _prune(self, now: float) -> None:
        # Once a second: the maps hold only chats sent to within the last minute, so memory stays flat.
        if now - self._pruned < 1.0:
            return
        self._pruned = now
        self._private = {c: t for c, t in self._private.items() if t > now}
        self._held = {c: t for c, t in self._held.items() if t > now}
        self._groups = {c: q for c, q in self._groups.items() if q and q[-1] > now - 60.0}


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to send: Telegram HTML, the rich variant with native math if any, a button URL."""

    html: str
    rich_html: str | None = None
    url: str | None = None
    lang: Lang = "zh"
    # The post a reader's notification is about: its rich variant may carry the switch to text.
    post_pk: int | None = None


@dataclass(frozen=True, slots=True)
class Composed:
    """A row's messages; none (with `note` saying why) when there is nothing to send."""

    messages: list[Outgoing]
    note: str | None = None
    digest_for: int | None = None  # the subscriber whose last digest time moves to now once done


@dataclass(slots=True)
class _Batch:
    """Rows sent and waiting for one group commit."""

    entries: list[tuple[int, int | None, str | None]]
    done: asyncio.Future[None]


class Sender:
    """The sender loop over one database; `run()` until cancelled. See the module docstring."""

    def __init__(
        self,
        *,
        db: Database,
        bot: Bot,
        renderer: Renderer,
        tz: ZoneInfo,
        link_host: str,
        excerpt_chars: int,
        clock: Clock,
        rate: float = 25.0,
        concurrency: int = 8,
        rich: bool = True,
        limits: ChatLimits | None = None,
        holder: str | None = None,
        lease_ttl: float = LEASE_TTL,
        poll_every: float = POLL_EVERY,
        backoff_base: float = BACKOFF_BASE,
        give_up_after: float = GIVE_UP_AFTER,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.bot = bot
        self.renderer = renderer
        self.tz = tz
        self.link_host = link_host
        self.excerpt_chars = excerpt_chars
        self.clock = clock
        self.concurrency = concurrency
        self.rich = rich
        self.formulas = FormulaChoice(db, clock)
        self.pacer = ChatPacer(limits or ChatLimits())
        # A burst of 5 ms worth of tokens: a sleep that overshoots loses no sending time, while no second of
        # sending exceeds the rate by more than 0.5%.
        self.bucket = TokenBucket(rate, burst=max(1.0, rate / 200))
        self.holder = holder or holder_id()
        self.lease_ttl = lease_ttl
        self.poll_every = poll_every
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_base * BACKOFF_CAP_FACTOR
        self.give_up_after = give_up_after
        self.wall = wall
        self.batch = max(32, 4 * concurrency)
        self.sent = 0
        self._token = bot.token
        self._slots = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._lease = LeaseKeeper(
            db, SENDER_LEASE, ttl=lease_ttl, wall=wall, holder=self.holder, on_taken=self._taken
        )
        # Set while this process holds the lease: only then does it send.
        self._leased = self._lease.held
        self._tasks: set[asyncio.Task[None]] = set()
        self._recent_429: deque[tuple[float, str]] = deque()
        self._rich_unsupported = False
        self._builder: DigestBuilder | None = None
        self._builder_uses = 0
        self._open_batch: _Batch | None = None
        self._flush_lock = asyncio.Lock()
        self._flushes: set[asyncio.Task[None]] = set()

    # --- the loop -----------------------------------------------------------------------------------

    def wake(self) -> None:
        """New rows were queued in this process: look at once instead of at the next poll of the table."""
        self._wake.set()

    async def run(self) -> None:
        """Hold the lease and send until cancelled; then finish what is in flight and give the lease up."""
        keeping = asyncio.create_task(self._lease.run(), name="sender-lease")
        try:
            await self._dispatch()
        finally:
            keeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeping
            await self._finish_in_flight()
            await self._lease.release()

    async def _taken(self, uow: Stores) -> None:
        # Rows a dead holder left `sending` were perhaps sent: they go again (bounded repeats), never lost.
        again = await uow.deliveries.release_in_flight()
        log.info(
            "sender: lease taken by %s; %d message%s in flight at the last stop go again",
            self.holder,
            again,
            "" if again == 1 else "s",
        )

    async def _dispatch(self) -> None:
        failures = 0
        last_failure = last_said = -math.inf
        while True:
            try:
                await self._dispatch_rows()
            except Exception as exc:
                # A locked or full database (or anything unforeseen): a pause and the loop goes on, for a
                # sender that stopped would stop every delivery; the log says so once a minute, not once a
                # pause, however long the outage lasts.
                now = time.monotonic()
                if now - last_failure > OUTAGE_LOG_EVERY:
                    failures, last_said = 0, -math.inf  # a new outage
                failures += 1
                last_failure = now
                if now - last_said >= OUTAGE_LOG_EVERY:
                    log.error(
                        "sender: %s: %s; trying again every %g s (%d failed attempt%s so far)",
                        type(exc).__name__,
                        exc,
                        self.poll_every,
                        failures,
                        "" if failures == 1 else "s",
                        # A database error is expected and one line says it; anything else needs its trace.
                        exc_info=not isinstance(exc, StorageError | sqlite3.Error | OSError),
                    )
                    last_said = now
                await asyncio.sleep(self.poll_every)

    async def _dispatch_rows(self) -> None:
        buffer: deque[Delivery] = deque()
        while True:
            if not self._leased.is_set():
                buffer.clear()
                await self._leased.wait()
            if not buffer:
                self._wake.clear()
                rows = await read_stores(self.db).deliveries.due(self.wall(), self.batch)
                if not rows:
                    # Rows queued by another process's poll are found on the next look, within a second.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll_every)
                    continue
                buffer.extend(rows)
            await self._slots.acquire()
            taken = 1
            while taken < len(buffer) and not self._slots.locked():
                await self._slots.acquire()
                taken += 1
            try:
                started = await self._start([buffer.popleft() for _ in range(taken)])
            except BaseException:
                for _ in range(taken):
                    self._slots.release()
                raise
            for _ in range(taken - started):
                self._slots.release()

    async def _start(self, rows: list[Delivery]) -> int:
        """Pace, claim (one transaction) and launch rows, one free slot each; how many were launched."""
        now = self.wall()
        ready: list[Delivery] = []
        later: list[tuple[int, float]] = []
        for delivery in rows:
            at = self.pacer.ready_at(delivery, now)
            if at > now:
                later.append((delivery.id, at))
            else:
                ready.append(delivery)
                # Noted now, so a second row for the same chat in this batch waits its turn.
                self.pacer.note(delivery, now)
        async with unit_of_work(self.db) as uow:
            for delivery_id, at in later:
                await uow.deliveries.defer(delivery_id, at)
            claimed = set(await uow.deliveries.claim([d.id for d in ready])) if ready else set()
        launched = 0
        for delivery in ready:
            if delivery.id not in claimed:
                continue
            await self.bucket.take()
            task = asyncio.create_task(self._send(delivery), name=f"send-{delivery.id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            launched += 1
        return launched

    async def _finish_in_flight(self, timeout: float = 10.0) -> None:
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()

    # --- one row ------------------------------------------------------------------------------------

    async def _send(self, delivery: Delivery) -> None:
        try:
            await self._attempt(delivery)
        except asyncio.CancelledError:
            # Left `sending`: the next holder sends it again.
            raise
        except Exception:
            log.exception("sender: delivery %d failed unexpectedly", delivery.id)
            with contextlib.suppress(Exception):
                await self._retry(delivery, "internal", "internal error")
        finally:
            self._slots.release()

    async def _attempt(self, delivery: Delivery) -> None:
        chat = delivery.recipient
        outcome: Callable[[], Awaitable[None]]
        try:
            composed = await self.compose(delivery)
            message_id = await self._deliver(delivery, composed)
        except TelegramRetryAfter as exc:
            outcome = partial(self._too_many, delivery, exc.retry_after)
        except TelegramMigrateToChat as exc:
            outcome = partial(self._migrated, delivery, exc.migrate_to_chat_id)
        except TelegramForbiddenError as exc:
            outcome = partial(self._unreachable, delivery, "blocked", f"blocked: {exc.message}")
        except TelegramBadRequest as exc:
            if "chat not found" in exc.message.lower():
                outcome = partial(
                    self._unreachable, delivery, "chat_not_found", f"chat not found: {exc.message}"
                )
            else:
                outcome = partial(self._dead, delivery, "bad_request", f"bad request: {exc.message}")
        except (TelegramAPIError, ClientDecodeError, OSError, TimeoutError) as exc:
            # 5xx, network errors, timeouts, an undecodable answer (a proxy's error page): they may pass.
            outcome = partial(
                self._retry,
                delivery,
                failure_reason(exc),
                f"{type(exc).__name__}: {redact(str(exc), self._token)}",
            )
        except DigestError as exc:
            outcome = partial(self._dead, delivery, "render", f"render: {exc}")
        else:
            await self._recorded(delivery, partial(self._mark_sent, delivery.id, message_id, composed))
            if message_id is not None:
                self.sent += 1
            log.debug("sender: delivery %d (%s) to %s done", delivery.id, delivery.item, chat)
            return
        await self._recorded(delivery, outcome)

    async def _recorded(self, delivery: Delivery, record: Callable[[], Awaitable[None]]) -> None:
        """Run `record` (one unit of work) until the database takes it, keeping the row's slot meanwhile.

        A locked or full database must not turn a sent message into a repeat: the outcome is kept here and
        written once the file takes writes again, and with every slot waiting nothing new is sent meanwhile.
        A stop in between leaves the row `sending`, repeated at the next start (the delivery bound).
        """
        pause = self.poll_every
        failures = 0
        while True:
            try:
                await record()
            except WriteFailed as exc:
                if not failures:
                    log.error(
                        "sender: delivery %d: the outcome is not recorded yet (%s); retrying until it is",
                        delivery.id,
                        exc,
                    )
                failures += 1
                await asyncio.sleep(pause)
                pause = min(pause * 2, RECORD_PAUSE_CAP)
                continue
            if failures:
                log.info("sender: delivery %d: outcome recorded after %d retries", delivery.id, failures)
            return

    async def _mark_sent(self, delivery_id: int, message_id: int | None, composed: Composed) -> None:
        if composed.digest_for is not None:
            async with unit_of_work(self.db) as uow:
                await uow.deliveries.mark_sent(delivery_id, message_id, self.clock(), composed.note)
                await uow.subscribers.mark_digest_sent(composed.digest_for, self.clock())
                if message_id is not None:
                    await uow.counters.add(MESSAGES_SENT)
        else:
            await self._commit_sent(delivery_id, message_id, composed.note)

    async def _commit_sent(self, delivery_id: int, message_id: int | None, note: str | None) -> None:
        """Record a sent row in the next group commit, and return once it is committed.

        The row's slot stays taken until then, so rows `sending` in the database never outnumber the slots.
        """
        batch = self._open_batch
        if batch is None:
            batch = self._open_batch = _Batch([], asyncio.get_running_loop().create_future())
            flush = asyncio.create_task(self._flush(batch))
            self._flushes.add(flush)
            flush.add_done_callback(self._flushes.discard)
        batch.entries.append((delivery_id, message_id, note))
        await asyncio.shield(batch.done)

    async def _flush(self, batch: _Batch) -> None:
        async with self._flush_lock:
            # From here on, rows finishing join the next batch.
            self._open_batch = None
            try:
                async with unit_of_work(self.db) as uow:
                    await uow.deliveries.mark_sent_many(batch.entries, self.clock())
                    # Rows with nothing to send (a note instead of a message id) are done, not sent.
                    await uow.counters.add(
                        MESSAGES_SENT, by=sum(1 for _, mid, _ in batch.entries if mid is not None)
                    )
            except BaseException as exc:
                batch.done.set_exception(exc)
                # Read by every waiter; mark it retrieved so an unawaited one is not reported.
                batch.done.exception()
                if not isinstance(exc, Exception):
                    raise
            else:
                batch.done.set_result(None)

    async def _too_many(self, delivery: Delivery, retry_after: int) -> None:
        now = self.wall()
        self.pacer.hold(delivery.recipient, now + retry_after)
        async with unit_of_work(self.db) as uow:
            await uow.deliveries.defer(delivery.id, now + retry_after)
            await uow.counters.add(TELEGRAM_429)
            await uow.counters.add(MESSAGES_FAILED, "429")
        self._recent_429.append((now, delivery.recipient))
        while self._recent_429 and self._recent_429[0][0] < now - CONGESTION_WINDOW:
            self._recent_429.popleft()
        if len({chat for _, chat in self._recent_429}) >= CONGESTION_CHATS:
            self.bucket.slow_down()
            self._recent_429.clear()
        log.info("sender: 429 for chat %s; it waits %d s", delivery.recipient, retry_after)

    async def _migrated(self, delivery: Delivery, new_chat_id: int) -> None:
        old = chat_id_of(delivery.recipient)
        async with unit_of_work(self.db) as uow:
            if isinstance(old, int):
                await uow.subscribers.migrate_chat(old, new_chat_id)
            moved = await uow.deliveries.move(delivery.id, str(new_chat_id))
            if not moved:
                await uow.deliveries.mark_dead(delivery.id, f"migrated: chat {new_chat_id} has it already")
            await uow.counters.add(MESSAGES_FAILED, "migrated")
        log.info("sender: chat %s moved to %d; the message follows it", delivery.recipient, new_chat_id)
        self.wake()

    async def _unreachable(self, delivery: Delivery, label: str, reason: str) -> None:
        old = chat_id_of(delivery.recipient)
        async with unit_of_work(self.db) as uow:
            await uow.deliveries.mark_dead(delivery.id, reason)
            await uow.counters.add(MESSAGES_FAILED, label)
            if isinstance(old, int):
                await uow.subscribers.block(old, self.clock())
            dropped = await uow.deliveries.drop_recipient(delivery.recipient, reason)
        log.info("sender: chat %s unreachable (%s); %d queued message(s) dropped", old, reason, dropped)

    async def _dead(self, delivery: Delivery, label: str, reason: str) -> None:
        async with unit_of_work(self.db) as uow:
            await uow.deliveries.mark_dead(delivery.id, reason)
            await uow.counters.add(MESSAGES_FAILED, label)
        log.warning("sender: delivery %d to %s dead: %s", delivery.id, delivery.recipient, reason)

    async def _retry(self, delivery: Delivery, label: str, error: str) -> None:
        # `attempts` counts this one (claim() added it); the row's age, not the count, decides giving up.
        attempts = delivery.attempts + 1
        age = (self.clock() - delivery.created_at).total_seconds()
        if age >= self.give_up_after:
            await self._dead(
                delivery, label, f"{label}: gave up after {attempts} attempts in {age:.0f} s: {error}"
            )
            return
        # The last retry falls at the deadline at the latest, so giving up never waits a whole backoff longer.
        delay = min(backoff(attempts, base=self.backoff_base, cap=self.backoff_cap), self.give_up_after - age)
        async with unit_of_work(self.db) as uow:
            await uow.deliveries.mark_failed(delivery.id, error, self.wall() + delay)
            await uow.counters.add(MESSAGES_FAILED, label)
        log.info("sender: delivery %d failed (%s); retry %d in %.1f s", delivery.id, error, attempts, delay)

    # --- what is sent -------------------------------------------------------------------------------

    def builder(self) -> DigestBuilder:
        """The digest builder, renewed now and then so its caches stay small."""
        if self._builder is None or self._builder_uses > 1000:
            self._builder = DigestBuilder(
                self.db, link_host=self.link_host, tz=self.tz, excerpt_chars=self.excerpt_chars
            )
            self._builder_uses = 0
        self._builder_uses += 1
        return self._builder

    async def compose(self, delivery: Delivery) -> Composed:
        """The messages of one row, in the reader's language."""
        lang: Lang = check_lang(delivery.lang) if delivery.lang in ("zh", "en") else "zh"
        if delivery.kind == "alert":
            text = alert_html(self.renderer.translations, lang, delivery.item, delivery.payload)
            return Composed([Outgoing(text, lang=lang)])
        if delivery.kind in ("post", "channel"):
            item, raw = await self._item(delivery.post_pks[0])
            html = self.renderer.telegram_post(item, lang)
            rich = rich_post_html(self.renderer, item, raw, lang) if self.rich else None
            if delivery.kind == "post":
                html, rich = await with_watch_note(
                    self.db, self.renderer, delivery.recipient, item, delivery.post_pks[0], lang, html, rich
                )
            pk = item.key if delivery.kind == "post" else None
            return Composed([Outgoing(html, rich, item.url, lang, post_pk=pk)])
        if delivery.kind == "burst":
            items = [(await self._item(pk))[0] for pk in delivery.post_pks]
            today = self.clock().astimezone(self.tz).date()
            digest = Digest(start=today, end=today, home_url=home_url(self.link_host), posts=tuple(items))
            messages = self.renderer.telegram_digest(digest, lang)
            return Composed([Outgoing(html, lang=lang) for html in messages])
        return await self._scheduled_digest(delivery)

    async def _item(self, pk: int) -> tuple[PostItem, str]:
        """The post's message view and its raw excerpt (the rich rendering keeps the LaTeX)."""
        stored = await read_stores(self.db).posts.by_pk(pk)
        if stored is None:
            raise DigestError(f"post {pk} is no longer stored")
        return await self.builder().item(stored), stored.post.excerpt

    async def _scheduled_digest(self, delivery: Delivery) -> Composed:
        chat = chat_id_of(delivery.recipient)
        reads = read_stores(self.db).subscribers
        subscriber = await reads.get(chat) if isinstance(chat, int) else None
        if subscriber is None or subscriber.mode == "instant" or not subscriber.reachable:
            return Composed([], note="no longer a digest reader")
        follows = await reads.follows(subscriber.chat_id)
        recipient = Recipient(
            "telegram",
            subscriber.id,
            delivery.recipient,
            check_lang(subscriber.lang) if subscriber.lang in ("zh", "en") else "zh",
            subscriber.last_digest_at,
            follows.everything,
            follows.series_keys,
        )
        digest = await self.builder().for_recipient(recipient, self.clock())
        if digest is None or digest.empty:
            # Recorded as done, and the reader's digest time moves on: nothing new is not re-evaluated.
            return Composed([], note="nothing new", digest_for=subscriber.id)
        messages = self.renderer.telegram_digest(digest, recipient.lang)
        return Composed([Outgoing(html, lang=recipient.lang) for html in messages], digest_for=subscriber.id)

    async def _deliver(self, delivery: Delivery, composed: Composed) -> int | None:
        """Send every message of the row; the last one's id is recorded."""
        chat = chat_id_of(delivery.recipient)
        message_id: int | None = None
        for index, out in enumerate(composed.messages):
            if index:
                await asyncio.sleep(self.pacer.gap(delivery))
            message_id = await self._send_one(chat, out, delivery)
        return message_id

    def read_button(self, lang: str) -> str:
        """The label of a notification's link button, in the reader's language."""
        return self.renderer.translations.gettext(lang, "Read the post")

    async def _native(self, chat: int | str, out: Outgoing) -> bool:
        """Whether a reader's notification goes as native math: their choice, else their chat's default
        (the channel of CHANNEL_ID follows TELEGRAM_RICH alone)."""
        if out.post_pk is None or not isinstance(chat, int):
            return True
        return await self.formulas.wants_native(chat)

    async def _with_switch(
        self, chat: int | str, out: Outgoing, markup: InlineKeyboardMarkup | None
    ) -> InlineKeyboardMarkup | None:
        """`markup` and, under the reader's first rich message, the one-tap switch to text."""
        if out.post_pk is None or not isinstance(chat, int) or not await self.formulas.offer_switch(chat):
            return markup
        text = self.renderer.translations.gettext(out.lang, "Formulas look wrong?")
        row = [InlineKeyboardButton(text=text, callback_data=switch_data(AGAIN_POST, out.post_pk))]
        return InlineKeyboardMarkup(inline_keyboard=[*(markup.inline_keyboard if markup else []), row])

    async def _send_one(self, chat: int | str, out: Outgoing, delivery: Delivery) -> int:
        markup = None
        if out.url is not None:
            markup = InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text=self.read_button(out.lang), url=out.url)]]
            )
        if (
            out.rich_html is not None
            and delivery.rich_ok
            and not self._rich_unsupported
            and await self._native(chat, out)
        ):
            try:
                message = await self.bot.send_rich_message(
                    chat_id=chat,
                    rich_message=InputRichMessage(html=out.rich_html),
                    reply_markup=await self._with_switch(chat, out, markup),
                    request_timeout=REQUEST_TIMEOUT,
                )
                return message.message_id
            except TelegramNotFound:
                # An API server older than rich messages: no chat will take one.
                log.warning("sender: the Bot API does not know sendRichMessage; sending HTML from now on")
                self._rich_unsupported = True
            except TelegramBadRequest as exc:
                if "chat not found" in exc.message.lower():
                    raise
                log.info("sender: chat %s refused a rich message (%s); HTML from now on", chat, exc.message)
                if isinstance(chat, int):
                    try:
                        async with unit_of_work(self.db) as uow:
                            await uow.deliveries.remember_rich_refused(chat)
                    except WriteFailed as exc:
                        # Only a memo: the next message to this chat is tried rich again and falls back.
                        log.warning("sender: cannot note that chat %s refused rich messages: %s", chat, exc)
        message = await self.bot.send_message(
            chat_id=chat,
            text=out.html,
            parse_mode="HTML",
            reply_markup=markup,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
            request_timeout=REQUEST_TIMEOUT,
        )
        return message.message_id
