"""The event counters: they grow in the caller's transaction and vanish with it when it rolls back."""

from __future__ import annotations

import pytest

from storage.counters import MESSAGES_FAILED, MESSAGES_SENT, CounterStore
from storage.db import Database


async def test_counters_grow_per_name_and_label(db: Database) -> None:
    async with db.transaction() as conn:
        counters = CounterStore(conn)
        await counters.add(MESSAGES_SENT)
        await counters.add(MESSAGES_SENT, by=2)
        await counters.add(MESSAGES_FAILED, "429")
        await counters.add(MESSAGES_FAILED, "blocked", by=0)
        with pytest.raises(ValueError):
            await counters.add(MESSAGES_FAILED, "429", by=-1)
    assert await CounterStore(db.conn).all() == {(MESSAGES_SENT, ""): 3, (MESSAGES_FAILED, "429"): 1}


async def test_a_count_rolls_back_with_the_event_it_counts(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await CounterStore(conn).add(MESSAGES_SENT)
            raise RuntimeError("the event was not recorded")
    assert await CounterStore(db.conn).all() == {}
