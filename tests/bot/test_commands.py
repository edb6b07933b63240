"""Each command answered through the real dispatcher and the local Bot API, in Chinese and in English."""

from __future__ import annotations

import asyncio

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
    assert (await harness.app.services.readers.reader(zh.id)).follows.everything

    text = await harness.ask(en, "/start")
    assert text.startswith("Hello, Reader!") and "Scientific Spaces" in text
    assert harness.api.commands_for(language_code="en")[0][0] == "start"
    assert harness.api.commands_for(language_code="zh")[0][1] == "开始，一键订阅"


async def test_help_lists_every_command_once(harness: Harness) -> None:
    text = await harness.ask(harness.user("en"), "/help")
    for command in (
        "/start",
        "/latest",
        "/search",
        "/series",
        "/subscribe",
        "/unsubscribe",
        "/settings",
        "/email",
        "/forget",
    ):
        assert text.count(command + " — ") == 1, command
    assert "/stats" not in text
    # /email is wired into the same dispatcher: alone it says where the reader stands and how to use it.
    assert "/email off" in await harness.ask(harness.user("en"), "/email")
    assert "我能做什么" in await harness.ask(harness.user("zh"), "/help")


async def test_latest_pages_back_with_the_more_button_in_both_languages(harness: Harness) -> None:
    api, reader = harness.api, harness.user("en")
    api.send_text(reader, None, "/latest 3")
    first = await api.wait_for_message(reader.id)
    assert first.plain.startswith("The newest posts")
    assert (
        first.plain.count("杂谈第") == 3 and "杂谈第24号" in first.plain and "杂谈第21号" not in first.plain
    )
    assert "124 readers" in first.plain
    # The rich message also offers the one-tap switch to text (bot/formulas.py).
    more, switch = first.callback_data
    assert more == "l:1:3:3" and switch == "fx:text:l:0:3"
    api.press_button(reader, first, more)
    second = await api.wait_for_message(reader.id)
    assert "Older posts, from number 4" in second.plain
    assert "杂谈第21号" in second.plain and "杂谈第24号" not in second.plain

    zh = harness.user("zh-hans")
    text = await harness.ask(zh, "/latest")
    assert text.startswith("最新文章") and text.count("杂谈第") == 5
    assert "20" in await harness.ask(zh, "/latest many")
    # 0 and 999 are refused like `many`, never silently changed into 1 or 20.
    for count in ("0", "999", "-5"):
        answer = await harness.ask(zh, f"/latest {count}")
        assert "20" in answer and "杂谈第" not in answer, count


async def test_latest_20_is_split_within_telegrams_limit(harness: Harness) -> None:
    reader = harness.user("en")
    harness.api.send_text(reader, None, "/latest 20")
    messages = [await harness.api.wait_for_message(reader.id)]
    while messages[-1].reply_markup is None:
        messages.append(await harness.api.wait_for_message(reader.id))
    shown = sum(m.plain.count("https://") + m.plain.count("杂谈第") for m in messages)
    assert shown >= 20
    assert sum(m.plain.count("杂谈第") for m in messages) == 20


async def test_search_bolds_the_matched_words_and_pages_both_ways(harness: Harness) -> None:
    api, reader = harness.api, harness.user("en")
    api.send_text(reader, None, "/search 梯度")
    page = await api.wait_for_message(reader.id)
    assert page.plain.startswith("Search: 梯度")
    bold = [page.plain[e["offset"] : e["offset"] + e["length"]] for e in page.entities if e["type"] == "bold"]
    assert "梯度" in bold
    assert page.plain.count("杂谈第") == 5
    (following,) = page.callback_data
    api.press_button(reader, page, following)
    await api.wait_for(
        lambda: True if "page 2" in (api.message(reader.id, page.message_id) or page).plain else None
    )
    turned = api.message(reader.id, page.message_id)
    assert turned is not None and len(turned.callback_data) == 2
    previous = turned.callback_data[0]
    api.press_button(reader, turned, previous)
    await api.wait_for(
        lambda: True if "page 2" not in (api.message(reader.id, page.message_id) or page).plain else None
    )

    assert "Send /search and some words" in await harness.ask(reader, "/search")
    nothing = await harness.ask(reader, "/search 量子色动力学")
    assert "Nothing found" in nothing and "/series" in nothing
    assert "搜索：MoE" in await harness.ask(harness.user("zh"), "/search MoE")


async def test_post_strings_are_escaped(harness: Harness) -> None:
    text = await harness.ask(harness.user("en"), "/search 负载均衡")
    assert "<b>&" in text


