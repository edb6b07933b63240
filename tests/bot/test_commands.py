"""Each command answered through the real dispatcher and the local Bot API, in Chinese and in English."""

from __future__ import annotations

from tests.bot.conftest import Harness


async def test_start_greets_in_the_users_language_and_offers_to_subscribe(harness: Harness) -> None:
    zh, en = harness.user("zh-hans"), harness.user("en")
    harness.api.send_text(zh, None, "/start")
    greeting = await harness.api.wait_for_message(zh.id)
    assert "科学空间" in greeting.plain and "你好" in greeting.plain
    (data,) = greeting.callback_data
    harness.api.press_button(zh, greeting, data)
    done = await harness.api.wait_for_message(zh.id)
    assert "每篇新文章都会发给你" in done.plain
    assert (await harness.app.services.reader(zh.id)).follows.everything

    text = await harness.ask(en, "/start")
    assert text.startswith("Hello, Reader!") and "Scientific Spaces" in text
    assert harness.api.commands_for(language_code="en")[0][0] == "start"
    assert harness.api.commands_for(language_code="zh")[0][1] == "开始，一键订阅"


async def test_help_lists_every_command_once(harness: Harness) -> None:
    text = await harness.ask(harness.user("en"), "/help")
    for command in ("/start", "/latest", "/search", "/series", "/subscribe", "/unsubscribe", "/settings", "/forget"):
        assert text.count(command + " — ") == 1, command
    assert "/stats" not in text
    assert "我能做什么" in await harness.ask(harness.user("zh"), "/help")
