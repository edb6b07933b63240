"""Native math or text in Telegram: the one-tap switch under a first rich message, /settings, groups."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, InputRichMessage

from notifier.services.formulas import AGAIN_POST, switch_data
from tests.bot.conftest import Harness
from tests.support.bot_api import SentMessage

SWITCH = "fx:text:l:0:1"


async def _latest(harness: Harness, chat_id: int, user: object, chat: object = None) -> SentMessage:
    harness.api.send_text(user, chat, "/latest 1")  # type: ignore[arg-type]
    return await harness.api.wait_for_message(chat_id)


async def test_one_tap_on_the_switch_sends_the_message_again_as_text_and_keeps_the_choice(
    harness: Harness,
) -> None:
    api, reader = harness.api, harness.user("zh-hans")
    first = await _latest(harness, reader.id, reader)
    assert first.method == "sendRichMessage" and first.math == (r"\nabla f",)
    buttons = first.reply_markup["inline_keyboard"] if first.reply_markup else []
    assert [b["text"] for row in buttons for b in row] == ["更多 ▸", "公式显示不正常？"]
    update = api.press_button(reader, first, SWITCH)
    answer = await api.wait_for_callback_answer(update["callback_query"]["id"])
    assert answer.text is not None and "/settings" in answer.text
    again = await api.wait_for_message(reader.id)
    assert again.method == "sendMessage" and "∇f" in again.plain and "\\nabla" not in again.plain
    assert again.callback_data == ["l:1:1:1"]
    assert (await harness.app.reads.formula_prefs.get(reader.id)).display == "text"
    # From now on /latest comes as text, and nothing offers the switch again.
    later = await _latest(harness, reader.id, reader)
    assert later.method == "sendMessage" and "∇f" in later.plain
    assert not any(c.chat_id == reader.id for c in api.calls_of("sendRichMessage")[1:])


async def test_the_switch_is_offered_under_the_first_rich_message_only(harness: Harness) -> None:
    reader = harness.user("en")
    await harness.ask(reader, "/start")
    first = await _latest(harness, reader.id, reader)
    second = await _latest(harness, reader.id, reader)
    assert first.method == second.method == "sendRichMessage"
    assert first.callback_data == ["l:1:1:1", SWITCH]
    assert second.callback_data == ["l:1:1:1"]


async def test_settings_choose_text_then_native_and_latest_follows(harness: Harness) -> None:
    api, reader = harness.api, harness.user("en")
    await harness.ask(reader, "/start")
    api.send_text(reader, None, "/settings")
    shown = await api.wait_for_message(reader.id)
    assert "Formulas: native math" in shown.plain
    assert "fx:text:s:0:0" in shown.callback_data and "fx:native:s:0:0" in shown.callback_data

    async def press(data: str, expect: str) -> None:
        current = api.message(reader.id, shown.message_id)
        assert current is not None
        api.press_button(reader, current, data)
        await api.wait_for(
            lambda: True if expect in (api.message(reader.id, shown.message_id) or shown).plain else None
        )

    await press("fx:text:s:0:0", "Formulas: readable text.")
    text = await _latest(harness, reader.id, reader)
    assert text.method == "sendMessage" and "∇f" in text.plain
    await press("fx:native:s:0:0", "Formulas: native math")
    native = await _latest(harness, reader.id, reader)
    # A reader who chose is never offered the switch.
    assert native.method == "sendRichMessage" and native.callback_data == ["l:1:1:1"]


async def test_groups_get_text_by_default(harness: Harness) -> None:
    api, member = harness.api, harness.user("en")
    group = api.group("Maths group")
    api.send_text(member, group, f"/latest@{api.bot.username} 1")
    answer = await api.wait_for_message(group.id)
    assert answer.method == "sendMessage" and "∇f" in answer.plain
    assert not api.calls_of("sendRichMessage")


async def test_the_switch_under_a_notification_sends_that_post_again_as_text(harness: Harness) -> None:
    api, reader = harness.api, harness.user("en")
    await harness.ask(reader, "/start")
    stored = await harness.app.reads.posts.by_archive_id(10592)
    assert stored is not None
    # The notification as the sender writes it (notifier/sender.py): a link button, then the switch.
    data = switch_data(AGAIN_POST, stored.pk)
    markup = InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text="Read the post", url="https://kexue.fm/archives/10592")],
            [InlineKeyboardButton(text="Formulas look wrong?", callback_data=data)],
        ]
    )
    rich = r"<b>Muon</b> <tg-math>\boldsymbol{Q}\boldsymbol{K}^{\top}</tg-math>"
    sent = await harness.runner.bot.send_rich_message(
        reader.id, InputRichMessage(html=rich), reply_markup=markup
    )
    notification = api.message(reader.id, sent.message_id)
    assert notification is not None
    await api.wait_for_message(reader.id)  # the notification itself
    api.press_button(reader, notification, data)
    again = await api.wait_for_message(reader.id)
    assert again.method == "sendMessage"
    assert "Muon优化器赏析" in again.plain and "QKᵀ" in again.plain and "\\" not in again.plain
    assert (again.reply_markup or {})["inline_keyboard"][0][0]["url"] == "https://kexue.fm/archives/10592"
    assert (await harness.app.reads.formula_prefs.get(reader.id)).display == "text"