async def test_series_index_detail_gaps_and_follow_button(harness: Harness) -> None:
    api, reader = harness.api, harness.user("zh")
    api.send_text(reader, None, "/series")
    index = await api.wait_for_message(reader.id)
    assert "科学空间的系列" in index.plain and "低秩近似之路" in index.plain
    refs = await harness.app.services.archive.series_refs()
    low_rank = next(ref for ref in refs.values() if ref.name.startswith("低秩"))
    api.press_button(reader, index, f"r:1:{low_rank.id}")
    detail = await api.wait_for_message(reader.id)
    assert "1. 低秩近似之路（一）" in detail.plain and "未收录：第 2 篇" in detail.plain
    assert detail.plain.index("（一）") < detail.plain.index("（三）")
    api.press_button(reader, detail, f"f:1:{low_rank.id}")
    followed = await api.wait_for_message(reader.id)
    assert "低秩近似之路" in followed.plain
    assert low_rank.key in (await harness.app.services.readers.reader(reader.id)).follows.series_keys

    en = harness.user("en")
    assert "Not stored: part 2." in await harness.ask(en, "/series 低秩")
    assert "No series matches" in await harness.ask(en, "/series 不存在")


async def test_subscribe_and_unsubscribe_say_what_changed(harness: Harness) -> None:
    reader = harness.user("en")
    assert "every new post will come to you" in await harness.ask(reader, "/subscribe")
    assert "already get every new post" in await harness.ask(reader, "/subscribe")
    assert "each new part of “MoE环游记”" in await harness.ask(reader, "/subscribe moe环游记")
    assert "no longer follow “MoE环游记”" in await harness.ask(reader, "/unsubscribe MoE环游记")
    assert "unsubscribed from everything" in await harness.ask(reader, "/unsubscribe")
    assert "not subscribed to anything" in await harness.ask(reader, "/unsubscribe")
    assert "你已经订阅了所有新文章" not in await harness.ask(harness.user("zh"), "/subscribe")


async def test_settings_buttons_change_mode_hour_day_and_language(harness: Harness) -> None:
    api, reader = harness.api, harness.user("en")
    await harness.ask(reader, "/start")
    api.send_text(reader, None, "/settings")
    shown = await api.wait_for_message(reader.id)
    assert "Delivery: each new post at once." in shown.plain

    def current() -> str:
        found = api.message(reader.id, shown.message_id)
        assert found is not None
        return found.plain

    async def press(data: str, expect: str) -> None:
        message = api.message(reader.id, shown.message_id)
        assert message is not None
        api.press_button(reader, message, data)
        await api.wait_for(lambda: True if expect in current() else None)

    await press("c:1:m:weekly", "a weekly digest on Monday at 08:00")
    await press("c:1:h:+1", "at 09:00")
    await press("c:1:d:-1", "on Sunday at 09:00")
    await press("c:1:l:zh", "每周日 09:00")
    stored = (await harness.app.services.readers.reader(reader.id)).subscriber
    assert stored is not None and (stored.mode, stored.digest_hour, stored.digest_day, stored.lang) == (
        "weekly",
        9,
        6,
        "zh",
    )
    # The chosen language now answers every command, whatever Telegram's language.
    assert "我能做什么" in await harness.ask(reader, "/help")


async def test_forget_deletes_only_after_the_confirmation(harness: Harness) -> None:
    api, reader = harness.api, harness.user("en")
    await harness.ask(reader, "/subscribe")
    api.send_text(reader, None, "/forget")
    ask = await api.wait_for_message(reader.id)
    yes, no = ask.callback_data
    api.press_button(reader, ask, no)
    await api.wait_for(
        lambda: (
            True if "Nothing was deleted" in (api.message(reader.id, ask.message_id) or ask).plain else None
        )
    )
    assert (await harness.app.services.readers.reader(reader.id)).subscriber is not None

    api.send_text(reader, None, "/forget")
    ask = await api.wait_for_message(reader.id)
    api.press_button(reader, ask, yes)
    await api.wait_for(
        lambda: True if "is deleted" in (api.message(reader.id, ask.message_id) or ask).plain else None
    )
    assert (await harness.app.services.readers.reader(reader.id)).subscriber is None


