"""The note a watch puts on a notification: the words, first; a message that would grow too long loses its
excerpt, never the note, and stays valid Telegram HTML."""

from __future__ import annotations

from datetime import timedelta

from digest.model import PostItem
from digest.render import Renderer
from digest.telegram import TELEGRAM_LIMIT, telegram_length
from notifier.ingest.watching import with_watch_note
from storage.db import Database
from storage.uow import unit_of_work
from tests.storage.test_watches import GD, NOW, OLD, TZ, WATCHER, post, reader
from tests.support.bot_api import parse_telegram_html
from tests.support.store import ingest


async def test_the_note_names_the_words_and_a_long_message_drops_its_excerpt(db: Database) -> None:
    await ingest(db, OLD, now=NOW - timedelta(hours=2), tz=TZ, max_age_days=14)
    await reader(db, WATCHER, watch=GD)
    async with unit_of_work(db) as uow:
        rid = await uow.subscribers.get(WATCHER)
        assert rid is not None
        await uow.watches.add(rid.id, "下降", NOW)
    result = await ingest(db, [post(10800, "梯度下降", "梯度下降")], now=NOW, tz=TZ, max_age_days=14)
    pk = result.new[0].pk
    renderer = Renderer()
    item = PostItem(pk, "梯度下降", "https://kexue.fm/archives/10800", "2025-05-10", None, "摘要" * 40)
    html = renderer.telegram_post(item, "en")
    noted, rich = await with_watch_note(db, renderer, str(WATCHER), item, pk, "en", html, "<p>rich</p>")
    first_line = parse_telegram_html(noted)[0].split("\n", 1)[0]
    assert first_line == "🔎 Matches your watch: 梯度下降 · 下降"
    assert rich is not None and rich.startswith("🔎")
    # Someone the post reached without a watch gets the message as it was.
    assert await with_watch_note(db, renderer, "12345", item, pk, "en", html, None) == (html, None)
    assert await with_watch_note(db, renderer, "@channel", item, pk, "en", html, None) == (html, None)

    long_html = html + "x" * (TELEGRAM_LIMIT - telegram_length(html))
    cut, cut_rich = await with_watch_note(db, renderer, str(WATCHER), item, pk, "en", long_html, "<p>r</p>")
    assert telegram_length(cut) <= TELEGRAM_LIMIT and cut_rich is None
    text, _ = parse_telegram_html(cut)
    assert text.startswith("🔎 Matches your watch") and "摘要" not in text
