"""Admin alerts: one message per admin after ALERT_AFTER failures in a row, one on recovery, never more."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from archive.fetch import Fetcher
from notifier.ingest.alerts import AlertPolicy
from notifier.ingest.polling import Poller
from storage.db import Database
from storage.uow import unit_of_work
from tests.notifier.test_delivery import eventually, rows, sending, settled
from tests.support.blog_server import BlogServer
from tests.support.bot_api import BotApiServer
from tests.support.fixtures import make_feed_xml

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 5, 10, 12, 0, tzinfo=TZ)
RSS = "application/rss+xml; charset=UTF-8"
ADMINS = (7001, 7002)
ALERTS = "SELECT recipient, item, payload FROM deliveries WHERE kind = 'alert' ORDER BY id"


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    """A real fetcher, closed after the test."""
    async with Fetcher(timeout=5) as opened:
        yield opened


def poller(db: Database, fetcher: Fetcher, admins: tuple[int, ...] = ADMINS, after: int = 3) -> Poller:
    """The poller as bootstrap builds it, with this alert policy."""
    return Poller(
        fetcher=fetcher,
        db=db,
        tz=TZ,
        max_age_days=14,
        backoff_base=timedelta(seconds=900),
        alerts=AlertPolicy(admins, after),
    )


def serve_feed(blog: BlogServer) -> str:
    """A one-post feed at /feed; its URL."""
    items = [(10_001, "第一篇", datetime(2025, 5, 1, 9, tzinfo=TZ), "摘要")]
    blog.set("/feed", make_feed_xml(items), content_type=RSS)
    return blog.url("/feed")


async def alerts(db: Database) -> list[tuple[str, str, dict[str, Any]]]:
    """Every alert row: (recipient, item, payload)."""
    return [(r, i, json.loads(p)) for r, i, p in await rows(db, ALERTS)]


async def test_a_failing_source_alerts_each_admin_once_and_once_when_it_recovers(
    db: Database, fetcher: Fetcher, blog_server: BlogServer
) -> None:
    url = serve_feed(blog_server)
    polls = poller(db, fetcher)
    moment = iter(NOW + timedelta(minutes=15 * n) for n in range(100))
    assert (await polls.poll([url], now=next(moment))).ok

    blog_server.fail("/feed", 503)
    for _ in range(2):
        await polls.poll([url], now=next(moment))
    assert await alerts(db) == []  # two failures: below ALERT_AFTER
    for _ in range(5):
        await polls.poll([url], now=next(moment))
    down = await alerts(db)
    assert sorted(r for r, _, _ in down) == ["7001", "7002"]
    assert len({i for _, i, _ in down}) == 1 and down[0][1].startswith(f"alert:down:{url}@")
    assert down[0][2]["failures"] == 3 and "503" in down[0][2]["error"]

    blog_server.recover("/feed")
    for _ in range(3):
        assert (await polls.poll([url], now=next(moment))).ok
    found = await alerts(db)
    up = [row for row in found if row[1].startswith("alert:up:")]
    assert len(found) == 4 and sorted(r for r, _, _ in up) == ["7001", "7002"]
    assert up[0][2] == {"source": url, "failures": 7}

    # A new episode is a new alert: its key is the success the failures followed.
    blog_server.fail("/feed", 503)
    for _ in range(3):
        await polls.poll([url], now=next(moment))
    assert len(await alerts(db)) == 6


async def test_no_admins_or_a_short_outage_queue_nothing(
    db: Database, fetcher: Fetcher, tmp_path: Path
) -> None:
    missing = str(tmp_path / "feed.xml")
    for n in range(5):
        await poller(db, fetcher, admins=()).poll([missing], now=NOW + timedelta(minutes=n))
    assert await alerts(db) == []
    for n in range(4):
        await poller(db, fetcher, after=10).poll([missing], now=NOW + timedelta(hours=1, minutes=n))
    assert await alerts(db) == []


async def test_a_password_in_the_source_never_reaches_the_alert(
    db: Database, fetcher: Fetcher, blog_server: BlogServer
) -> None:
    url = serve_feed(blog_server).replace("http://", "http://reader:hunter22@")
    blog_server.fail("/feed", 500)
    for n in range(3):
        await poller(db, fetcher, after=3).poll([url], now=NOW + timedelta(minutes=n))
    found = await alerts(db)
    assert len(found) == 2
    assert all("hunter22" not in item + json.dumps(payload) for _, item, payload in found)


async def test_the_sender_delivers_alerts_in_each_admins_language(
    db: Database, fetcher: Fetcher, tmp_path: Path, bot_api: BotApiServer
) -> None:
    zh_admin, en_admin = bot_api.user("Ops"), bot_api.user("Ops EN", language_code="en")
    async with unit_of_work(db) as uow:
        await uow.subscribers.start(en_admin.id, chat_type="private", lang="en", now=NOW)
    source = tmp_path / "feed <1>.xml"
    polls = poller(db, fetcher, admins=(zh_admin.id, en_admin.id), after=2)
    for n in range(2):
        await polls.poll([str(source)], now=NOW + timedelta(minutes=n))
    source.write_bytes(make_feed_xml([(10_001, "第一篇", datetime(2025, 5, 1, 9, tzinfo=TZ), "摘要")]))
    assert (await polls.poll([str(source)], now=NOW + timedelta(minutes=5))).ok
    async with sending(db, bot_api):
        await eventually(lambda: settled(db))
    zh = [m.plain for m in bot_api.messages(zh_admin.id)]
    en = [m.plain for m in bot_api.messages(en_admin.id)]
    assert len(zh) == len(en) == 2
    assert zh[0].startswith(f"⚠️ 来源 {source} 已连续 2 次读取失败。最近的错误：")
    assert zh[1] == f"✅ 来源 {source} 已恢复（此前连续 2 次读取失败）。"
    assert en[0].startswith(f"⚠️ {source} has failed 2 times in a row. Last error: ")
    assert en[1] == f"✅ {source} works again after 2 failed polls."
    # The file name's `<1>` went out escaped and arrived as text.
    assert "&lt;1&gt;" in (bot_api.messages(zh_admin.id)[0].text or "")
