"""The blog misbehaving under the real `kexue-notifier run`: every fault of issue 12, end to end.

Each fault gets a blog of its own (a local server, its own origin, a feed of known posts at /feed/) as one
source of a running service, healthy first, then broken for a few polls, then healed, then publishing a
genuinely new post. Whatever the fault: no reader hears of a post that is not new, no stored post is lost
or made poorer, the failures and the backoff are in the database, each admin gets one "down" message after
ALERT_AFTER failures and one "up" message after the recovery (never one per failure), the service neither
exits nor logs a Traceback, and the new post is announced once. The faults run side by side, a few per
service (each admin chat takes one message a second, so one service for all of them would queue ~20 s of
alerts), the services at once: the whole file takes about as long as one of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from archive.model import Post, PostDate
from archive.rules import misread_original
from storage.db import Database, database
from storage.sources import SourceState
from storage.uow import read_stores, unit_of_work
from tests.support.blog_server import HTML, BlogServer
from tests.support.bot_api import BotApiServer, SentMessage
from tests.support.fixtures import make_feed_xml
from tests.support.service import Service, eventually
from tests.support.store import ingest

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 5, 10, 12, 0, tzinfo=TZ)
ALERT_AFTER = 2
FETCH_TIMEOUT = 1.0
ADMINS = (7_000_001, 7_000_002)
READER = 8_000_001
FEED = "/feed/"
RSS = "application/rss+xml; charset=utf-8"
# Generous: six engineers' suites share two cores.
WAIT = 60.0
SERVICES = 3

Item = tuple[int, str, datetime, str]


@dataclass
class Site:
    """One blog: a local server whose /feed/ lists `items` (id, title, published, excerpt)."""

    server: BlogServer
    items: list[Item]

    @property
    def url(self) -> str:
        """The feed's URL, as the service polls it and the alerts name it."""
        return self.server.url(FEED)

    def feed(self, items: list[Item] | None = None) -> bytes:
        """The feed of `items` (default: the site's own)."""
        return make_feed_xml(self.items if items is None else items)

    def publish(self) -> None:
        """Serve the site's feed, healthy, with an ETag so that an unchanged feed costs a 304."""
        body = self.feed()
        self.server.set(FEED, body, content_type=RSS, etag=f'"{len(self.items)}-{hash(body) & 0xFFFF:x}"')

    def serve(
        self,
        body: bytes,
        *,
        content_type: str = HTML,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Serve a broken answer at /feed/ instead of the feed."""
        self.server.set(FEED, body, content_type=content_type, status=status, headers=headers)


Action = Callable[[Site], Awaitable[None] | None]


@dataclass(frozen=True)
class Fault:
    """A way the blog goes wrong: what `start` does, what `end` undoes, what the recorded error says.

    `error` None: the service must cope without a failure at all (the site only looks broken).
    """

    name: str
    start: Action
    error: str | None
    end: Action = field(default=lambda site: site.publish())


def _sloppy_cp1252(text: str) -> str:
    """UTF-8 text read as Windows-1252 (undefined bytes as Latin-1), as a misconfigured proxy serves it."""
    return "".join(
        chr(byte) if byte in (0x81, 0x8D, 0x8F, 0x90, 0x9D) else bytes([byte]).decode("cp1252")
        for byte in text.encode("utf-8")
    )


def _renumbered(site: Site) -> None:
    moved = [(ident + 50_000, title, day, excerpt) for ident, title, day, excerpt in site.items]
    site.serve(site.feed(moved), content_type=RSS)


def _truncated(site: Site) -> None:
    body = site.feed()
    # Cut inside the third item, on an ASCII boundary: the download simply stopped there.
    cut = body.index(b"<title>", body.index(b"<item>", body.index(b"<item>", body.index(b"<item>") + 1) + 1))
    site.serve(body[: cut + len(b"<title>")], content_type=RSS)


def _mojibake(site: Site) -> None:
    site.serve(_sloppy_cp1252(site.feed().decode("utf-8")).encode("utf-8"), content_type=RSS)


def _gbk(site: Site) -> None:
    site.serve(site.feed().decode("utf-8").encode("gbk"), content_type=RSS)


def _shortened(site: Site) -> None:
    site.serve(site.feed(site.items[:2]), content_type=RSS)


def _slow(site: Site) -> None:
    site.server.routes[FEED].delay = FETCH_TIMEOUT * 3


def _fast(site: Site) -> None:
    site.server.routes[FEED].delay = 0


def _challenge_forever(site: Site) -> None:
    # The live site's challenge page, answered with its cookie, challenging again: a gate we cannot pass.
    page = (
        '<html><head><script>document.cookie="kexue_gate=1; path=/";'
        'window.location.href="/feed/";</script></head><body></body></html>'
    )
    site.serve(page.encode(), status=403, headers={"Set-Cookie": "kexue_gate=1; Path=/"})


def _set_challenge(on: bool) -> Action:
    def act(site: Site) -> None:
        site.server.challenge = on

    return act


def _recover(site: Site) -> None:
    site.server.recover(FEED)


async def _down(site: Site) -> None:
    await site.server.stop()


async def _up(site: Site) -> None:
    await site.server.start()


ERROR_PAGE_200 = b"""<html><head><title>502 Bad Gateway</title></head>
<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"""
# The blog's own layout around no posts at all (a theme's "nothing found", a maintenance page).
EMPTY_LAYOUT_200 = """<!DOCTYPE html><html lang="zh-CN"><head><meta charset="UTF-8" />
<title>科学空间|Scientific Spaces</title></head><body><div id="MainBody"><div id="PostBody">
<div class="Post"><h2>没有找到</h2></div></div><div id="SideBar"><h3>最新文章</h3></div></div></body></html>
""".encode()

FAULTS = [
    Fault("down", _down, "ConnectError", end=_up),
    Fault("5xx", lambda site: site.server.fail(FEED, 503), "HTTP 503", end=lambda site: _recover(site)),
    Fault("slower than the timeout", _slow, f"timed out after {FETCH_TIMEOUT:g}s", end=_fast),
    Fault("cookie challenge", _set_challenge(True), None, end=_set_challenge(False)),
    Fault("unanswerable cookie challenge", _challenge_forever, "after answering the cookie challenge"),
    Fault("200 with an error page", lambda site: site.serve(ERROR_PAGE_200), "error page"),
    Fault("200 with the layout and no posts", lambda site: site.serve(EMPTY_LAYOUT_200), "lists no posts"),
    Fault("truncated feed", _truncated, "malformed feed"),
    Fault("feed cut to fewer items", _shortened, None),
    Fault("feed with no items", lambda site: site.serve(make_feed_xml([]), content_type=RSS), "no posts"),
    Fault("every id changed", _renumbered, "ids changed"),
    Fault("GBK bytes labelled UTF-8", _gbk, "not UTF-8"),
    Fault("UTF-8 misread as Windows-1252", _mojibake, "wrong encoding"),
]


def known_items(index: int) -> list[Item]:
    """Five posts of blog `index`, the newest yesterday; distinct ids and titles for every blog."""
    base = 30_000 + 100 * index
    return [
        (
            base + k,
            f"站点{index}的第{k}篇：矩阵分解与低秩近似",
            NOW - timedelta(days=k),
            f"站点{index}第{k}篇的摘要。",
        )
        for k in range(1, 6)
    ]


def new_item(index: int) -> Item:
    """The post blog `index` publishes after its recovery."""
    return (30_000 + 100 * index + 50, f"站点{index}恢复后的新文章：注意力机制", NOW, "真正的新文章。")


@dataclass
class Outcome:
    """What one fault's run recorded on the way: the source's state when it reached ALERT_AFTER."""

    fault: Fault
    site: Site
    failing: SourceState | None = None


async def source(db: Database, url: str) -> SourceState:
    """The source's state as the service committed it."""
    return await read_stores(db).sources.get(url)


def alerts(bot: BotApiServer, admin: int, site: Site, sign: str) -> list[SentMessage]:
    """The admin's alert messages about `site`: sign "⚠️" down, "✅" up."""
    return [m for m in bot.messages(admin) if m.plain.startswith(sign) and site.url in m.plain]


async def exercise(outcome: Outcome, db: Database, bot: BotApiServer, svc: Service) -> None:
    """Healthy → fault for several polls → healed → a new post; waits on the database and the Bot API."""
    fault, site = outcome.fault, outcome.site
    url = site.url
    await eventually(
        lambda: _healthy(db, url), timeout=WAIT, what=f"{fault.name}: a first successful poll of {url}"
    )
    requests_before = len(site.server.requests_for(FEED))
    await _maybe(fault.start(site))
    if fault.error is not None:

        async def failed_enough() -> bool:
            state = await source(db, url)
            if state.failures >= ALERT_AFTER:
                outcome.failing = state
                return True
            return False

        await eventually(failed_enough, timeout=WAIT, what=f"{fault.name}: {ALERT_AFTER} failures of {url}")
        await eventually(
            lambda: all(alerts(bot, admin, site, "⚠️") for admin in ADMINS),
            timeout=WAIT,
            what=f"{fault.name}: the down alert to every admin",
        )
    else:
        # Several polls through the fault, none of them a failure.
        await eventually(
            lambda: len(site.server.requests_for(FEED)) >= requests_before + 3,
            timeout=WAIT,
            what=f"{fault.name}: three polls of {url} during the fault",
        )
        state = await source(db, url)
        assert state.failures == 0 and state.last_error is None, (fault.name, state)
    healed_at = (await source(db, url)).last_success_at
    await _maybe(fault.end(site))

    async def recovered() -> bool:
        # A source that never failed has nothing to recover from (and a 304 records no new success).
        state = await source(db, url)
        return state.failures == 0 and (fault.error is None or state.last_success_at != healed_at)

    await eventually(recovered, timeout=WAIT, what=f"{fault.name}: {url} recovering")
    site.items.insert(0, new_item(FAULTS.index(fault)))
    site.publish()
    title = new_item(FAULTS.index(fault))[1]
    await eventually(
        lambda: any(title in m.plain for m in bot.messages(READER)),
        timeout=WAIT,
        what=f"{fault.name}: the reader told of {title}",
    )
    assert svc.running, svc.log()[-4000:]


async def _healthy(db: Database, url: str) -> bool:
    state = await source(db, url)
    return state.last_success_at is not None and state.failures == 0


async def _maybe(result: Awaitable[None] | None) -> None:
    if result is not None:
        await result


async def prepare(db: Database, sites: list[Site]) -> None:
    """The store past its baseline, holding every blog's posts, and one instant reader of everything."""
    posts = [
        Post(ident, title, PostDate(day.year, day.month, day.day), excerpt=excerpt)
        for site in sites
        for ident, title, day, excerpt in site.items
    ]
    await ingest(db, posts, now=NOW - timedelta(hours=1), tz=TZ, max_age_days=14)
    async with unit_of_work(db) as uow:
        await uow.subscribers.start(READER, chat_type="private", lang="zh", now=NOW - timedelta(days=1))
        await uow.subscribers.follow_all(READER, NOW - timedelta(days=1))


async def run_service(workdir: Path, faults: list[Fault]) -> None:
    """One service polling one blog per fault, through every fault at once, then every check."""
    workdir.mkdir()
    async with AsyncExitStack() as stack:
        bot = await stack.enter_async_context(BotApiServer())
        sites = []
        for fault in faults:
            server = await stack.enter_async_context(BlogServer())
            sites.append(Site(server, known_items(FAULTS.index(fault))))
        for site in sites:
            site.publish()
        db = await stack.enter_async_context(database(workdir / "k.sqlite3"))
        await prepare(db, sites)
        before = {p.post.id: p.post for p in await read_stores(db).posts.latest(100)}
        svc = Service(
            workdir,
            KEXUE_SOURCES=",".join(site.url for site in sites),
            KEXUE_NOW=NOW.isoformat(),
            POLL_INTERVAL="1",
            FETCH_TIMEOUT=f"{FETCH_TIMEOUT:g}",
            ALERT_AFTER=str(ALERT_AFTER),
            ADMIN_IDS=",".join(map(str, ADMINS)),
            READERS_REFRESH_DAYS="0",
            TELEGRAM_BOT_TOKEN=bot.token,
            TELEGRAM_API_BASE=bot.base_url,
            TELEGRAM_RICH="false",
            WEB_PORT="0",
        )
        await stack.enter_async_context(svc)
        outcomes = [Outcome(fault, site) for fault, site in zip(faults, sites, strict=True)]
        await asyncio.gather(*(exercise(outcome, db, bot, svc) for outcome in outcomes))

        # Every alert that is due has arrived; now none may be missing and none may be one too many.
        def alerts_arrived() -> bool:
            return all(
                len(alerts(bot, admin, o.site, "✅")) >= 1
                for o in outcomes
                if o.fault.error is not None
                for admin in ADMINS
            )

        await eventually(alerts_arrived, timeout=WAIT, what="every recovery alert")
        for o in outcomes:
            expected = 0 if o.fault.error is None else 1
            for admin in ADMINS:
                down, up = alerts(bot, admin, o.site, "⚠️"), alerts(bot, admin, o.site, "✅")
                assert (len(down), len(up)) == (expected, expected), (o.fault.name, admin, down, up)
            if o.fault.error is None:
                continue
            # The failures, the error and the backoff were recorded, as the down alert says.
            state = o.failing
            assert state is not None and state.failures >= ALERT_AFTER, (o.fault.name, state)
            assert state.last_error is not None and o.fault.error in state.last_error, (o.fault.name, state)
            assert state.next_attempt_at is not None, (o.fault.name, state)
            assert o.fault.error in alerts(bot, ADMINS[0], o.site, "⚠️")[0].plain, o.fault.name

        # Readers heard of the new posts, each once, and of nothing else.
        new_titles = [new_item(FAULTS.index(o.fault))[1] for o in outcomes]
        told = [m.plain for m in bot.messages(READER)]
        for title in new_titles:
            assert sum(text.count(title) for text in told) == 1, (title, told)
        for text in told:
            assert any(title in text for title in new_titles), f"a false announcement: {text}"

        # Nothing stored was lost or made poorer, nothing garbled or renumbered was stored.
        after = {p.post.id: p.post for p in await read_stores(db).posts.latest(100)}
        assert len(after) == len(before) + len(outcomes)
        for ident, post in before.items():
            kept = after[ident]
            assert (kept.title, kept.excerpt, kept.date) == (post.title, post.excerpt, post.date), ident
        assert all(misread_original(post.title) is None for post in after.values())

        # The challenge really was put to the service, and answered.
        for o in outcomes:
            if o.fault.name == "cookie challenge":
                assert 403 in {r.status for r in o.site.server.requests_for(FEED)}

        assert svc.running
        log = svc.log()
        assert "Traceback" not in log, log[-4000:]
        for o in outcomes:
            if o.fault.error is not None:
                assert f"poll failed: {o.site.url}" in log, o.fault.name
        assert await svc.stop() == 0
        assert "stopped" in svc.log()


async def test_every_fault_of_the_blog_is_survived_alerted_once_and_loses_nothing(tmp_path: Path) -> None:
    groups = [FAULTS[n::SERVICES] for n in range(SERVICES)]
    await asyncio.gather(*(run_service(tmp_path / f"service-{n}", group) for n, group in enumerate(groups)))