async def test_start_deep_link_follows_the_series(harness: Harness) -> None:
    refs = await harness.app.services.archive.series_refs()
    moe = next(ref for ref in refs.values() if ref.name.startswith("MoE"))
    reader = harness.user("en")
    text = await harness.ask(reader, f"/start s{moe.id}")
    assert f"You now follow the series “{moe.name}”" in text
    assert (await harness.app.services.readers.reader(reader.id)).follows.series_keys == {moe.key}
    assert "a series I do not know" in await harness.ask(harness.user("en"), "/start s99999")
    # A payload that is not ours is an ordinary /start.
    assert "Hello" in await harness.ask(harness.user("en"), "/start ref_abc")


async def test_unknown_commands_get_a_helpful_line_and_text_is_a_search(harness: Harness) -> None:
    reader = harness.user("en")
    assert "/help lists what I can do" in await harness.ask(reader, "/frobnicate")
    assert "我不认识这个命令" in await harness.ask(harness.user("zh"), "/frobnicate")
    assert (await harness.ask(reader, "MoE")).startswith("Search: MoE")


async def test_a_series_is_found_by_any_part_and_a_typo_gets_did_you_mean_buttons(harness: Harness) -> None:
    api, reader = harness.api, harness.user("zh")
    # Any part of the name, spaced and punctuated any way.
    assert "低秩近似之路（一）" in await harness.ask(reader, "/series 近似 之路：")
    api.send_text(reader, None, "/series 低秩近拟之路")
    guess = await api.wait_for_message(reader.id)
    assert "没有系列匹配" in guess.plain and "你是不是要找" in guess.plain and "低秩近似之路" in guess.plain
    refs = await harness.app.services.archive.series_refs()
    low_rank = next(ref for ref in refs.values() if ref.name.startswith("低秩"))
    # The suggestion is a button: nothing is followed until the reader presses it.
    assert (await harness.app.services.readers.reader(reader.id)).subscriber is None
    api.press_button(reader, guess, f"r:1:{low_rank.id}")
    assert "低秩近似之路（一）" in (await api.wait_for_message(reader.id)).plain
    nonsense = await harness.ask(harness.user("en"), "/series 量子引力的弦论")
    assert "No series matches" in nonsense and "Did you mean" not in nonsense


async def test_a_pasted_paragraph_is_searched_by_its_start_and_answered_in_chinese(harness: Harness) -> None:
    reader = harness.user("zh")
    text = await harness.ask(reader, "/search 低秩近似 " + "这是一段很长的粘贴文字" * 24)
    assert "query too long" not in text and "无法执行" not in text
    assert "低秩近似之路" in text


async def test_start_from_a_reader_who_gets_everything_offers_no_missing_button(harness: Harness) -> None:
    api, reader = harness.api, harness.user("en")
    await harness.ask(reader, "/subscribe")
    api.send_text(reader, None, "/start")
    welcome = await api.wait_for_message(reader.id)
    assert "You already get every new post" in welcome.plain and "Press the button" not in welcome.plain
    assert not (welcome.reply_markup or {}).get("inline_keyboard", [[]])[0]


async def test_the_series_index_in_chinese_uses_chinese_punctuation(harness: Harness) -> None:
    index = await harness.ask(harness.user("zh"), "/series")
    assert "篇，最新" in index and "篇, " not in index


async def test_forget_then_settings_does_not_bring_the_reader_back(harness: Harness) -> None:
    api, reader = harness.api, harness.user("en")
    await harness.ask(reader, "/subscribe")
    api.send_text(reader, None, "/forget")
    question = await api.wait_for_message(reader.id)
    api.press_button(reader, question, "x:1:y")
    for _ in range(100):
        if (await harness.app.services.readers.reader(reader.id)).subscriber is None:
            break
        await asyncio.sleep(0.05)
    assert (await harness.app.services.readers.reader(reader.id)).subscriber is None
    assert "Send /start to begin" in await harness.ask(reader, "/settings")
    assert (await harness.app.services.readers.reader(reader.id)).subscriber is None


async def test_the_digest_hour_moves_by_one_or_six_hours(harness: Harness) -> None:
    api, reader = harness.api, harness.user("en")
    await harness.ask(reader, "/subscribe")
    await harness.app.services.readers.set_mode(reader.id, "daily", hour=8)
    api.send_text(reader, None, "/settings")
    shown = await api.wait_for_message(reader.id)
    api.press_button(reader, shown, "c:1:h:+6")
    for _ in range(100):
        state = (await harness.app.services.readers.reader(reader.id)).subscriber
        if state is not None and state.digest_hour == 14:
            break
        await asyncio.sleep(0.05)
    assert state is not None and state.digest_hour == 14
