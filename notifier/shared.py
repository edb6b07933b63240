"""Results shared for a short while: what a crowd asks for at once is built once.

The minute after a notification, hundreds of readers ask for the same thing (`/latest`). `Shared.get` builds
a key's value once, hands it to every caller asking within `ttl` seconds (those arriving while it is built
wait for the same build), and forgets it afterwards; a failed build is not kept.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class Shared(Generic[T]):
    """A small TTL cache of awaited results, single-flight per key, at most `capacity` keys."""

    def __init__(
        self, ttl: float = 2.0, *, capacity: int = 256, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.capacity = capacity
        self.clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, asyncio.Future[T]]] = OrderedDict()
        self.builds = 0

    async def get(self, key: Hashable, build: Callable[[], Awaitable[T]]) -> T:
        """The value of `key`: shared while younger than `ttl`, else built now."""
        now = self.clock()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return await asyncio.shield(entry[1])
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._entries[key] = (now + self.ttl, future)
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
        self.builds += 1
        try:
            value = await build()
        except BaseException as exc:
            if self._entries.get(key, (0.0, None))[1] is future:
                del self._entries[key]
            if isinstance(exc, Exception):
                future.set_exception(exc)
                future.exception()  # retrieved: a waiter-less failure is not reported
            else:
                future.cancel()
            raise
        future.set_result(value)
        return value
