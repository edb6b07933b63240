"""Watched words end to end, against the real `kexue-notifier run`: readers use the bot through the local Bot
API, the poller reads a feed file that the test rewrites, the sender delivers through the same Bot API.

The feature's Telegram acceptance: three readers, one following everything and watching 梯度下降, one
watching only 梯度下降, one watching only 扩散模型. A post about 梯度下降 reaches the first two once each (the
watcher's message naming the words) and not the third; a post about 扩散模型 reaches the third and not the
second; once the second reader removes the watch with its button, the next 梯度下降 post does not reach them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from archive.model import Post, PostDate
from storage.db import Database
from storage.uow import read_stores
from tests.notifier.test_faults_telegram import service
from tests.support.bot_api import BotApiServer, SentMessage, User
from tests.support.fixtures import make_feed_xml
from tests.support.service import eventually
from tests.support.store import ingest

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 5, 10, 12, 0, tzinfo=TZ)

OLD = (10000, "旧文章", NOW - timedelta(days=9), "旧。")
GRADIENT = (10801, "梯度下降的隐式正则化", NOW - timedelta(hours=3), "为什么梯度下降偏好平坦的极小值。")
DIFFUSION = (10802, "生成扩散模型漫谈（三十一）", NOW - timedelta(hours=2), "扩散模型的又一个视角。")
GRADIENT_2 = (10803, "再谈随机梯度下降", NOW - timedelta(hours=1), "梯度下降与动量的关系。")


def publish(db: Database, *items: tuple[int, str, datetime, str]) -> None:
    """The feed file the service polls, holding `items` (newest first)."""
    Path(db.path).with_name("feed.xml").write_bytes(make_feed_xml(list(items)))


def got(api: BotApiServer, chat: int, title: str) -> list[SentMessage]:
    """The notifications of the post titled `title` in one chat."""
    return [m for m in api.messages(chat) if title in m.plain]


async def say(api: BotApiServer, user: User, text: str) -> SentMessage:
    """`user` sends `text` in private; the bot's answer (the first message after those already there)."""
    before = max((m.message_id for m in api.messages(user.id)), default=0)
    api.send_text(user, None, text)
    return await api.wait_for_message(user.id, lambda m: m.message_id > before, timeout=30)


async def test_watched_words_reach_each_reader_once_and_stop_after_removal(
    db: Database, bot_api: BotApiServer
) -> None:
    await ingest(
        db,
        [Post(OLD[0], OLD[1], PostDate.from_iso("2025-05-01"), excerpt=OLD[3])],
        now=NOW - timedelta(hours=6),
        tz=TZ,
        max_age_days=14,
    )
    publish(db, OLD)
    everything, gradient, diffusion = (bot_api.user(language_code="zh-hans") for _ in range(3))
    async with service(db, bot_api, POLL_INTERVAL="2") as svc:
        await say(bot_api, everything, "/start")
        await say(bot_api, everything, "/subscribe")
        assert "梯度下降" in (await say(bot_api, everything, "/watch 梯度下降")).plain
        assert "梯度下降" in (await say(bot_api, gradient, "/watch 梯度下降")).plain
        assert "扩散模型" in (await say(bot_api, diffusion, "/watch 扩散模型")).plain
        assert await read_stores(db).watches.readers_with_watches() == 3

        # A post about 梯度下降: the follower and the watcher, once each; not the 扩散模型 watcher.
        publish(db, GRADIENT, OLD)
        title = GRADIENT[1]
        await eventually(
            lambda: bool(got(bot_api, everything.id, title) and got(bot_api, gradient.id, title)),
            timeout=60,
            what="the 梯度下降 post to reach both",
        )
        # A further poll or two go by: nothing is sent again.
        polls = svc.log().count("poll")
        await eventually(lambda: svc.log().count("poll") >= polls + 2, timeout=30, what="two more polls")
        assert len(got(bot_api, everything.id, title)) == 1
        watched = got(bot_api, gradient.id, title)
        assert len(watched) == 1 and "匹配你关注的关键词：梯度下降" in watched[0].plain
        assert "梯度下降" in got(bot_api, everything.id, title)[0].plain.split("\n", 1)[0]
        assert got(bot_api, diffusion.id, title) == []

        # A post about 扩散模型: its watcher and the follower; not the 梯度下降 watcher.
        publish(db, DIFFUSION, GRADIENT, OLD)
        title = DIFFUSION[1]
        await eventually(
            lambda: bool(got(bot_api, diffusion.id, title) and got(bot_api, everything.id, title)),
            timeout=60,
            what="the 扩散模型 post",
        )
        assert "扩散模型" in got(bot_api, diffusion.id, title)[0].plain
        assert got(bot_api, gradient.id, title) == []

        # The 梯度下降 watcher removes the watch with its button.
        listing = await say(bot_api, gradient, "/watch")
        assert "你关注的关键词（1 / 10）" in listing.plain and len(listing.callback_data) == 1
        bot_api.press_button(gradient, listing, listing.callback_data[0])
        await eventually(
            lambda: (
                "你还没有关注任何关键词"
                in (bot_api.message(gradient.id, listing.message_id) or listing).plain
            ),
            timeout=30,
            what="the list to lose the watch",
        )
        removed = await read_stores(db).subscribers.get(gradient.id)
        assert removed is not None and await read_stores(db).watches.of(removed.id) == []
        publish(db, GRADIENT_2, DIFFUSION, GRADIENT, OLD)
        title = GRADIENT_2[1]
        await eventually(
            lambda: bool(got(bot_api, everything.id, title)), timeout=60, what="the next 梯度下降 post"
        )
        polls = svc.log().count("poll")
        await eventually(lambda: svc.log().count("poll") >= polls + 2, timeout=30, what="two more polls")
        assert got(bot_api, gradient.id, title) == []
        assert got(bot_api, diffusion.id, title) == []
        # Every notification went once: no post twice to any chat.
        for chat in (everything.id, gradient.id, diffusion.id):
            titles = [
                t
                for m in bot_api.messages(chat)
                for t in (GRADIENT[1], DIFFUSION[1], GRADIENT_2[1])
                if t in m.plain
            ]
            assert len(titles) == len(set(titles)), (chat, titles)
        assert "Traceback" not in svc.log()
