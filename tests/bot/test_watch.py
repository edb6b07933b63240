"""/watch, /pause, /resume and the time zone picker through the real dispatcher and the local Bot API."""

from __future__ import annotations

from datetime import timedelta

from tests.bot.conftest import NOW, Harness
from tests.bot.test_group_admins import REFUSED_ZH, edited
from tests.support.bot_api import SentMessage


async def listing(harness: Harness, user: object, chat: object = None) -> SentMessage:
    """/watch alone, and the list it answers with."""
    harness.api.send_text(user, chat, "/watch")  # type: ignore[arg-type]
    chat_id = user.id if chat is None else chat.id  # type: ignore[attr-defined]
    return await harness.api.wait_for_message(chat_id, timeout=10)


async def test_watch_saves_lists_and_removes_words_in_both_languages(harness: Harness) -> None:
    zh, en = harness.user(), harness.user("en")
    assert "已关注「梯度下降」" in await harness.ask(zh, "/watch   梯度下降 ")
    assert "你已经关注了「梯度下降」" in await harness.ask(zh, "/watch 梯度下降")
    assert 'Watching "LoRA"' in (await harness.ask(en, "/watch LoRA")).replace("“", '"').replace("”", '"')
    shown = await listing(harness, zh)
    assert "你关注的关键词（1 / 10）" in shown.plain and "• 梯度下降" in shown.plain
    # The query language is explained with its three examples.
    assert "/watch Transformer 位置编码" in shown.plain and "/watch LoRA" in shown.plain
    assert len(shown.callback_data) == 1
    # Someone else's button (forged, the id of another reader's watch) removes nothing.
    theirs = await listing(harness, en)
    press = harness.api.press_button(zh, shown, theirs.callback_data[0], forged=True)
    answer = await harness.api.wait_for_callback_answer(press["callback_query"]["id"], timeout=10)
    assert answer.text == "这组关键词已经删除了。"
    assert "LoRA" in (await listing(harness, en)).plain
    before = len(harness.api.edits)
    harness.api.press_button(zh, shown, shown.callback_data[0])
    await edited(harness.api, before)
    after = harness.api.message(zh.id, shown.message_id)
    assert after is not None and "你还没有关注任何关键词" in after.plain and after.callback_data == []


async def test_watch_refuses_empty_long_and_an_eleventh(harness: Harness) -> None:
    user = harness.user("en")
    assert "no words to watch" in await harness.ask(user, "/watch ！？……")
    assert "at most 64 characters" in await harness.ask(user, "/watch " + "x" * 65)
    for n in range(10):
        assert "Watching" in await harness.ask(user, f"/watch word{n}z")
    assert "remove one first" in await harness.ask(user, "/watch one more")
    reader = await harness.app.reads.subscribers.get(user.id)
    assert reader is not None and len(await harness.app.reads.watches.of(reader.id)) == 10


async def test_in_a_group_only_admins_watch_and_remove_but_anyone_lists(harness: Harness) -> None:
    api = harness.api
    owner, member = harness.user(), harness.user()
    group = api.group("读书会", creator=owner)
    assert await harness.ask(member, "/watch 扩散模型", group) == REFUSED_ZH
    assert "已关注「扩散模型」" in await harness.ask(owner, "/watch 扩散模型", group)
    shown = await listing(harness, member, group)
    assert "• 扩散模型" in shown.plain
    press = api.press_button(member, shown, shown.callback_data[0])
    answer = await api.wait_for_callback_answer(press["callback_query"]["id"], timeout=10)
    assert answer.show_alert and answer.text == REFUSED_ZH
    reader = await harness.app.reads.subscribers.get(group.id)
    assert reader is not None and len(await harness.app.reads.watches.of(reader.id)) == 1


async def test_pause_for_a_day_and_resume(harness: Harness) -> None:
    api = harness.api
    user = harness.user()
    await harness.ask(user, "/subscribe")
    api.send_text(user, None, "/pause")
    asked = await api.wait_for_message(user.id, timeout=10)
    assert "暂停通知多久" in asked.plain and len(asked.callback_data) == 3
    before = len(api.edits)
    api.press_button(user, asked, asked.callback_data[0])
    await edited(api, before)
    shown = api.message(user.id, asked.message_id)
    # A day from the service's clock, shown in the reader's zone (TIME_ZONE, Asia/Shanghai).
    assert shown is not None and "已暂停到 2025-05-11" in shown.plain
    reader = await harness.app.reads.subscribers.get(user.id)
    assert reader is not None and reader.paused and reader.paused_until is not None
    assert reader.paused_until - (reader.paused_since or NOW) == timedelta(days=1)
    assert "欢迎回来" in await harness.ask(user, "/resume")
    assert "通知没有暂停" in await harness.ask(user, "/resume")
    after = await harness.app.reads.subscribers.get(user.id)
    assert after is not None and not after.paused


async def test_pause_until_resume_by_word(harness: Harness) -> None:
    user = harness.user("en")
    assert "Paused until you send /resume" in await harness.ask(user, "/pause resume")
    reader = await harness.app.reads.subscribers.get(user.id)
    assert reader is not None and reader.paused and reader.paused_until is None


async def test_the_time_zone_is_picked_in_settings(harness: Harness) -> None:
    api = harness.api
    user = harness.user("en")
    await harness.ask(user, "/subscribe")
    api.send_text(user, None, "/settings")
    shown = await api.wait_for_message(user.id, timeout=10)
    before = len(api.edits)
    api.press_button(user, shown, "c:1:m:daily")
    await edited(api, before)
    current = api.message(user.id, shown.message_id)
    assert current is not None
    zone_button = next(data for data in current.callback_data if data == "tz")
    before = len(api.edits)
    api.press_button(user, current, zone_button)
    await edited(api, before)
    picker = api.message(user.id, shown.message_id)
    assert picker is not None and "Your time zone is Asia/Shanghai" in picker.plain
    labels = [b["text"] for row in (picker.reply_markup or {})["inline_keyboard"] for b in row]
    assert "✓ Asia/Shanghai" in labels and "UTC-05:00" in labels and "UTC+14:00" in labels
    data = picker.callback_data[labels.index("UTC-05:00")]
    before = len(api.edits)
    api.press_button(user, picker, data)
    await edited(api, before)
    reader = await harness.app.reads.subscribers.get(user.id)
    assert reader is not None and reader.time_zone == "UTC-05:00"
    ticked = api.message(user.id, shown.message_id)
    assert ticked is not None and "Your time zone is UTC-05:00" in ticked.plain


async def test_help_lists_the_new_commands_and_explains_the_query_language(harness: Harness) -> None:
    text = await harness.ask(harness.user("en"), "/help")
    for command in ("/watch", "/pause", "/resume"):
        assert command in text
    assert "/watch 梯度下降" in text and "/watch Transformer 位置编码" in text and "/watch LoRA" in text


async def test_forged_watch_buttons_remove_nothing_and_break_nothing(harness: Harness) -> None:
    user = harness.user()
    await harness.ask(user, "/watch 梯度下降")
    shown = await listing(harness, user)
    for data in (
        "watch-rm:99999999999999999999999",
        "watch-rm:-1",
        "watch-rm:x",
        "tz-pick:999",
        "pause:forever",
    ):
        press = harness.api.press_button(user, shown, data, forged=True)
        await harness.api.wait_for_callback_answer(press["callback_query"]["id"], timeout=10)
    reader = await harness.app.reads.subscribers.get(user.id)
    assert reader is not None and len(await harness.app.reads.watches.of(reader.id)) == 1
    assert not reader.paused and reader.time_zone is None
