"""Results shared for a short while: a crowd's identical request is built once."""

from __future__ import annotations

import asyncio

import pytest

from notifier.shared import Shared


async def test_a_crowd_asking_at_once_gets_one_build_shared() -> None:
    now = [0.0]
    shared: Shared[str] = Shared(ttl=2.0, clock=lambda: now[0])
    calls = 0

    async def build() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return "page"

    assert await asyncio.gather(*(shared.get("latest", build) for _ in range(300))) == ["page"] * 300
    assert calls == 1
    now[0] = 1.9
    assert await shared.get("latest", build) == "page"
    assert calls == 1
    # Past its lifetime the value is built again, and another key is its own.
    now[0] = 2.1
    await shared.get("latest", build)
    await shared.get("other", build)
    assert calls == 3


async def test_a_failed_build_is_not_kept() -> None:
    shared: Shared[int] = Shared(ttl=60.0)

    async def broken() -> int:
        raise OSError("disk")

    async def fine() -> int:
        return 7

    with pytest.raises(OSError):
        await shared.get("k", broken)
    assert await shared.get("k", fine) == 7


async def test_it_holds_at_most_capacity_keys() -> None:
    shared: Shared[int] = Shared(ttl=60.0, capacity=3)
    for n in range(10):
        await shared.get(n, lambda n=n: asyncio.sleep(0, n))  # type: ignore[misc]
    assert len(shared._entries) == 3
