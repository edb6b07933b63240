"""The outbox worker: works through the delivery outbox at the speed Telegram allows, losing nothing.

One process sends (the `sender` lease). It reads due rows in small batches, so memory stays flat whatever
the number of readers, and for each row: waits for the chat's own pace (one a second to a private chat,
20 a minute to a group or channel) and its own token bucket (`SEND_RATE`), marks the row `sending` in a
committed transaction, sends through the Telegram adapter, and records the answer. A row's slot (at most
`SEND_CONCURRENCY`) is freed only once its answer is committed, so a kill -9 leaves at most
`SEND_CONCURRENCY` rows `sending`; the next holder of the lease sends those again (the only repeats) and
everything still pending.

Replies to commands never wait behind a broadcast: the worker's calls are broadcast traffic in the one
budget every Bot API call shares (notifier.telegram.budget), which serves waiting replies first. What an
answer means for the row is decided by `outcomes.next_state`; every outcome is counted for /metrics
(storage/counters.py) in the transaction that records it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import sqlite3
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from zoneinfo import ZoneInfo

from digest import DigestError
from digest.render import Renderer
from notifier.config import Clock
from notifier.delivery.composing import Composed, Composer, chat_id_of
from notifier.delivery.outcomes import (
    BACKOFF_BASE,
    BACKOFF_CAP_FACTOR,
    GIVE_UP_AFTER,
    Dead,
    Moved,
    Outcome,
    Retry,
    RetryPolicy,
    Unreachable,
    Wait,
    next_state,
    retry_or_give_up,
)
from notifier.delivery.pacing import ChatLimits, ChatPacer, TokenBucket
from notifier.leasing import LeaseKeeper, holder_id
from notifier.services.formulas import FormulaChoice
from notifier.telegram import DbRefusals, Telegram, TelegramFailed, bulk
from storage import StorageError
from storage.counters import MESSAGES_FAILED, MESSAGES_SENT, TELEGRAM_429
from storage.db import Database, WriteFailed
from storage.deliveries import Delivery
from storage.uow import Stores, read_stores, unit_of_work

log = logging.getLogger(__name__)

SENDER_LEASE = "sender"
LEASE_TTL = 15.0
POLL_EVERY = 1.0
REQUEST_TIMEOUT = 20
# 429s from this many chats within CONGESTION_WINDOW seconds mean the bot as a whole sends too fast.
CONGESTION_CHATS = 3
CONGESTION_WINDOW = 10.0
# The longest pause between attempts to record an outcome the database refused (locked, disk full).
RECORD_PAUSE_CAP = 5.0
# While the database refuses the sender's reads, it says so at most once this many seconds.
OUTAGE_LOG_EVERY = 60.0


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
        telegram: Telegram,
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
        self.telegram = telegram
        if telegram.formulas is None:
            telegram.formulas = FormulaChoice(db, clock)
        if telegram.refusals is None:
            telegram.refusals = DbRefusals(db)
        self.composer = Composer(
            db=db,
            renderer=renderer,
            tz=tz,
            link_host=link_host,
            excerpt_chars=excerpt_chars,
            clock=clock,
            rich=rich,
        )
        self.clock = clock
        self.concurrency = concurrency
        self.pacer = ChatPacer(limits or ChatLimits())
        # A burst of 5 ms worth of tokens: a sleep that overshoots loses no sending time, while no second of
        # sending exceeds the rate by more than 0.5%.
        self.bucket = TokenBucket(rate, burst=max(1.0, rate / 200))
        self.holder = holder or holder_id()
        self.lease_ttl = lease_ttl
        self.poll_every = poll_every
        self.policy = RetryPolicy(backoff_base, backoff_base * BACKOFF_CAP_FACTOR, give_up_after)
        self.wall = wall
        self.batch = max(32, 4 * concurrency)
        self.sent = 0
        self._slots = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._lease = LeaseKeeper(
            db, SENDER_LEASE, ttl=lease_ttl, wall=wall, holder=self.holder, on_taken=self._taken
        )
        # Set while this process holds the lease: only then does it send.
        self._leased = self._lease.held
        self._tasks: set[asyncio.Task[None]] = set()
        self._recent_429: deque[tuple[float, str]] = deque()
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
        budget = self.telegram.budget
        for delivery in rows:
            at = self.pacer.ready_at(delivery, now)
            if budget is not None:
                # A chat that just got a reply waits its pace here, in the table, not in a slot.
                at = max(at, now + budget.ready_at(chat_id_of(delivery.recipient)) - budget.clock())
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
            # Broadcast traffic in the shared budget: every waiting reply goes first.
            with bulk():
                await self._attempt(delivery)
        except asyncio.CancelledError:
            # Left `sending`: the next holder sends it again.
            raise
        except Exception:
            log.exception("sender: delivery %d failed unexpectedly", delivery.id)
            with contextlib.suppress(Exception):
                outcome = retry_or_give_up(
                    "internal",
                    "internal error",
                    attempts=delivery.attempts + 1,
                    age=self._age(delivery),
                    policy=self.policy,
                )
                await self._apply(delivery, outcome)
        finally:
            self._slots.release()

    def _age(self, delivery: Delivery) -> float:
        return (self.clock() - delivery.created_at).total_seconds()

    async def _attempt(self, delivery: Delivery) -> None:
        outcome: Outcome
        try:
            composed = await self.composer.compose(delivery)
            message_id = await self._deliver(delivery, composed)
        except TelegramFailed as exc:
            # `attempts` counts this one (claim() added it); the row's age, not the count, decides giving up.
            outcome = next_state(
                exc.failure, attempts=delivery.attempts + 1, age=self._age(delivery), policy=self.policy
            )
        except DigestError as exc:
            outcome = Dead("render", f"render: {exc}")
        else:
            await self._recorded(delivery, partial(self._mark_sent, delivery.id, message_id, composed))
            if message_id is not None:
                self.sent += 1
            log.debug("sender: delivery %d (%s) to %s done", delivery.id, delivery.item, delivery.recipient)
            return
        await self._apply(delivery, outcome)

    async def _apply(self, delivery: Delivery, outcome: Outcome) -> None:
        """Record `outcome` (until the database takes it)."""
        record: Callable[[], Awaitable[None]]
        if isinstance(outcome, Wait):
            record = partial(self._too_many, delivery, outcome.seconds)
        elif isinstance(outcome, Moved):
            record = partial(self._migrated, delivery, outcome.chat_id)
        elif isinstance(outcome, Unreachable):
            record = partial(self._unreachable, delivery, outcome.label, outcome.reason)
        elif isinstance(outcome, Dead):
            record = partial(self._dead, delivery, outcome.label, outcome.reason)
        else:
            record = partial(self._retry, delivery, outcome)
        await self._recorded(delivery, record)

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

    async def _too_many(self, delivery: Delivery, retry_after: float) -> None:
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
        log.info("sender: 429 for chat %s; it waits %g s", delivery.recipient, retry_after)

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

    async def _retry(self, delivery: Delivery, retry: Retry) -> None:
        async with unit_of_work(self.db) as uow:
            await uow.deliveries.mark_failed(delivery.id, retry.error, self.wall() + retry.delay)
            await uow.counters.add(MESSAGES_FAILED, retry.label)
        log.info(
            "sender: delivery %d failed (%s); retry %d in %.1f s",
            delivery.id,
            retry.error,
            delivery.attempts + 1,
            retry.delay,
        )

    async def _deliver(self, delivery: Delivery, composed: Composed) -> int | None:
        """Send every message of the row; the last one's id is recorded."""
        chat = chat_id_of(delivery.recipient)
        message_id: int | None = None
        for index, out in enumerate(composed.messages):
            if index:
                await asyncio.sleep(self.pacer.gap(delivery))
            message, keyboard = self.composer.message(out)
            if not delivery.rich_ok:
                message = dataclasses.replace(message, rich=None)
            sent = await self.telegram.send(
                chat,
                message,
                keyboard,
                personal=out.post_pk is not None,
                timeout=REQUEST_TIMEOUT,
                stored=True,
            )
            message_id = sent[-1]
        return message_id

    def compose(self, delivery: Delivery) -> Awaitable[Composed]:
        """The messages of one row, in the reader's language."""
        return self.composer.compose(delivery)
