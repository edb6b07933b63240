"""In a group only its admins change what it receives: members are refused politely, anonymous admins count,
getChatMember answers are remembered briefly, and a failing getChatMember refuses without an error."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot

from bot.middlewares import GroupAdmins, Standing
from notifier.config import TelegramConfig
from notifier.telegram import make_bot
from tests.bot.conftest import Harness
from tests.support.bot_api import BotApiServer, Fault, User

REFUSED_ZH = "只有群管理员可以更改本群的订阅。"
REFUSED_EN = "Only the group's admins can change what this group receives."
UNCHECKED_EN = "I could not check who the group's admins are just now. Please try again later."
SUBSCRIBED_EN = "Done: every new post will come to you."


def lookups(api: BotApiServer, user: User) -> int:
    """How many times the bot asked the Bot API about `user`'s membership."""
    return sum(str(call.params.get("user_id")) == str(user.id) for call in api.calls_of("getChatMember"))


async def edited(api: BotApiServer, before: int) -> None:
    """Wait until the bot has edited a message since there were `before` edits."""
    await api.wait_for(lambda: True if len(api.edits) > before else None, timeout=10)


async def following_everything(harness: Harness, chat_id: int) -> bool:
    """Whether the chat is subscribed to every new post, read from the database."""
    return (await harness.app.services.readers.reader(chat_id)).follows.everything


async def test_a_member_cannot_unsubscribe_the_group_and_an_admin_can(harness: Harness) -> None:
    api = harness.api
    owner, admin, member = harness.user(), harness.user(), harness.user()
    group = api.group("机器学习读书会", creator=owner, admins=[admin])
    assert "每篇新文章都会发给你" in await harness.ask(owner, "/subscribe", group)

    for command in ("/unsubscribe", "/start", "/forget", "/subscribe MoE"):
        assert await harness.ask(member, command, group) == REFUSED_ZH, command
    assert await following_everything(harness, group.id)
    assert len((await harness.app.services.readers.reader(group.id)).follows.series_keys) == 0
    # Reading stays open to everyone.
    assert "杂谈第" in await harness.ask(member, "/latest 1", group)

    assert "已取消全部订阅" in await harness.ask(admin, "/unsubscribe", group)
    assert not await following_everything(harness, group.id)


async def test_an_anonymous_admin_counts_as_an_admin_without_a_lookup(harness: Harness) -> None:
    api = harness.api
    owner = harness.user("en")
    group = api.group(supergroup=True, creator=owner)
    api.set_member_status(group, owner, "creator", anonymous=True)
    api.send_text(owner, group, "/subscribe", anonymous=True)
    # Posting as the group, the admin has no Telegram language: the answer is in Chinese.
    assert "每篇新文章都会发给你" in (await api.wait_for_message(group.id, timeout=10)).plain
    assert await following_everything(harness, group.id)
    assert api.calls_of("getChatMember") == []


async def test_a_member_pressing_a_settings_or_forget_button_gets_an_alert_and_nothing_changes(
    harness: Harness,
) -> None:
    api = harness.api
    owner, member = harness.user("en"), harness.user("en")
    group = api.group(creator=owner)
    assert SUBSCRIBED_EN in await harness.ask(owner, "/subscribe", group)
    await harness.ask(member, "/settings", group)  # showing the settings is open to everyone
    shown = api.messages(group.id)[-1]

    press = api.press_button(member, shown, "c:1:m:weekly")
    answer = await api.wait_for_callback_answer(press["callback_query"]["id"], timeout=10)
    assert answer.show_alert and answer.text == REFUSED_EN
    reader = (await harness.app.services.readers.reader(group.id)).subscriber
    assert reader is not None and reader.mode == "instant"
    assert api.edits == [] and api.messages(group.id)[-1] == shown

    await harness.ask(owner, "/forget", group)
    press = api.press_button(member, api.messages(group.id)[-1], "x:1:y")
    answer = await api.wait_for_callback_answer(press["callback_query"]["id"], timeout=10)
    assert answer.show_alert and answer.text == REFUSED_EN
    assert await following_everything(harness, group.id)


async def test_admin_lookups_are_remembered_within_their_window(harness: Harness) -> None:
    api = harness.api
    owner = harness.user("en")
    group = api.group(creator=owner)
    assert SUBSCRIBED_EN in await harness.ask(owner, "/subscribe", group)
    await harness.ask(owner, "/settings", group)
    shown = api.messages(group.id)[-1]
    for data in ("c:1:m:weekly", "c:1:m:daily"):
        edits = len(api.edits)
        api.press_button(owner, shown, data)
        await edited(api, edits)
    reader = (await harness.app.services.readers.reader(group.id)).subscriber
    assert reader is not None and reader.mode == "daily"
    # /subscribe asked once; both presses within the window used that answer.
    assert lookups(api, owner) == 1


async def test_a_failing_lookup_refuses_politely_logs_once_and_recovers(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    api = harness.api
    owner = harness.user("en")
    group = api.group(creator=owner)
    api.fail(Fault.server_error(502, "Bad Gateway"), methods=["getChatMember"])
    with caplog.at_level(logging.INFO):
        for _ in range(2):
            assert await harness.ask(owner, "/subscribe", group) == UNCHECKED_EN
        assert (await harness.app.services.readers.reader(group.id)).subscriber is None
        api.recover()
        assert SUBSCRIBED_EN in await harness.ask(owner, "/subscribe", group)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    warned = [r for r in caplog.records if r.name == "bot.middlewares" and r.levelno == logging.WARNING]
    assert len(warned) == 1 and "Bad Gateway" in warned[0].getMessage()


async def test_a_lookup_answered_with_no_json_refuses_politely_without_a_traceback(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    api = harness.api
    owner = harness.user("en")
    group = api.group(creator=owner)
    api.fail(Fault.not_json(), methods=["getChatMember"])
    with caplog.at_level(logging.INFO):
        assert await harness.ask(owner, "/subscribe", group) == UNCHECKED_EN
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert not any(r.exc_info for r in caplog.records)


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def bot(bot_api: BotApiServer) -> AsyncIterator[Bot]:
    """The bot's aiogram Bot, talking to the local Bot API."""
    made = make_bot(TelegramConfig(token=bot_api.token, api_base=bot_api.base_url))
    try:
        yield made
    finally:
        await made.session.close()


async def test_the_memory_expires_follows_promotions_and_stays_bounded(
    bot: Bot, bot_api: BotApiServer
) -> None:
    clock = ManualClock()
    admins = GroupAdmins(ttl=60.0, max_entries=2, clock=clock)
    owner, member, other = bot_api.user(), bot_api.user(), bot_api.user()
    group = bot_api.group(creator=owner)
    bot_api.send_text(member, group, "hello")

    assert await admins.standing(bot, group.id, member.id) is Standing.MEMBER
    bot_api.set_member_status(group, member, "administrator")
    clock.now += 59
    assert await admins.standing(bot, group.id, member.id) is Standing.MEMBER  # remembered
    clock.now += 2
    assert await admins.standing(bot, group.id, member.id) is Standing.ADMIN  # asked again
    assert lookups(bot_api, member) == 2

    assert await admins.standing(bot, group.id, owner.id) is Standing.ADMIN
    assert await admins.standing(bot, group.id, other.id) is Standing.MEMBER  # never in the group: "left"
    # Three answers, room for two: the oldest (member's) went first.
    assert admins.remembered(group.id, member.id) is None
    assert admins.remembered(group.id, owner.id) is True
