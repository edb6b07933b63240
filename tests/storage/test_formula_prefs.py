"""Formula display preferences: defaults by chat kind, a reader's choice, the one-time switch offer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from storage.db import Database
from storage.uow import read_stores, unit_of_work

NOW = datetime(2025, 5, 10, 12, 0, tzinfo=UTC)


async def _start(db: Database, chat_id: int, chat_type: str | None) -> None:
    async with unit_of_work(db) as uow:
        await uow.subscribers.start(chat_id, chat_type=chat_type, lang="zh", now=NOW)


async def test_private_chats_default_to_native_groups_to_text(db: Database) -> None:
    await _start(db, 11, "private")
    await _start(db, -100, "supergroup")
    await _start(db, 12, None)
    prefs = read_stores(db).formula_prefs
    assert (await prefs.get(11)).display == "native"
    assert (await prefs.get(-100)).display == "text"
    assert (await prefs.get(12)).display == "native"
    assert (await prefs.get(-5)).display == "text"  # no reader at all: its id says a group
    assert not (await prefs.get(11)).chosen


async def test_a_choice_is_kept_and_changed_and_refused_for_an_unknown_chat(db: Database) -> None:
    await _start(db, 11, "private")
    async with unit_of_work(db) as uow:
        assert await uow.formula_prefs.choose(11, "text")
        assert not await uow.formula_prefs.choose(999, "text")
    pref = await read_stores(db).formula_prefs.get(11)
    assert pref.display == "text" and pref.chosen
    async with unit_of_work(db) as uow:
        assert await uow.formula_prefs.choose(11, "native")
        with pytest.raises(ValueError):
            await uow.formula_prefs.choose(11, "svg")  # type: ignore[arg-type]
    assert (await read_stores(db).formula_prefs.get(11)).display == "native"


async def test_the_switch_is_offered_once_and_a_choice_keeps_that(db: Database) -> None:
    await _start(db, 11, "private")
    async with unit_of_work(db) as uow:
        assert await uow.formula_prefs.claim_hint(11, NOW)
        assert not await uow.formula_prefs.claim_hint(11, NOW)
        assert not await uow.formula_prefs.claim_hint(404, NOW)
        await uow.formula_prefs.choose(11, "text")
        assert not await uow.formula_prefs.claim_hint(11, NOW)
    pref = await read_stores(db).formula_prefs.get(11)
    assert pref.hint_sent and pref.display == "text"


async def test_forgetting_the_reader_forgets_the_preference(db: Database) -> None:
    await _start(db, 11, "private")
    async with unit_of_work(db) as uow:
        await uow.formula_prefs.choose(11, "text")
        assert await uow.subscribers.forget(11)
    async with db.conn.execute("SELECT count(*) FROM formula_prefs") as cursor:
        row = await cursor.fetchone()
    assert row is not None and row[0] == 0
    await _start(db, 11, "private")
    assert (await read_stores(db).formula_prefs.get(11)).display == "native"
