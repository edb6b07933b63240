"""`make demo`: the whole system offline for about a minute, narrated as it happens.

A local copy of the blog (tests/fixtures/archive, plus a feed built with `make_feed_xml`), the local Telegram
Bot API with a few simulated readers (tests/support/bot_api/), a local SMTP server
(tests/notifier/smtp_server.py) and, between them, the real `kexue-notifier run` in its own process
(tests/support/service.py). The readers talk to the bot, an email reader signs up on the web form, the blog
publishes a new part of a series, and the transcript shows what every chat and mailbox receives; then
everything stops and a summary follows.

Run it as `python -m tests.support.demo` (`--fast` shortens the waits, for the test; `DEMO_SPEED=fast` too).
Nothing leaves 127.0.0.1 and the database lives in a temporary directory, never in `var/`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

import aiohttp

from tests.support.blog_server import BlogServer
from tests.support.bot_api import BotApiServer, Chat, SentMessage, User
from tests.support.fixtures import make_feed_xml, read_fixture
from tests.support.service import Service
from tests.support.smtp_server import SmtpServer

TZ = ZoneInfo("Asia/Shanghai")
# The service's clock starts here (KEXUE_NOW): a Monday just before 08:00, a week after the newest post of
# the archive fixture, so the daily digest falls due at 08:00 while the demo runs.
CLOCK_START = datetime(2025, 12, 22, 7, 59, 15, tzinfo=TZ)
FEED = "application/rss+xml; charset=UTF-8"

# The feed's newest posts: ids, titles and dates as in tests/fixtures/archive/content.html; excerpts our own.
FEED_POSTS: tuple[tuple[int, str, datetime, str], ...] = (
    (
        11480,
        "从Hessian近似看自适应学习率优化器",
        datetime(2025, 12, 16, 10, 0, tzinfo=TZ),
        "Adam 的二阶矩 $\\boldsymbol{v}_t$ 常被解释为 Hessian 对角线的近似。"
        "这一篇顺着这个视角，看 $\\boldsymbol{H}\\approx\\text{diag}(\\boldsymbol{v}_t)^{1/2}$ 能走多远。",
    ),
    (
        11452,
        "矩阵符号函数的几种迭代算法",
        datetime(2025, 12, 5, 9, 30, tzinfo=TZ),
        "Muon 离不开 $\\text{msign}(\\boldsymbol{M})$，而它只能迭代地算。"
        "本文比较 Newton-Schulz 迭代与几种更快收敛的多项式迭代。",
    ),
    (
        11416,
        "MuP之上：2. 线性层与最速下降",
        datetime(2025, 11, 20, 11, 0, tzinfo=TZ),
        "上一篇提出的三个特征，落到线性层 $\\boldsymbol{y}=\\boldsymbol{x}\\boldsymbol{W}$ 上，"
        "就是在谱范数约束 $\\Vert\\Delta\\boldsymbol{W}\\Vert_2\\leq\\eta$ 下求最速下降方向。",
    ),
    (
        11340,
        "MuP之上：1. 好模型的三个特征",
        datetime(2025, 10, 21, 10, 15, tzinfo=TZ),
        "本系列从一个问题出发：什么样的模型才算“好”模型？"
        "我们先把目标写成 $\\mathcal{L}(\\boldsymbol{\\theta})$ 的形式，再讨论三条性质。",
    ),
    (
        11301,
        "流形上的最速下降：3. Muon + Stiefel",
        datetime(2025, 10, 2, 9, 0, tzinfo=TZ),
        "把参数约束在 Stiefel 流形 $\\boldsymbol{W}^{\\top}\\boldsymbol{W}=\\boldsymbol{I}$ 上，"
        "最速下降的方向仍由梯度的矩阵符号函数给出，只是多了一步投影。",
    ),
    (
        11260,
        "流形上的最速下降：2. Muon + 正交",
        datetime(2025, 9, 10, 9, 0, tzinfo=TZ),
        "当更新量被要求是正交矩阵时，梯度下降变成了一个带约束的优化问题，其解正好是 Muon 的更新。",
    ),
)
# What the blog publishes during the demo: the next part of a series Alice follows, with math in its excerpt.
NEW_POST = (
    11496,
    "MuP之上：3. 自注意力的学习率缩放",
    "上一篇对线性层求出了最速下降方向 $\\Delta\\boldsymbol{W}=-\\eta\\,\\text{msign}(\\boldsymbol{G})$。"
    "这一篇转向自注意力：$\\boldsymbol{Q}\\boldsymbol{K}^{\\top}/\\sqrt{d}$ 中的缩放应当如何随宽度变化？",
)
NEW_TITLE_MARK = "自注意力的学习率缩放"
EMAIL_READER = "reader@example.org"


@dataclass(frozen=True)
class Timing:
    """How long the demo waits between its acts."""

    poll_interval: int  # POLL_INTERVAL of the service
    publish_after: float  # seconds after the service started when the blog publishes the new post
    wait_for_daily: bool  # the daily digest comes from a job that runs once a minute
    pause: float  # a breath between a reader's actions, so the transcript reads in order


FULL = Timing(poll_interval=5, publish_after=20, wait_for_daily=True, pause=0.4)
FAST = Timing(poll_interval=1, publish_after=0, wait_for_daily=False, pause=0.0)
TIMEOUT = 60.0  # any single wait; only a broken build or a stalled machine gets near it
WIDTH = 100  # terminal columns a transcript line may take after its time stamp


class DemoFailed(Exception):
    """Something the demo waited for did not happen."""


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1 (for the service's web app)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def columns(text: str) -> int:
    """How many terminal columns `text` takes: wide (CJK) characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def cut(text: str, width: int = WIDTH) -> str:
    """`text` cut to `width` terminal columns, '…' marking a cut."""
    if columns(text) <= width:
        return text
    out = ""
    for char in text:
        if columns(out + char) > width - 1:
            break
        out += char
    return out + "…"


