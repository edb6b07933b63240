"""New-post notifications and the reader's formula display: native math with a one-time switch, or text."""

from __future__ import annotations

from datetime import timedelta

from notifier.services.formulas import FormulaChoice
from storage.db import Database
from storage.uow import read_stores
from tests.notifier.test_delivery import MOE_2, NOW, TZ, baseline, eventually, post, reader, sending, settled
from tests.support.bot_api import BotApiServer
from tests.support.store import ingest

SECOND = "注意力的另一种写法"


async def _two_posts(db: Database, bot_api: BotApiServer) -> int:
    """Two new posts, one after the other, sent with rich messages on; the first post's key."""
    await ingest(db, [post(10735, MOE_2, "2025-05-10")], now=NOW, tz=TZ, max_age_days=14)
    async with sending(db, bot_api, rich=True):
        await eventually(lambda: settled(db))
    await ingest(
        db, [post(10736, SECOND, "2025-05-10")], now=NOW + timedelta(minutes=1), tz=TZ, max_age_days=14
    )
    async with sending(db, bot_api, rich=True):
        await eventually(lambda: settled(db))
    stored = await read_stores(db).posts.by_archive_id(10735)
    assert stored is not None
    return stored.pk


async def test_a_private_reader_gets_native_math_and_the_switch_under_the_first_message_only(
    db: Database, bot_api: BotApiServer
) -> None:
    await baseline(db)
    await reader(db, 931)
    pk = await _two_posts(db, bot_api)
    first, second = bot_api.messages(931)
    assert first.method == second.method == "sendRichMessage"
    rows = (first.reply_markup or {})["inline_keyboard"]
    assert rows[0][0]["text"] == "阅读全文" and "url" in rows[0][0]
    assert rows[1] == [{"text": "公式显示不正常？", "callback_data": f"fx:text:p:{pk}:0"}]
    assert second.callback_data == []


async def test_groups_and_readers_who_chose_text_get_html(db: Database, bot_api: BotApiServer) -> None:
    await baseline(db)
    await reader(db, -932, chat_type="group")
    await reader(db, 933)
    await reader(db, 934, lang="en")
    assert await FormulaChoice(db, lambda: NOW).choose(933, "text")
    assert await FormulaChoice(db, lambda: NOW).choose(934, "native")
    await _two_posts(db, bot_api)
    assert [m.method for m in bot_api.messages(-932)] == ["sendMessage", "sendMessage"]
    assert "√d" in bot_api.messages(-932)[0].plain
    assert [m.method for m in bot_api.messages(933)] == ["sendMessage", "sendMessage"]
    # A reader who chose native math is never offered the switch.
    native = bot_api.messages(934)
    assert [m.method for m in native] == ["sendRichMessage", "sendRichMessage"]
    assert not any(data.startswith("fx:") for m in native for data in m.callback_data)
