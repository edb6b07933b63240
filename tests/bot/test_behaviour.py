"""What users expect beyond the commands: rich math with a remembered fallback, buttons never ours, flood
control, groups, inline mode, admin-only /stats, and an apology instead of a trace."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.app import BotRunner
from notifier.bootstrap import App
from notifier.config import TelegramConfig
from notifier.telegram import make_bot
from tests.bot.conftest import ADMIN_ID, Harness, running
from tests.support.bot_api import BotApiServer, Fault, User


async def test_latest_sends_formulas_as_native_math(harness: Harness) -> None:
    reader = harness.user("en")
    harness.api.send_text(reader, None, "/latest 1")
    sent = await harness.api.wait_for_message(reader.id)
    assert sent.method == "sendRichMessage"
    assert sent.math == (r"\nabla f",)
    # The first rich message a reader gets also offers the one-tap switch to text (bot/formulas.py).
    assert sent.callback_data == ["l:1:1:1", "fx:text:l:0:1"]


async def test_a_server_without_rich_messages_gets_html_and_is_not_asked_again(app: App) -> None:
    async with BotApiServer(rich_messages=False) as api:
        async for harness in running(api, app):
            reader = harness.user("en")
            first = await harness.ask(reader, "/latest 1")
            assert "∇f" in first
            await harness.ask(reader, "/latest 1")
            assert len(api.calls_of("sendRichMessage")) == 1
            assert [m.method for m in api.messages(reader.id)] == ["sendMessage", "sendMessage"]


async def test_a_chat_that_refuses_rich_messages_is_remembered_and_others_still_get_them(
    harness: Harness,
) -> None:
    api = harness.api
    refusing, other = harness.user("en"), harness.user("en")
    # A reader the bot knows (after /start): its refusal is kept in the database as well as in memory.
    await harness.ask(refusing, "/start")
    api.fail(
        Fault(400, "Bad Request: rich messages are disabled here"),
        chat_id=refusing.id,
        methods=["sendRichMessage"],
    )
    assert "∇f" in await harness.ask(refusing, "/latest 1")
    await harness.ask(refusing, "/latest 1")
    refused = [c for c in api.calls_of("sendRichMessage") if c.chat_id == refusing.id]
    assert len(refused) == 1
    harness.api.send_text(other, None, "/latest 1")
    assert (await api.wait_for_message(other.id)).method == "sendRichMessage"
    # Kept in the database (where the sender of notifications reads it too): a restart does not ask again.
    # A chat the bot does not know (`other` never sent /start) is remembered in memory only.
    assert await harness.app.services.readers.rich_refused(refusing.id)
    assert not await harness.app.services.readers.rich_refused(other.id)


async def test_a_button_that_was_never_ours_gets_a_polite_answer(harness: Harness) -> None:
    api, reader = harness.api, harness.user("en")
    foreign = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text="x", callback_data="evil:1:../../etc"),
                InlineKeyboardButton(text="y", callback_data="l:1:99999999:5"),
            ],
            [InlineKeyboardButton(text="z", callback_data="s:1:gone:1")],
        ]
    )
    message = await harness.runner.bot.send_message(reader.id, "buttons", reply_markup=foreign)
    sent = api.message(reader.id, message.message_id)
    assert sent is not None
    for data, expected in (
        ("evil:1:../../etc", "no longer works"),
        ("l:1:99999999:5", "no longer works"),
        ("s:1:gone:1", "search has expired"),
    ):
        update = api.press_button(reader, sent, data)
        answer = await api.wait_for_callback_answer(update["callback_query"]["id"])
        assert answer.text is not None and expected in answer.text
    # The bot is still fine.
    api.send_text(reader, None, "/help")
    await api.wait_for_message(reader.id, lambda m: "What I can do" in m.plain)


async def test_a_flooding_user_is_slowed_with_one_message_and_others_never_wait(harness: Harness) -> None:
    api = harness.api
    flooder, calm = harness.user("en"), harness.user("en")
    for _ in range(30):
        api.send_text(flooder, None, "/help")
    api.send_text(calm, None, "/help")
    assert "What I can do" in (await api.wait_for_message(calm.id)).plain
    await api.wait_for(lambda: True if len(api.messages(flooder.id)) >= 21 else None)
    await asyncio.sleep(0.3)
    texts = [m.plain for m in api.messages(flooder.id)]
    assert sum("very fast" in t for t in texts) == 1
    assert sum("What I can do" in t for t in texts) == 20


async def test_groups_answer_commands_addressed_to_the_bot_and_can_subscribe(harness: Harness) -> None:
    api, member = harness.api, harness.user("en")
    group = api.group("ML reading group")
    name = api.bot.username
    api.send_text(member, group, f"/latest@{name} 2")
    answer = await api.wait_for_message(group.id)
    assert answer.plain.count("杂谈第") == 2
    api.send_text(member, group, "/latest@some_other_bot")
    api.send_text(member, group, "/frobnicate")
    api.send_text(member, group, f"/subscribe@{name}")
    assert "every new post will come to you" in (await api.wait_for_message(group.id)).plain
    assert len(api.messages(group.id)) == 2
    reader = (await harness.app.services.readers.reader(group.id)).subscriber
    assert reader is not None and reader.chat_type == "group" and reader.chat_id < 0


async def test_inline_queries_answer_articles_page_by_page(harness: Harness) -> None:
    api, user = harness.api, harness.user("en")
    update = api.inline_query(user, "梯度")
    first = await api.wait_for_inline_answer(update["inline_query"]["id"])
    assert len(first.results) == 10 and first.next_offset == "10"
    article = first.results[0]
    assert article["type"] == "article" and "杂谈第" in article["title"]
    assert article["input_message_content"]["parse_mode"] == "HTML"
    assert "https://kexue.fm/archives/" in article["input_message_content"]["message_text"]
    update = api.inline_query(user, "梯度", offset=first.next_offset)
    second = await api.wait_for_inline_answer(update["inline_query"]["id"])
    assert {r["id"] for r in second.results}.isdisjoint({r["id"] for r in first.results})
    update = api.inline_query(user, "梯度", offset="20")
    third = await api.wait_for_inline_answer(update["inline_query"]["id"])
    assert len(third.results) == 4 and not third.next_offset
    # Garbage offsets start from the top, never crash.
    update = api.inline_query(user, "梯度", offset="-5;DROP")
    assert len((await api.wait_for_inline_answer(update["inline_query"]["id"])).results) == 10


async def test_stats_is_for_admins_only(harness: Harness) -> None:
    admin = harness.api.user("Admin", id=ADMIN_ID, language_code="en")
    await harness.ask(harness.user("en"), "/subscribe")
    text = await harness.ask(admin, "/stats")
    assert text.startswith("Statistics")
    assert "Readers: 1 instant, 0 daily, 0 weekly, 0 blocked or off." in text
    assert "Outbox: 0 waiting." in text and "Today: 0 sent, 0 failed." in text
    assert "/help lists what I can do" in await harness.ask(harness.user("en"), "/stats")
    assert "/stats" in await harness.ask(admin, "/help")


async def test_a_handler_error_is_logged_with_its_update_id_and_the_user_gets_an_apology(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    reader: User = harness.user("en")
    await harness.app.db.conn.close()  # the read connection is gone: every read now fails
    with caplog.at_level(logging.ERROR, logger="bot.app"):
        update = harness.api.send_text(reader, None, "/latest")
        answer = await harness.api.wait_for_message(reader.id)
    assert "Sorry, something went wrong" in answer.plain or "抱歉" in answer.plain
    assert "Traceback" not in answer.plain
    assert any(f"update {update['update_id']}" in r.getMessage() for r in caplog.records)


async def test_two_processes_on_one_database_long_poll_one_at_a_time(bot_api: BotApiServer, app: App) -> None:
    config = TelegramConfig(token=bot_api.token, api_base=bot_api.base_url, admin_ids=frozenset({ADMIN_ID}))
    first = BotRunner(app, config, bot=make_bot(config), lease_ttl=1.5)
    second = BotRunner(app, config, bot=make_bot(config), lease_ttl=1.5)
    first.start_polling(polling_timeout=1)
    await bot_api.wait_for_poll(timeout=10)
    second.start_polling(polling_timeout=1)
    try:
        await asyncio.sleep(2.5)
        # One long poll at a time: Telegram would answer a second one with 409 Conflict.
        assert bot_api.counters.get("error:409", 0) == 0
        assert not [c for c in bot_api.calls_of("getUpdates") if c.status == 409]
        # The first stops: the second takes the lease over and answers users.
        await first.stop()
        user = bot_api.user("Reader", language_code="en")
        bot_api.send_text(user, None, "/help")
        reply = await bot_api.wait_for_message(user.id, timeout=10)
        assert "/latest" in reply.plain
    finally:
        await second.stop()
        await first.stop()


async def test_blocking_the_bot_makes_the_reader_inactive_and_start_reactivates(harness: Harness) -> None:
    user = harness.user("en")
    await harness.ask(user, "/subscribe")
    assert (await harness.app.services.readers.reader(user.id)).subscriber is not None
    harness.api.user_blocks_bot(user)
    for _ in range(100):
        reader = (await harness.app.services.readers.reader(user.id)).subscriber
        if reader is not None and not reader.reachable:
            break
        await asyncio.sleep(0.05)
    assert reader is not None and not reader.reachable
    harness.api.user_unblocks_bot(user)
    await harness.ask(user, "/start")
    reader = (await harness.app.services.readers.reader(user.id)).subscriber
    assert reader is not None and reader.reachable


async def test_stats_during_a_telegram_outage_counts_rows_waiting_for_their_retry_as_waiting(
    harness: Harness,
) -> None:
    now = harness.app.clock()
    async with harness.app.uow() as uow:
        for chat in (501, 502, 503):
            await uow.deliveries.enqueue(str(chat), "post:1", "post", now)
        due = await uow.deliveries.due(now.timestamp(), 10)
        waiting = await uow.deliveries.claim([row.id for row in due])
        # Telegram answered 5xx: two rows wait for their retry, one was given up on.
        await uow.deliveries.mark_failed(waiting[0], "502 Bad Gateway", now.timestamp() + 60)
        await uow.deliveries.mark_failed(waiting[1], "502 Bad Gateway", now.timestamp() + 60)
        await uow.deliveries.mark_dead(waiting[2], "chat not found")
    admin = harness.api.user("Admin", id=ADMIN_ID, language_code="en")
    text = await harness.ask(admin, "/stats")
    assert "Outbox: 2 waiting." in text
    assert "Today: 0 sent, 1 failed." in text
