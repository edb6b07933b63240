"""The local Bot API server, driven by a real aiogram Bot over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandStart
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BufferedInputFile,
    ChatMemberAdministrator,
    ChatMemberBanned,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberOwner,
    ChatMemberRestricted,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputRichBlockMathematicalExpression,
    InputRichBlockParagraph,
    InputRichMessage,
    InputTextMessageContent,
    Message,
)

from tests.support.bot_api import (
    ANONYMOUS_ADMIN,
    BotApiServer,
    Fault,
    HtmlParseError,
    RateLimits,
    parse_telegram_html,
)


class ManualClock:
    """A clock the test moves by hand, for cooldowns and rate windows."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextlib.asynccontextmanager
async def connected(server: BotApiServer, *, timeout: float = 60.0) -> AsyncIterator[Bot]:
    """A real aiogram Bot whose session talks to `server`."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(server.base_url), timeout=timeout)
    bot = Bot(server.token, session=session)
    try:
        yield bot
    finally:
        await bot.session.close()


@pytest.fixture
async def bot(bot_api: BotApiServer) -> AsyncIterator[Bot]:
    """An aiogram Bot connected to the `bot_api` server."""
    async with connected(bot_api) as bot:
        yield bot


def keyboard(*data: str) -> InlineKeyboardMarkup:
    """One row of callback buttons."""
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=d.upper(), callback_data=d) for d in data]]
    )


# -- sending --------------------------------------------------------------------------------------------


async def test_get_me_answers_the_bot_identity(bot: Bot, bot_api: BotApiServer) -> None:
    me = await bot.get_me()
    assert me.id == int(bot_api.token.split(":")[0])
    assert me.is_bot and me.username == bot_api.bot.username
    assert me.supports_inline_queries is True


async def test_send_message_returns_increasing_ids_and_is_recorded(bot: Bot, bot_api: BotApiServer) -> None:
    reader = bot_api.user("苏")
    first = await bot.send_message(reader.id, "<b>新文章</b> &amp; 更多", parse_mode="HTML")
    second = await bot.send_message(reader.id, "second", reply_markup=keyboard("more"))

    assert second.message_id > first.message_id
    assert first.text == "新文章 & 更多"
    assert first.entities is not None and first.entities[0].type == "bold"
    assert (first.entities[0].offset, first.entities[0].length) == (0, 3)
    assert (
        second.reply_markup is not None and second.reply_markup.inline_keyboard[0][0].callback_data == "more"
    )

    sent = bot_api.messages(reader.id)
    assert [m.text for m in sent] == ["<b>新文章</b> &amp; 更多", "second"]
    assert sent[0].parse_mode == "HTML" and sent[0].plain == "新文章 & 更多"
    assert sent[1].callback_data == ["more"]
    assert [c.method for c in bot_api.calls_of("sendMessage")] == ["sendMessage", "sendMessage"]
    assert bot_api.calls_of("sendMessage")[0].chat_id == reader.id


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("<p>paragraph</p>", 'Unsupported start tag "p"'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>bold</i>", 'expected "</b>", found "</i>"'),
        ("1 < 2", 'Unsupported start tag ""'),
        ("Q&A", 'Character "&" is reserved'),
        ("x</b>", "Unexpected end tag"),
        ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler"'),
        ("<br/>", 'Unsupported start tag "br/"'),
    ],
)
async def test_malformed_html_is_refused_as_telegram_refuses_it(
    bot: Bot, bot_api: BotApiServer, text: str, reason: str
) -> None:
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.send_message(1, text, parse_mode="HTML")
    assert "can't parse entities" in caught.value.message
    assert reason in caught.value.message
    assert bot_api.messages(1) == []
    assert bot_api.counters["error:400"] == 1


async def test_text_limits_count_utf16_units_after_parsing(bot: Bot, bot_api: BotApiServer) -> None:
    # 2048 emoji are 4096 UTF-16 units: exactly at the limit, and the tags around them do not count.
    at_limit = "<b>" + "😀" * 2048 + "</b>"
    await bot.send_message(1, at_limit, parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(1, at_limit + "x", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(1, "<b>  </b>", parse_mode="HTML")


async def test_oversized_callback_data_is_refused(bot: Bot) -> None:
    await bot.send_message(1, "ok", reply_markup=keyboard("x" * 64))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(1, "too much", reply_markup=keyboard("x" * 65))


async def test_multipart_upload_is_recorded(bot: Bot, bot_api: BotApiServer) -> None:
    data = b"%PDF-1.4 digest"
    message = await bot.send_document(
        7, BufferedInputFile(data, "digest.pdf"), caption="<i>weekly</i>", parse_mode="HTML"
    )
    assert message.document is not None and message.document.file_name == "digest.pdf"
    assert message.caption == "weekly"
    (sent,) = bot_api.messages(7)
    assert sent.file is not None and sent.file.data == data
    assert sent.method == "sendDocument"


# -- faults ---------------------------------------------------------------------------------------------


async def test_retry_after_fault_maps_to_retry_after_and_holds_the_chat() -> None:
    clock = ManualClock()
    async with BotApiServer(clock=clock) as server, connected(server) as bot:
        server.fail(Fault.too_many_requests(7), chat_id=42, times=1)
        with pytest.raises(TelegramRetryAfter) as caught:
            await bot.send_message(42, "hello")
        assert caught.value.retry_after == 7

        # The rule fired once, but the chat stays refused until the time has passed, as Telegram does.
        clock.now += 3
        with pytest.raises(TelegramRetryAfter) as again:
            await bot.send_message(42, "hello")
        assert again.value.retry_after == 4
        await bot.send_message(43, "another chat is fine")

        clock.now += 4
        await bot.send_message(42, "hello")
        assert [m.plain for m in server.messages(42)] == ["hello"]
        assert server.too_many_requests == 2
        assert server.counters["fault:429"] == 1 and server.counters["cooldown"] == 1


async def test_blocked_user_gets_403_and_a_my_chat_member_update(bot: Bot, bot_api: BotApiServer) -> None:
    reader = bot_api.user("Reader")
    await bot.send_message(reader.id, "welcome")
    bot_api.user_blocks_bot(reader)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(reader.id, "new post")

    (update,) = await bot.get_updates(allowed_updates=["message", "my_chat_member"])
    assert update.my_chat_member is not None
    assert update.my_chat_member.new_chat_member.status == "kicked"
    assert update.my_chat_member.from_user.id == reader.id

    bot_api.user_unblocks_bot(reader)
    await bot.send_message(reader.id, "welcome back")
    assert [m.plain for m in bot_api.messages(reader.id)] == ["welcome", "welcome back"]


async def test_fault_kinds_map_to_aiogram_exceptions(bot: Bot, bot_api: BotApiServer) -> None:
    group = bot_api.group("Readers")
    bot_api.fail(Fault.migrated(-1001234567890), chat_id=group.id)
    with pytest.raises(TelegramMigrateToChat) as migrated:
        await bot.send_message(group.id, "post")
    assert migrated.value.migrate_to_chat_id == -1001234567890

    bot_api.fail(Fault.chat_not_found(), chat_id=5, times=1)
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(5, "post")
    await bot.send_message(5, "the fault was used up")

    bot_api.fail(Fault.server_error(502, "Bad Gateway"), times=2)
    for _ in range(2):
        with pytest.raises(TelegramServerError, match="Bad Gateway"):
            await bot.send_message(6, "post")
    await bot.send_message(6, "recovered")

    # A standing rule holds until recover(), and only for its chat.
    with pytest.raises(TelegramMigrateToChat):
        await bot.send_message(group.id, "post")
    bot_api.recover(group.id)
    await bot.send_message(group.id, "post")
    assert bot_api.counters["fault:migrated"] == 2 and bot_api.counters["fault:5xx"] == 2


async def test_faults_can_target_one_method() -> None:
    clock = ManualClock()
    async with BotApiServer(clock=clock) as server, connected(server) as bot:
        server.fail(Fault.server_error(), methods=["getUpdates"], times=1)
        with pytest.raises(TelegramServerError):
            await bot.get_updates()
        assert await bot.get_updates() == []

        # A flood wait on getUpdates holds getUpdates only.
        server.fail(Fault.too_many_requests(5), methods=["getupdates"], times=1)
        for _ in range(2):
            with pytest.raises(TelegramRetryAfter):
                await bot.get_updates()
        await bot.send_message(1, "sending was never affected")
        clock.now += 5
        assert await bot.get_updates() == []
        assert server.counters["cooldown"] == 1


async def test_slow_answer_makes_the_client_time_out() -> None:
    async with BotApiServer() as server, connected(server, timeout=0.2) as bot:
        server.fail(Fault.slow(5.0), chat_id=1, times=1)
        with pytest.raises(TelegramNetworkError):
            await bot.send_message(1, "slow")
        assert server.counters["fault:slow"] == 1
        await bot.send_message(1, "quick again")


async def test_unknown_token_and_method(bot_api: BotApiServer) -> None:
    session = AiohttpSession(api=TelegramAPIServer.from_base(bot_api.base_url))
    stranger = Bot("999:not-the-token", session=session)
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await stranger.get_me()
    finally:
        await session.close()

    async with aiohttp.ClientSession() as http:
        async with http.get(f"{bot_api.base_url}/bot{bot_api.token}/noSuchMethod") as response:
            assert response.status == 404
            assert await response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        # Method names are case-insensitive; a JSON body is read like a form.
        async with http.get(f"{bot_api.base_url}/bot{bot_api.token}/GETME") as response:
            assert (await response.json())["result"]["id"] == bot_api.bot.id
        url = f"{bot_api.base_url}/bot{bot_api.token}/sendMessage"
        body = {
            "chat_id": 3,
            "text": "<i>json</i>",
            "parse_mode": "HTML",
            "reply_markup": keyboard("a").model_dump(),
        }
        async with http.post(url, json=body) as response:
            answer = await response.json()
    assert answer["ok"] is True and answer["result"]["text"] == "json"
    assert bot_api.messages(3)[0].callback_data == ["a"]


# -- updates --------------------------------------------------------------------------------------------


async def test_long_poll_returns_an_update_enqueued_while_waiting(bot: Bot, bot_api: BotApiServer) -> None:
    reader = bot_api.user("Reader", language_code="en")
    polling = asyncio.create_task(bot.get_updates(timeout=30))
    await bot_api.wait_for_poll()  # the request is waiting on the server
    bot_api.send_text(reader, None, "/search 梯度")

    (update,) = await polling
    assert update.message is not None and update.message.text == "/search 梯度"
    assert update.message.from_user is not None and update.message.from_user.language_code == "en"
    assert update.message.entities is not None
    command = update.message.entities[0]
    assert (command.type, command.offset, command.length) == ("bot_command", 0, 7)

    # Confirming by offset removes it; an unconfirmed update is delivered again.
    bot_api.send_text(reader, None, "again")
    (first, second) = await bot.get_updates()
    assert first.update_id == update.update_id and second.update_id == update.update_id + 1
    assert await bot.get_updates(offset=second.update_id + 1) == []
    assert bot_api.pending_updates == []


async def test_a_second_get_updates_terminates_the_waiting_one(bot: Bot, bot_api: BotApiServer) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=30))
    await bot_api.wait_for_poll()
    second = asyncio.create_task(bot.get_updates(timeout=30))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await first
    bot_api.send_text(bot_api.user(), None, "hello")
    (update,) = await second
    assert update.message is not None and update.message.text == "hello"


async def test_allowed_updates_filter_what_is_delivered(bot: Bot, bot_api: BotApiServer) -> None:
    reader = bot_api.user()
    bot_api.user_blocks_bot(reader)
    bot_api.send_text(reader, None, "/start")
    (update,) = await bot.get_updates(allowed_updates=["message"])
    assert update.message is not None and update.message.text == "/start"
    # The setting sticks for later calls that leave it out, as Telegram keeps it.
    bot_api.user_unblocks_bot(reader)
    assert await bot.get_updates(offset=update.update_id + 1) == []


async def test_group_and_channel_updates(bot: Bot, bot_api: BotApiServer) -> None:
    reader = bot_api.user()
    group = bot_api.group("Readers", supergroup=True)
    channel = bot_api.channel("Kexue", username="kexue_news")
    bot_api.send_text(reader, group, f"/latest@{bot_api.bot.username} 3")
    bot_api.channel_post(channel, "a post")
    bot_api.my_chat_member(reader, group, "member", "left")
    group_message, post, left = await bot.get_updates(
        allowed_updates=["message", "channel_post", "my_chat_member"]
    )

    assert group_message.message is not None and group_message.message.chat.type == "supergroup"
    assert group_message.message.entities is not None
    assert group_message.message.entities[0].length == len(f"/latest@{bot_api.bot.username}")
    assert post.channel_post is not None and post.channel_post.sender_chat is not None
    assert post.channel_post.chat.id == channel.id
    assert left.my_chat_member is not None and left.my_chat_member.new_chat_member.status == "left"

    with pytest.raises(TelegramForbiddenError, match="not a member of the supergroup chat"):
        await bot.send_message(group.id, "hello?")
    await bot.send_message("@kexue_news", "to the channel by username")
    assert server_texts(bot_api, channel.id) == ["to the channel by username"]


async def test_get_chat_member_answers_each_status_in_the_shape_aiogram_validates(
    bot: Bot, bot_api: BotApiServer
) -> None:
    owner, admin, member, muted, gone, banned = (bot_api.user(name) for name in "ABCDEF")
    group = bot_api.group("Readers", supergroup=True, creator=owner, admins=[admin])
    bot_api.send_text(member, group, "hello")
    bot_api.set_member_status(group, muted, "restricted")
    bot_api.set_member_status(group, banned, "kicked")
    shapes = {
        owner: ChatMemberOwner,
        admin: ChatMemberAdministrator,
        member: ChatMemberMember,
        muted: ChatMemberRestricted,
        gone: ChatMemberLeft,
        banned: ChatMemberBanned,
    }
    for user, shape in shapes.items():
        answer = await bot.get_chat_member(group.id, user.id)
        assert isinstance(answer, shape) and answer.user.id == user.id
    # The bot itself, and the bot as a group admin in a my_chat_member update (all fields present).
    assert (await bot.get_chat_member(group.id, bot_api.bot.id)).status == "member"
    bot_api.my_chat_member(owner, group, "member", "administrator")
    (promoted,) = await bot.get_updates(allowed_updates=["my_chat_member"])
    assert promoted.my_chat_member is not None
    assert isinstance(promoted.my_chat_member.new_chat_member, ChatMemberAdministrator)
    with pytest.raises(TelegramBadRequest, match="user not found"):
        await bot.get_chat_member(group.id, 424242)
    bot_api.fail(Fault.server_error(), methods=["getChatMember"], times=1)
    with pytest.raises(TelegramServerError):
        await bot.get_chat_member(group.id, owner.id)


async def test_a_group_made_without_people_has_its_first_actor_as_creator(
    bot: Bot, bot_api: BotApiServer
) -> None:
    first, second, heir = bot_api.user("First"), bot_api.user("Second"), bot_api.user("Heir")
    group = bot_api.group()
    bot_api.send_text(first, group, "/start")
    bot_api.send_text(second, group, "/start")
    assert isinstance(await bot.get_chat_member(group.id, first.id), ChatMemberOwner)
    assert bot_api.member_status(group, second) == "member"
    # Ownership passes on: the old creator stays an administrator.
    bot_api.set_member_status(group, heir, "creator", anonymous=True)
    new_owner = await bot.get_chat_member(group.id, heir.id)
    assert isinstance(new_owner, ChatMemberOwner) and new_owner.is_anonymous
    assert bot_api.member_status(group, first) == "administrator"
    with pytest.raises(ValueError, match="unknown member status"):
        bot_api.set_member_status(group, second, "moderator")


async def test_an_admin_posts_anonymously_as_the_group(bot: Bot, bot_api: BotApiServer) -> None:
    admin, member = bot_api.user("Admin"), bot_api.user("Member")
    group = bot_api.group(admins=[admin])
    bot_api.send_text(member, group, "hi")
    with pytest.raises(ValueError, match="only an administrator"):
        bot_api.send_text(member, group, "/unsubscribe", anonymous=True)
    bot_api.send_text(admin, group, "/unsubscribe", anonymous=True)
    _, update = await bot.get_updates(allowed_updates=["message"])
    message = update.message
    assert message is not None and message.sender_chat is not None and message.from_user is not None
    assert message.sender_chat.id == group.id and message.from_user.id == ANONYMOUS_ADMIN.id


def server_texts(server: BotApiServer, chat_id: int) -> list[str]:
    """The texts the bot sent to one chat."""
    return [m.plain for m in server.messages(chat_id)]


async def test_button_press_round_trip_and_edits(bot: Bot, bot_api: BotApiServer) -> None:
    reader = bot_api.user()
    sent = await bot.send_message(reader.id, "page 1", reply_markup=keyboard("next"))
    recorded = await bot_api.wait_for_message(reader.id)
    update = bot_api.press_button(reader, recorded, "next")
    query_id = update["callback_query"]["id"]

    (received,) = await bot.get_updates()
    query = received.callback_query
    assert query is not None and query.data == "next" and query.from_user.id == reader.id
    assert isinstance(query.message, Message) and query.message.message_id == sent.message_id

    await bot.answer_callback_query(query.id, text="Loading…")
    answer = await bot_api.wait_for_callback_answer(query_id)
    assert answer.text == "Loading…" and answer.show_alert is False
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query.id)

    async def edit() -> Message | bool:
        return await bot.edit_message_text(
            "page <b>2</b>",
            chat_id=reader.id,
            message_id=sent.message_id,
            parse_mode="HTML",
            reply_markup=keyboard("prev"),
        )

    edited = await edit()
    assert isinstance(edited, Message) and edited.text == "page 2" and edited.edit_date is not None
    current = bot_api.message(reader.id, sent.message_id)
    assert current is not None and current.plain == "page 2" and current.callback_data == ["prev"]
    assert [(e.message_id, e.plain) for e in bot_api.edits] == [(sent.message_id, "page 2")]

    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await edit()
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=reader.id, message_id=999)
    with pytest.raises(ValueError, match="no button"):
        bot_api.press_button(reader, recorded, "next")  # that button is gone after the edit


async def test_inline_query_answers_are_validated_and_recorded(bot: Bot, bot_api: BotApiServer) -> None:
    reader = bot_api.user()
    update = bot_api.inline_query(reader, "LoRA", "20")
    (received,) = await bot.get_updates()
    query = received.inline_query
    assert query is not None and (query.query, query.offset) == ("LoRA", "20")

    def article(n: int, text: str = "<b>post</b>") -> InlineQueryResultArticle:
        content = InputTextMessageContent(message_text=text, parse_mode="HTML")
        return InlineQueryResultArticle(id=str(n), title=f"post {n}", input_message_content=content)

    with pytest.raises(TelegramBadRequest, match="RESULTS_TOO_MUCH"):
        await bot.answer_inline_query(query.id, [article(n) for n in range(51)])
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.answer_inline_query(query.id, [article(1, "<b>unclosed")])
    await bot.answer_inline_query(query.id, [article(n) for n in range(50)], next_offset="40")

    answer = await bot_api.wait_for_inline_answer(update["inline_query"]["id"])
    assert len(answer.results) == 50 and answer.next_offset == "40"
    assert answer.results[0]["input_message_content"]["message_text"] == "<b>post</b>"


async def test_commands_are_validated_and_kept_per_scope_and_language(
    bot: Bot, bot_api: BotApiServer
) -> None:
    await bot.set_my_commands([BotCommand(command="latest", description="最新文章")], language_code="zh")
    group_scope = BotCommandScopeAllGroupChats()
    await bot.set_my_commands([BotCommand(command="search", description="Search")], scope=group_scope)

    assert bot_api.commands_for(language_code="zh") == [("latest", "最新文章")]
    assert bot_api.commands_for({"type": "all_group_chats"}) == [("search", "Search")]
    assert bot_api.commands_for() == []
    (listed,) = await bot.get_my_commands(language_code="zh")
    assert (listed.command, listed.description) == ("latest", "最新文章")

    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Latest-Posts", description="x")])
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_DESCRIPTION_INVALID"):
        await bot.set_my_commands([BotCommand(command="latest", description="x" * 257)])


async def test_webhook_state_blocks_get_updates(bot: Bot, bot_api: BotApiServer) -> None:
    await bot.set_webhook("https://example.org/hook")
    assert (await bot.get_webhook_info()).url == "https://example.org/hook"
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await bot.get_updates()
    bot_api.send_text(bot_api.user(), None, "pending")
    await bot.delete_webhook(drop_pending_updates=True)
    assert bot_api.webhook is None
    assert await bot.get_updates() == []


# -- rich messages --------------------------------------------------------------------------------------


async def test_rich_message_with_math_is_accepted_and_recorded(bot: Bot, bot_api: BotApiServer) -> None:
    rich = InputRichMessage(
        blocks=[
            InputRichBlockParagraph(text="Attention is"),
            InputRichBlockMathematicalExpression(expression=r"\mathrm{softmax}(QK^\top/\sqrt{d})V"),
        ]
    )
    message = await bot.send_rich_message(11, rich)
    assert message.rich_message is not None
    assert [block.type for block in message.rich_message.blocks] == ["paragraph", "mathematical_expression"]

    (sent,) = bot_api.messages(11)
    assert sent.method == "sendRichMessage"
    assert sent.math == (r"\mathrm{softmax}(QK^\top/\sqrt{d})V",)
    assert (
        sent.rich_message is not None and sent.rich_message["blocks"][1]["type"] == "mathematical_expression"
    )

    html = "<p>Euler: <tg-math>e^{i\\pi}+1=0</tg-math></p><tg-math-block>\\int_0^1 x\\,dx</tg-math-block>"
    await bot.send_rich_message(11, InputRichMessage(html=html))
    assert bot_api.messages(11)[1].math == ("\\int_0^1 x\\,dx", "e^{i\\pi}+1=0")


async def test_rich_message_math_is_checked(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="mathematical expression is empty"):
        await bot.send_rich_message(
            1, InputRichMessage(blocks=[InputRichBlockMathematicalExpression(expression=" ")])
        )
    with pytest.raises(TelegramBadRequest, match="too long"):
        huge = InputRichBlockMathematicalExpression(expression="x+" * 20000)
        await bot.send_rich_message(1, InputRichMessage(blocks=[huge]))
    with pytest.raises(TelegramBadRequest, match="tg-math-block"):
        await bot.send_rich_message(1, InputRichMessage(html="<tg-math-block>x^2"))


async def test_an_old_server_refuses_rich_messages() -> None:
    async with BotApiServer(rich_messages=False) as server, connected(server) as bot:
        rich = InputRichMessage(blocks=[InputRichBlockMathematicalExpression(expression="x^2")])
        with pytest.raises(TelegramNotFound):
            await bot.send_rich_message(1, rich)
        # The fallback a bot then takes still works.
        await bot.send_message(1, "x²")
        assert [m.method for m in server.messages(1)] == ["sendMessage"]


# -- rate limits ----------------------------------------------------------------------------------------


async def test_rate_limits_answer_429_beyond_the_per_chat_and_global_rates() -> None:
    clock = ManualClock()
    limits = RateLimits(global_per_second=3, private_per_second=1, group_per_minute=20)
    async with BotApiServer(clock=clock, rate_limits=limits) as server, connected(server) as bot:
        await bot.send_message(1, "first")
        with pytest.raises(TelegramRetryAfter) as caught:
            await bot.send_message(1, "second within the same second")
        assert caught.value.retry_after == 1
        await bot.send_message(2, "another chat")
        await bot.send_message(3, "a third chat")
        with pytest.raises(TelegramRetryAfter):
            await bot.send_message(4, "over the global rate")

        clock.now += 1.0
        await bot.send_message(1, "second, a second later")
        assert server.counters["rate_limit:private"] == 1
        assert server.counters["rate_limit:global"] == 1
        assert server.too_many_requests == 2


async def test_group_rate_is_per_minute() -> None:
    clock = ManualClock()
    limits = RateLimits(global_per_second=None, private_per_second=1, group_per_minute=20)
    async with BotApiServer(clock=clock, rate_limits=limits) as server, connected(server) as bot:
        group = server.group()
        for n in range(20):
            clock.now += 0.5
            await bot.send_message(group.id, f"post {n}")
        with pytest.raises(TelegramRetryAfter) as caught:
            await bot.send_message(group.id, "post 21")
        # The oldest of the 20 leaves the window 60 s after it was sent: 50.5 s from now.
        assert caught.value.retry_after == 51
        assert server.counters["rate_limit:group"] == 1


# -- a Dispatcher end to end ----------------------------------------------------------------------------


async def test_dispatcher_polls_and_replies_end_to_end(bot: Bot, bot_api: BotApiServer) -> None:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer(f"<b>欢迎</b>, {message.chat.id}", parse_mode="HTML")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    polling = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False, polling_timeout=30))
    try:
        reader = bot_api.user("Reader")
        bot_api.send_text(reader, None, "/start")
        reply = await bot_api.wait_for_message(reader.id, timeout=10)
        assert reply.plain == f"欢迎, {reader.id}"
        assert reply.entities[0]["type"] == "bold"

        bot_api.send_text(reader, None, "/start")
        second = await bot_api.wait_for_message(reader.id, timeout=10)
        assert second.message_id > reply.message_id
    finally:
        await dispatcher.stop_polling()
        await polling
    # The dispatcher asked only for what its routers handle, and confirmed what it handled.
    assert bot_api.allowed_updates == frozenset({"message"})
    assert bot_api.calls_of("getMe")


# -- the HTML parser alone ------------------------------------------------------------------------------


def test_html_entities_use_utf16_offsets_and_trimmed_text() -> None:
    text, entities = parse_telegram_html(
        '  😀 <a href="https://kexue.fm/archives/1?a=1&amp;b=2">链接</a>'
        '\n<pre><code class="language-python">x &lt; 1</code></pre>'
        '<blockquote expandable>q</blockquote><tg-emoji emoji-id="5368324170671202286">👍</tg-emoji> '
    )
    assert text == "😀 链接\nx < 1q👍"
    assert entities == [
        {"type": "text_link", "offset": 3, "length": 2, "url": "https://kexue.fm/archives/1?a=1&b=2"},
        {"type": "pre", "offset": 6, "length": 5, "language": "python"},
        {"type": "expandable_blockquote", "offset": 11, "length": 1},
        {"type": "custom_emoji", "offset": 12, "length": 2, "custom_emoji_id": "5368324170671202286"},
    ]


def test_html_numeric_entities_and_reported_byte_offsets() -> None:
    assert parse_telegram_html("&#20013;&#x6587; &quot;ok&quot; a > b")[0] == '中文 "ok" a > b'
    with pytest.raises(HtmlParseError, match="byte offset 7"):
        parse_telegram_html("中文 <x>")  # two 3-byte characters and a space come before '<'
    with pytest.raises(HtmlParseError, match="reserved"):
        parse_telegram_html("&nbsp;")


async def test_form_posts_carry_nested_objects_as_json_strings(bot: Bot, bot_api: BotApiServer) -> None:
    await bot.send_message(1, "post", reply_markup=keyboard("more"))
    (call,) = bot_api.calls_of("sendMessage")
    # aiogram posts a urlencoded form: scalars as text, nested objects as JSON strings; recorded as they came.
    assert call.params["chat_id"] == "1"
    assert isinstance(call.params["reply_markup"], str)
    assert json.loads(call.params["reply_markup"])["inline_keyboard"][0][0]["callback_data"] == "more"
    assert call.status == 200 and call.chat_id == 1


async def test_wait_for_message_reads_each_reply_once_in_order(bot: Bot, bot_api: BotApiServer) -> None:
    await bot.send_message(1, "one")
    await bot.send_message(1, "two")
    await bot.send_message(2, "elsewhere")
    assert (await bot_api.wait_for_message(1, lambda m: m.plain == "two")).plain == "two"
    assert (await bot_api.wait_for_message(1)).plain == "one"
    with pytest.raises(TimeoutError, match="no new bot message in chat 1"):
        await bot_api.wait_for_message(1, timeout=0.05)

    await bot.delete_message(2, bot_api.messages(2)[0].message_id)
    assert bot_api.messages(2) == [] and bot_api.deleted == [(2, 1)]
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(2, 1)


async def test_strict_chats_know_only_the_chats_helpers_made() -> None:
    async with BotApiServer(strict_chats=True) as server, connected(server) as bot:
        reader = server.user()
        await bot.send_message(reader.id, "known")
        with pytest.raises(TelegramBadRequest, match="chat not found"):
            await bot.send_message(reader.id + 1, "unknown")
        with pytest.raises(TelegramBadRequest, match="chat not found"):
            await bot.send_message("@nobody", "unknown")


async def test_stopping_the_server_answers_a_waiting_long_poll(bot_api: BotApiServer) -> None:
    async with connected(bot_api) as bot:
        polling = asyncio.create_task(bot.get_updates(timeout=30))
        await bot_api.wait_for_poll()
        await bot_api.stop()
        assert await polling == []


async def test_the_other_methods_a_bot_calls(bot: Bot, bot_api: BotApiServer) -> None:
    sent = await bot.send_message(1, "post", reply_markup=keyboard("more"))
    await bot.edit_message_reply_markup(chat_id=1, message_id=sent.message_id)  # no markup: keyboard removed
    current = bot_api.message(1, sent.message_id)
    assert current is not None and current.callback_data == [] and current.plain == "post"
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(chat_id=1, message_id=sent.message_id)

    assert await bot.send_chat_action(1, "typing") is True
    await bot.set_my_description("苏剑林的科学空间", language_code="zh")
    assert bot_api.profile[("setMyDescription", "zh")] == "苏剑林的科学空间"
    with pytest.raises(TelegramBadRequest, match="too long"):
        await bot.set_my_short_description("x" * 121)

    photo = await bot.send_photo(1, BufferedInputFile(b"\x89PNG", "figure.png"), caption="figure 1")
    assert photo.photo is not None and photo.caption == "figure 1"

    await bot.send_rich_message(1, InputRichMessage(markdown="Energy $$E=mc^2$$ and $a^2$ cost $5"))
    assert bot_api.messages(1)[-1].math == ("E=mc^2", "a^2")
