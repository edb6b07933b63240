"""Holding a named lease in the database while this process does one thing only one process may do."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable

from storage.db import Database
from storage.uow import Stores, unit_of_work

log = logging.getLogger(__name__)


def holder_id() -> str:
    """This process, as lease holders are named: host, pid and a random tag (a reused pid is not us)."""
    return f"{socket.gethostname()}:{os.getpid()}:{random.randrange(16**6):06x}"


def holder_is_dead(holder: str) -> bool:
    """Whether a lease holder named by `holder_id` is a process of this host that no longer runs."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


class LeaseKeeper:
    """Takes the lease `name` when free and renews it every ttl/3 seconds; `held` says whether it holds it.

    A holder that stops renewing (stopped, hung, killed) loses it after `ttl`; one on this machine whose
    process is gone loses it at once.
    """

    def __init__(
        self,
        db: Database,
        name: str,
        *,
        ttl: float = 15.0,
        wall: Callable[[], float] = time.time,
        holder: str | None = None,
        on_taken: Callable[[Stores], Awaitable[None]] | None = None,
    ) -> None:
        self.db = db
        self.name = name
        self.ttl = ttl
        self.wall = wall
        self.holder = holder or holder_id()
        # Run in the transaction that takes the lease (not on renewals): cleans up after the last holder.
        self.on_taken = on_taken
        self.held = asyncio.Event()
        self.lost = asyncio.Event()
        # Set once the first attempt to take the lease is over, held or not.
        self.tried = asyncio.Event()
        # When the lease ends at the latest unless renewed (wall clock): the time the last renewal wrote.
        self._expires = 0.0
        self._written = 0.0

    async def _renew(self) -> bool:
        async with unit_of_work(self.db) as uow:
            # Read inside the transaction: a renewal may wait out another writer's lock first, and the lease
            # it writes runs from now, not from when it began to wait.
            now = self.wall()
            self._written = now
            held = await uow.leases.acquire(self.name, self.holder, now=now, ttl=self.ttl)
            current = None if held else await uow.leases.get(self.name)
            if current is not None and holder_is_dead(current.holder):
                held = await uow.leases.take_over(
                    self.name, current.holder, self.holder, now=now, ttl=self.ttl
                )
            if held and not self.held.is_set() and self.on_taken is not None:
                await self.on_taken(uow)
        return held

    async def run(self) -> None:
        """Renew until cancelled, setting `held` or `lost` as the lease comes and goes."""
        while True:
            pause = self.ttl / 3
            try:
                held = await self._renew()
            except Exception as exc:
                # Not renewed is not lost: no other process may take the lease before it expires, and giving
                # it up now would send this process's own messages in flight again once it is back.
                left = self._expires - self.wall()
                held = self.held.is_set() and left > 0
                if held:
                    pause = min(pause, left)
                log.error(
                    "lease %s: renewal failed: %s: %s%s",
                    self.name,
                    type(exc).__name__,
                    exc,
                    f"; held for {left:.0f} s more" if held else "",
                )
            else:
                if held:
                    self._expires = self._written + self.ttl
            if held and not self.held.is_set():
                log.info("lease %s: taken by %s", self.name, self.holder)
                self.lost.clear()
                self.held.set()
            elif not held and self.held.is_set():
                log.warning("lease %s: lost by %s", self.name, self.holder)
                self.held.clear()
                self.lost.set()
            self.tried.set()
            await asyncio.sleep(pause)

    async def release(self) -> None:
        """Give the lease up, so another process may take it at once."""
        self.held.clear()
        try:
            async with unit_of_work(self.db) as uow:
                await uow.leases.release(self.name, self.holder)
        except Exception as exc:
            log.error("lease %s: release failed: %s: %s", self.name, type(exc).__name__, exc)
