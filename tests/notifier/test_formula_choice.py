"""The formula display of a reader through the core: defaults, choice, and the switch offered once."""

from __future__ import annotations

from datetime import UTC, datetime

from notifier.services.formulas import FormulaChoice
from storage.db import Database
from storage.uow import unit_of_work

NOW = datetime(2025, 5, 10, 12, 0, tzinfo=UTC)


async def test_a_private_reader_is_offered_the_switch_once_and_a_group_reads_text(db: Database) -> None:
    async with unit_of_work(db) as uow:
        await uow.subscribers.start(7, chat_type="private", lang="zh", now=NOW)
        await uow.subscribers.start(-7, chat_type="group", lang="zh", now=NOW)
    choice = FormulaChoice(db, lambda: NOW)
    assert await choice.wants_native(7) and not await choice.wants_native(-7)
    assert await choice.offer_switch(7)
    assert not await choice.offer_switch(7)
    assert await choice.choose(7, "text")
    assert not await choice.wants_native(7)
    assert not await choice.choose(8, "text")
    # A chat that never sent /start cannot be remembered: each rich message offers the switch.
    assert await choice.offer_switch(8) and await choice.offer_switch(8)


async def test_a_reader_who_chose_is_never_offered_the_switch(db: Database) -> None:
    async with unit_of_work(db) as uow:
        await uow.subscribers.start(9, chat_type="private", lang="en", now=NOW)
    choice = FormulaChoice(db, lambda: NOW)
    assert await choice.choose(9, "native")
    assert not await choice.offer_switch(9)
    assert await choice.wants_native(9)