def shorten(text: str, *, lines: int = 4, width: int = WIDTH) -> list[str]:
    """The first `lines` non-empty lines of `text`, each cut to `width` columns; ' …' marks dropped lines."""
    rows = [line.strip() for line in text.strip().splitlines() if line.strip()]
    shown = [cut(row, width) for row in rows[:lines]]
    if len(rows) > lines and shown and not shown[-1].endswith("…"):
        shown[-1] += " …"
    return shown


def headline(text: str) -> str:
    """A message in one line for the summary: its first two lines (a heading and what follows)."""
    rows = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return cut(" · ".join(rows[:2]), WIDTH - 8)


def mail_text(message: EmailMessage) -> str:
    """The plain-text part of a mail (or its only part)."""
    part = message.get_body(("plain",))
    return "" if part is None else str(part.get_content())


class Demo:
    """One run of the demo: the servers, the service, the readers and the transcript."""

    def __init__(self, workdir: Path, timing: Timing, out: TextIO) -> None:
        self.workdir = workdir
        self.timing = timing
        self.out = out
        self.began = time.monotonic()
        self.blog = BlogServer()
        self.api = BotApiServer()
        self.smtp = SmtpServer()
        self.service: Service | None = None
        self.service_began = 0.0
        self.web_url = ""
        self.names: dict[int, str] = {}
        self._shown_sent = 0
        self._shown_edits = 0
        self._shown_mails = 0
        self._log_offset = 0

    # -- the transcript ------------------------------------------------------------------------------

    def say(self, text: str, *more: str) -> None:
        """One line of the transcript, stamped with the time since the demo began, and its continuations."""
        elapsed = int(time.monotonic() - self.began)
        print(f"[{elapsed // 60:02d}:{elapsed % 60:02d}] {cut(text)}", file=self.out)
        for line in more:
            print(f"        {cut(line)}", file=self.out)
        self.out.flush()

    def _show_new(self) -> None:
        """Print what arrived since the last look: bot messages, edits, mails, and the service's key lines."""
        self._show_log()
        while self._shown_sent < len(self.api.sent):
            message = self.api.sent[self._shown_sent]
            self._shown_sent += 1
            # A message carrying the new post is shown at more length: it is what the demo is about.
            head, *rest = shorten(message.plain, lines=9 if NEW_TITLE_MARK in message.plain else 5) or [""]
            self.say(f"📱 {self.names.get(message.chat_id, message.chat_id)} ← {head}", *rest)
        while self._shown_edits < len(self.api.edits):
            edit = self.api.edits[self._shown_edits]
            self._shown_edits += 1
            head, *rest = shorten(edit.plain) or [""]
            self.say(f"📱 {self.names.get(edit.chat_id, edit.chat_id)} ← (edited) {head}", *rest)
        while self._shown_mails < len(self.smtp.messages):
            mail = self.smtp.messages[self._shown_mails]
            self._shown_mails += 1
            self.say(
                f"✉ {', '.join(mail.rcpt_tos)} ← “{mail.message['Subject']}”",
                *shorten(_readable(mail_text(mail.message)), lines=8),
            )

    def _show_log(self) -> None:
        """The service's own account of what it did: polls that found something, sends, digests, mail."""
        if self.service is None:
            return
        text = self.service.log()
        fresh, self._log_offset = text[self._log_offset :], len(text)
        for line in fresh.splitlines():
            # "2025-12-22 08:00:01.123+08:00 INFO notifier.ingest.polling: poll 3: ..." -> "poll 3: ..."
            message = line.split(": ", 1)[-1] if line[:4].isdigit() else line
            if SERVICE_LINES.search(message):
                self.say(f"⚙ service: {message.strip()}")

    async def _watch(self) -> None:
        while True:
            self._show_new()
            await asyncio.sleep(0.05)

    # -- the readers ---------------------------------------------------------------------------------

    def user(self, name: str, language: str | None) -> User:
        """A simulated Telegram user, named in the transcript."""
        user = self.api.user(name, language_code=language)
        self.names[user.id] = name
        return user

    async def send(self, user: User, text: str, *, chat: Chat | None = None) -> SentMessage:
        """`user` writes `text` (in their private chat, or `chat`); the bot's first answer there."""
        where = "" if chat is None else f" (in {self.names[chat.id]})"
        self.say(f"{self.names[user.id]} → {text}{where}")
        where_id = user.id if chat is None else chat.id
        before = self._sent_to(where_id)
        self.api.send_text(user, chat, text)
        await self.api.wait_for(lambda: True if self._sent_to(where_id) > before else None, TIMEOUT)
        answer = [m for m in self.api.sent if m.chat_id == where_id][before]
        await self.breathe()
        return self.api.message(answer.chat_id, answer.message_id) or answer

    def _sent_to(self, chat_id: int) -> int:
        return sum(m.chat_id == chat_id for m in self.api.sent)

    async def press(self, user: User, message: SentMessage, data: str, label: str) -> None:
        """`user` presses a button under `message` and the bot acts on it (an answer or an edit)."""
        self.say(f"{self.names[user.id]} presses [{label}]")
        before = (len(self.api.sent), len(self.api.edits))
        update = self.api.press_button(user, message, data)
        await self.api.wait_for_callback_answer(update["callback_query"]["id"], timeout=TIMEOUT)
        await self.api.wait_for(
            lambda: True if (len(self.api.sent), len(self.api.edits)) != before else None, TIMEOUT
        )
        await self.breathe()

    async def breathe(self) -> None:
        """Let the watcher print what just arrived before the next action."""
        await asyncio.sleep(self.timing.pause)
        self._show_new()

    async def until(self, check: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
        """Wait until `check()` holds, or fail the demo saying `what` never happened."""
        deadline = time.monotonic() + timeout
        while not check():
            if self.service is not None and not self.service.running:
                raise DemoFailed(f"the service exited while waiting for {what}")
            if time.monotonic() > deadline:
                raise DemoFailed(f"waited {timeout:g} s for {what}")
            await asyncio.sleep(0.05)

    # -- the acts ------------------------------------------------------------------------------------

    def serve_blog(self) -> None:
        """The blog's archive page, one category (two pages) and a feed of its newest posts."""
        self.blog.set("/content.html", read_fixture("content.html"))
        self.blog.set("/category/Big-Data/", read_fixture("category.html"))
        self.blog.set("/category/Big-Data/2/", read_fixture("category-empty.html"))
        self.blog.set("/feed", make_feed_xml(list(FEED_POSTS)), content_type=FEED, etag='"feed-1"')

    def clock(self) -> datetime:
        """The service's clock now (KEXUE_NOW runs on from when the service started)."""
        return CLOCK_START + timedelta(seconds=time.monotonic() - self.service_began)

    def environment(self) -> dict[str, str]:
        """The service's settings: everything on loopback, a fast poll, the clock just before 08:00."""
        port = free_port()
        self.web_url = f"http://127.0.0.1:{port}"
        return {
            "KEXUE_SOURCES": self.blog.url("/feed"),
            "POLL_INTERVAL": str(self.timing.poll_interval),
            "KEXUE_NOW": CLOCK_START.isoformat(),
            "TELEGRAM_BOT_TOKEN": self.api.token,
            "TELEGRAM_API_BASE": self.api.base_url,
            # HTML with Unicode math reads well in a terminal; native math would print as LaTeX source here.
            "TELEGRAM_RICH": "false",
            "ADMIN_IDS": str(self.admin.id),
            "SMTP_HOST": self.smtp.host,
            "SMTP_PORT": str(self.smtp.port),
            "SMTP_SECURITY": "none",
            "MAIL_FROM": "Scientific Spaces <weekly@kexue.example>",
            "WEEKLY_DAY": "mon",
            "WEEKLY_TIME": "08:00",
            "WEB_PORT": str(port),
            "PUBLIC_BASE_URL": self.web_url,
            "SECRET_KEY": "demo-only-secret-key",
            "LOG_LEVEL": "INFO",
        }

    async def start_service(self) -> None:
        """The real `kexue-notifier run`, waited on until the baseline and the archive are stored."""
        self.service = Service(self.workdir)
        self.service.env.update(self.environment())
        self.service_began = time.monotonic()
        await self.service.start()
        self.say(
            f"⚙ kexue-notifier run started (pid {self.service.pid}), clock from "
            f"{CLOCK_START:%Y-%m-%d %H:%M:%S} (Mon), polling every {self.timing.poll_interval} s"
        )
        self.say("… waiting for its first poll and for it to read the archive (/content.html, categories)")
        await self.service.wait_for_log("(baseline)", timeout=TIMEOUT)
        await self.api.wait_for_poll(timeout=TIMEOUT)
        await self.service.wait_for_log("web app listening on", timeout=TIMEOUT)
        # Readers come once the whole archive is in, so /search shows what it would on a running service.
        service = self.service
        await self.until(
            lambda: re.search(r"crawl backfill: \d+ pages", service.log()) is not None,
            "the archive's backfill",
        )
        self._show_new()

    async def readers_arrive(self) -> None:
        """Each simulated reader does what a real one would on the first day."""
        zhang, alice, wang = self.zhang, self.alice, self.wang
        welcome = await self.send(zhang, "/start")
        await self.press(zhang, welcome, welcome.callback_data[0], "订阅所有新文章")
        await self.send(zhang, "/latest 3")
        await self.send(zhang, "/search 梯度")

        await self.send(alice, "/start")
        settings = await self.send(alice, "/settings")
        await self.press(alice, settings, "c:1:l:en", "English")
        await self.send(alice, "/subscribe MuP之上")

        welcome = await self.send(wang, "/start")
        await self.press(wang, welcome, welcome.callback_data[0], "订阅所有新文章")
        settings = await self.send(wang, "/settings")
        await self.press(wang, settings, "c:1:m:daily", "每日")

        await self.send(zhang, "/subscribe@kexue_notifier_bot", chat=self.group)

    async def email_sign_up(self) -> None:
        """An email reader signs up on the web form, gets the confirmation mail, and confirms in a browser."""
        jar = aiohttp.CookieJar(unsafe=True)  # the web app is on an IP address, whose cookies aiohttp skips
        async with aiohttp.ClientSession(cookie_jar=jar) as browser:
            async with browser.get(f"{self.web_url}/?lang=en") as page:
                csrf = _csrf(await page.text())
            self.say(f"🌐 {EMAIL_READER} fills in the form at {self.web_url}/ and presses Subscribe")
            form = {"csrf": csrf, "lang": "en", "address": EMAIL_READER}
            async with browser.post(f"{self.web_url}/subscribe", data=form) as answer:
                self.say(f"🌐 the page answers {answer.status}: {_page_text(await answer.text())}")
            await self.until(lambda: bool(self.smtp.to(EMAIL_READER)), "the confirmation mail")
            self._show_new()
            link = re.search(r"https?://\S+/confirm/\S+", mail_text(self.smtp.to(EMAIL_READER)[0]))
            if link is None:
                raise DemoFailed("the confirmation mail holds no confirmation link")
            self.say(
                f"🌐 {EMAIL_READER} opens the link: a page with a button (a mail scanner confirms nothing)"
            )
            async with browser.get(link.group(0)) as page:
                csrf = _csrf(await page.text())
            async with browser.post(link.group(0).split("?")[0], data={"csrf": csrf}) as answer:
                self.say(
                    f"🌐 {EMAIL_READER} presses Confirm; the page answers {answer.status}: "
                    f"{_page_text(await answer.text())}"
                )
        await self.breathe()

    async def publish(self) -> None:
        """The blog publishes the next part of the MuP series; the service finds it at its next poll."""
        wait = self.timing.publish_after - (time.monotonic() - self.service_began)
        if wait > 0:
            self.say(f"… readers are set up; the blog publishes a new post in {wait:.0f} s")
            await asyncio.sleep(wait)
            self._show_new()
        ident, title, excerpt = NEW_POST
        published = self.clock().replace(microsecond=0)
        items = [(ident, title, published, excerpt), *FEED_POSTS[:-1]]
        self.blog.set("/feed", make_feed_xml(items), content_type=FEED, etag='"feed-2"')
        self.say(f"📝 the blog publishes #{ident} “{title}” (its feed now starts with it)")

    async def announcements(self) -> None:
        """Instant readers of everything or of the MuP series get the new post, each once."""
        for chat in (self.zhang.id, self.alice.id, self.group.id):
            await self.until(self.got_new_post(chat), f"{self.names[chat]}'s copy of the new post")
        self._show_new()

    async def admin_and_weekly(self) -> None:
        """The admin looks at /stats; the operator sends this week's email with a second real command."""
        await self.send(self.admin, "/stats")
        now = self.clock().replace(microsecond=0)
        self.say(f"$ kexue-notifier send-weekly   (what the Monday 08:00 job does; clock {now:%H:%M:%S})")
        assert self.service is not None
        command = Service(self.workdir, name="send-weekly", command=("send-weekly",))
        # The service's settings, on the service's clock: a second process on the same database.
        command.env.update({**self.service.env, "KEXUE_NOW": now.isoformat()})
        await command.start()
        assert command.proc is not None
        status = await asyncio.wait_for(command.proc.wait(), TIMEOUT)
        for line in command.log().splitlines():
            if line.startswith("week "):
                self.say(f"  {line}")
        if status != 0:
            raise DemoFailed(f"send-weekly exited {status}:\n{command.log()}")
        await self.until(lambda: len(self.smtp.to(EMAIL_READER)) >= 2, "the weekly mail")
        self._show_new()

    async def daily_digest(self) -> None:
        """王五's daily digest: 08:00 passes on the service's clock and its once-a-minute job queues it."""
        if not self.timing.wait_for_daily:
            self.say("… (fast mode: not waiting for the daily-digest job, which runs once a minute)")
            return
        self.say(
            "… waiting for 08:00 on the service's clock: 王五's daily digest (the job runs once a minute)"
        )
        await self.until(self.got_new_post(self.wang.id), "王五's daily digest", timeout=120)
        self._show_new()

    def got_new_post(self, chat_id: int) -> Callable[[], bool]:
        """A check: whether a message in the chat carries the new post."""
        return lambda: any(NEW_TITLE_MARK in m.plain for m in self.api.sent if m.chat_id == chat_id)

    async def stop_service(self) -> None:
        """SIGTERM, as systemd or Ctrl-C would; the service must end cleanly."""
        assert self.service is not None
        status = await self.service.stop(timeout=TIMEOUT)
        self._show_new()
        self.say(f"⚙ kexue-notifier run stopped with SIGTERM: exit status {status}")
        if status != 0:
            raise DemoFailed(f"the service exited with status {status}")
        if "Traceback" in self.service.log():
            raise DemoFailed("the service logged a Traceback:\n" + self.service.log()[-4000:])

    # -- the summary ---------------------------------------------------------------------------------

    def summary(self) -> None:
        """What every chat and mailbox received, one line per message, and who got the new post."""
        print("\n── What each chat and mailbox received ──────────────────────────────", file=self.out)
        for chat_id, name in self.names.items():
            messages = self.api.messages(chat_id)
            if not messages:
                continue
            print(f"📱 {name} received {len(messages)} message{'s' * (len(messages) != 1)}:", file=self.out)
            for message in messages:
                print(f"     · {headline(message.plain)}", file=self.out)
        addresses = sorted({a for m in self.smtp.messages for a in m.rcpt_tos})
        for address in addresses:
            mails = self.smtp.to(address)
            print(f"✉ {address} received {len(mails)} mail{'s' * (len(mails) != 1)}:", file=self.out)
            for mail in mails:
                print(f"     · subject “{mail['Subject']}”", file=self.out)
        counts = Counter(m.chat_id for m in self.api.sent if NEW_TITLE_MARK in m.plain)
        in_mail = sum(NEW_TITLE_MARK in mail_text(m.message) for m in self.smtp.messages)
        instant = (self.zhang.id, self.alice.id, self.group.id)
        print(f"\nThe new post “{NEW_POST[1]}” reached:", file=self.out)
        print(f"  at once:      {', '.join(f'{self.names[c]} ×{counts[c]}' for c in instant)}", file=self.out)
        daily = f"{self.names[self.wang.id]} ×{counts[self.wang.id]}"
        later = "" if counts[self.wang.id] else " (not yet: his digest is due at 08:00)"
        print(f"  daily digest: {daily}{later}", file=self.out)
        print(f"  weekly email: {EMAIL_READER} ×{in_mail}", file=self.out)
        print(
            f"  not at all:   {self.names[self.admin.id]} ×{counts[self.admin.id]} (follows nothing)",
            file=self.out,
        )
        if any(counts[c] != 1 for c in instant) or counts[self.wang.id] > 1 or in_mail != 1:
            raise DemoFailed(f"the new post did not reach each reader once: {dict(counts)}, {in_mail} mails")
        self.out.flush()

    # -- the whole run -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Start the servers and the service, play the acts, stop everything, print the summary."""
        self.serve_blog()
        async with self.blog, self.api:
            await self.smtp.start()
            watcher = asyncio.create_task(self._watch())
            try:
                self.zhang = self.user("张三", "zh-hans")
                self.alice = self.user("Alice", "zh-hans")
                self.wang = self.user("王五", "zh-hans")
                self.admin = self.user("Admin", "zh-hans")
                self.group = self.api.group("机器学习读书会")
                self.names[self.group.id] = "group 机器学习读书会"
                print(
                    "kexue-notifier demo: the whole system offline on 127.0.0.1; it stops by itself.\n"
                    f"  blog     {self.blog.url('/feed')}  (tests/fixtures/archive + a feed of 6 posts)\n"
                    f"  Bot API  {self.api.base_url}  (tests/support/bot_api/, with simulated readers)\n"
                    f"  SMTP     {self.smtp.host}:{self.smtp.port}  (tests/notifier/smtp_server.py)\n"
                    f"  service  kexue-notifier run  (database and log in {self.workdir})\n",
                    file=self.out,
                )
                await self.start_service()
                await self.readers_arrive()
                await self.email_sign_up()
                await self.publish()
                await self.announcements()
                await self.admin_and_weekly()
                await self.daily_digest()
                await self.stop_service()
            finally:
                watcher.cancel()
                if self.service is not None and self.service.running:
                    await self.service.kill()
                await self.smtp.stop()
        self.summary()

    zhang: User
    alice: User
    wang: User
    admin: User
    group: Chat


# Service log lines worth showing in the transcript (the rest is in the log file).
SERVICE_LINES = re.compile(
    r"\(baseline\)|^poll \d+: [1-9]\d* new|^crawl backfill: \d+ pages|^digests:|^weekly mail|^stopped$"
)


def _readable(text: str) -> str:
    """A mail's text without the lines that are only links (the browser view, unsubscribe, post URLs)."""
    kept = [
        line
        for line in text.splitlines()
        if not re.fullmatch(
            r"\s*(View this email in your browser: |Unsubscribe: |Previous part: )?https?://\S+\s*", line
        )
        and not line.startswith(("-- ", "在浏览器中查看", "退订"))
    ]
    return "\n".join(kept)


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    if found is None:
        raise DemoFailed("the page holds no CSRF token")
    return found.group(1)


def _page_text(page: str) -> str:
    """The main message of a page of the web app, as a reader sees it."""
    found = re.search(r'<p id="message">(.*?)</p>', page, re.S) or re.search(
        r"<h1[^>]*>(.*?)</h1>", page, re.S
    )
    text = re.sub(r"<[^>]+>", "", found.group(1) if found else page)
    return " ".join(text.split())


async def main(argv: list[str] | None = None) -> int:
    """Run the demo; 0 when every reader got what they should."""
    parser = argparse.ArgumentParser(prog="python -m tests.support.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="shorter waits (also DEMO_SPEED=fast)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (database, log)")
    args = parser.parse_args(argv)
    fast = args.fast or os.environ.get("DEMO_SPEED", "").lower() == "fast"
    workdir = Path(tempfile.mkdtemp(prefix="kexue-demo-"))
    demo = Demo(workdir, FAST if fast else FULL, sys.stdout)
    # SIGTERM and SIGINT (even where a shell started the demo with SIGINT ignored) cancel the run, so the
    # service it started is stopped too, never orphaned.
    task = asyncio.current_task()
    if task is not None:
        for stop in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(stop, task.cancel)
    try:
        await demo.run()
    except (DemoFailed, TimeoutError, AssertionError) as error:
        print(f"\ndemo failed: {error}", file=sys.stderr)
        if args.keep:
            print(f"the service's log: {workdir / 'run.log'}", file=sys.stderr)
        return 1
    except asyncio.CancelledError:
        print("\ndemo stopped before its end; every process it started is stopped", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    took = time.monotonic() - demo.began
    print(f"\nDone in {took:.0f} s: every process stopped, nothing left running.", file=sys.stdout)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except KeyboardInterrupt:
        sys.exit(130)
