"""Hostile input to the bot: hypothesis feeds the real dispatcher commands, plain text, inline queries and
button presses whose words, offsets and data were never ours, while the bot talks over HTTP to the local Bot
API, which refuses what Telegram refuses (malformed HTML, text over 4096, long callback data, bad inline
results). Per case: nothing reached the error handler, every call the bot made was accepted, the update got
its answer, and the case finished within a generous bound."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.model import Post, PostDate
from bot.app import build_dispatcher
from notifier.bootstrap import App
from notifier.config import TelegramConfig
from notifier.telegram import make_bot
from tests.bot.conftest import ADMIN_ID, NOW
from tests.support.bot_api import NOT_MODIFIED, BotApiServer, Call, Chat, SentMessage, User
from tests.support.store import seed

# Hypothesis warns when it prints a failing case of several kilobytes; huge inputs are the point here.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")
FUZZ = settings.get_profile("fuzz")
# A bound, not a benchmark: a case takes milliseconds; only a hang or a runaway query comes near it.
CASE_BOUND = 3.0

COMMANDS = [
    "start",
    "latest",
    "search",
    "series",
    "subscribe",
    "unsubscribe",
    "settings",
    "email",
    "forget",
    "help",
    "stats",
]
# Pieces that reach past the first checks: markup, SQL, FTS5 syntax, control and direction characters, the
# archive's own words (so searches and series lookups find something), numbers at the edges of every range.
PIECES = [
    "<b>",
    "</b>",
    "<i>",
    "<a href='https://kexue.fm'>",
    "</a>",
    "<script>alert(1)</script>",
    "<tg-spoiler>",
    "<pre><code class='x'>",
    "&amp;",
    "&lt;",
    "&",
    "&#0;",
    "&#x110000;",
    "<",
    ">",
    "' OR 1=1 --",
    "'; DROP TABLE posts; --",
    "\\",
    "%",
    "_",
    '"',
    "*",
    "NEAR(",
    "NEAR(矩阵 梯度, 2)",
    " AND ",
    " OR ",
    " NOT ",
    "^",
    ":",
    "title:",
    "(",
    ")",
    "{",
    "}",
    "-",
    "+",
    "\x00",
    "\x01",
    "\x1b[31m",
    "\x7f",
    "\t",
    "\n",
    "\r\n",
    "\u0085",
    "\u2028",
    "\u200b",
    "\u200c",
    "\u200d",
    "\u200e",
    "\u200f",
    "\u202e",
    "\u2066",
    "\ufeff",
    "\ufffd",
    "\U0001f600",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "e\u0301",
    "矩阵",
    "低秩近似之路",
    "MoE环游记",
    "Muon",
    "梯度",
    "伪逆",
    "$x^2$",
    "\\boldsymbol{Q}",
    "off",
    "OFF",
    "you@example.com",
    "a@b",
    "@",
    "s1",
    "s999999999",
    "0",
    "20",
    "21",
    "-1",
    "999999999999999999999",
    "٣",
    " ",
]

words = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=12)), max_size=24).map("".join)
# Up to past Telegram's 4096: a piece repeated, since drawing thousands of characters one by one is slow.
huge = st.tuples(
    st.one_of(st.sampled_from(PIECES), st.text(min_size=1, max_size=8)), st.integers(50, 1200)
).map(lambda t: (t[0] * t[1])[:5000])
texts = st.one_of(words, words, st.text(max_size=200), huge)

# More series than one page of the /series index holds, names with markup among them.
SERIES_POSTS = [
    Post(
        11000 + 2 * n + k,
        f"{name}（{part}）：第{part}部分",
        PostDate(2023, 1 + n % 12, 1 + k),
        excerpt=f"{name} $x_{n}$",
    )
    for n, name in enumerate(
        ["Transformer升级之路", "生成扩散模型漫谈", "<b>标记</b>之路", "a & b 系列", "流形上的最速下降"]
        + [f"随笔集{n}号" for n in range(8)]
    )
    for k, part in enumerate(("一", "二"))
]


@dataclass
class Fuzzed:
    """The dispatcher fed directly (no long poll), its Bot talking to the local Bot API, what it logged."""

    api: BotApiServer
    app: App
    bot: Bot
    dp: Dispatcher
    errors: list[logging.LogRecord]
    readers: list[User]
    admin: User
    groups: list[Chat]
    pressable: list[SentMessage] = field(default_factory=list)
    real_data: list[str] = field(default_factory=list)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Hypothesis prints every argument of a failing case; the world behind it is the same every time.
        printer.text("Fuzzed(...)")

    async def feed(self, update: dict[str, Any]) -> list[Call]:
        """Handle one update as polling would; assert it failed nowhere, fast, and every reply was valid."""
        calls, logged = len(self.api.calls), len(self.errors)
        started = time.monotonic()
        await self.dp.feed_raw_update(self.bot, update)
        elapsed = time.monotonic() - started
        assert elapsed < CASE_BOUND, f"update took {elapsed:.2f} s: {update}"
        failures = [record.getMessage() for record in self.errors[logged:]]
        assert not failures, failures
        made = self.api.calls[calls:]
        refused = [
            (call.method, call.status, call.description)
            for call in made
            if call.status != 200
            # Pressing a button whose page is already shown: Telegram says so, the bot ignores it by design.
            and not (call.method == "editMessageText" and call.description == NOT_MODIFIED)
        ]
        assert not refused, refused
        return made


@pytest.fixture
async def fuzzed(bot_api: BotApiServer, app: App, errors: list[logging.LogRecord]) -> AsyncIterator[Fuzzed]:
    """The bot over the seeded archive, with messages carrying every kind of button to press."""
    await seed(app.db, SERIES_POSTS, now=NOW)
    config = TelegramConfig(
        token=bot_api.token, api_base=bot_api.base_url, admin_ids=frozenset({ADMIN_ID}), rich=True
    )
    bot = make_bot(config)
    # Flood control is not under test here: every case from the same few readers must get through.
    dp = build_dispatcher(app, config, flood_limit=1_000_000)
    readers = [
        bot_api.user("读者"),
        bot_api.user("Reader", language_code="en"),
        bot_api.user(language_code=None),
    ]
    groups = [bot_api.group(), bot_api.group("超级群", supergroup=True)]
    fuzzed = Fuzzed(bot_api, app, bot, dp, errors, readers, bot_api.user(id=ADMIN_ID), groups)
    try:
        setup = ["/start", "/latest 3", "/series", "/series MoE", "/settings", "/search 梯度", "/forget"]
        for reader in readers[:2]:
            await fuzzed.feed(bot_api.send_text(reader, None, "/start s1"))
            await fuzzed.feed(bot_api.send_text(reader, None, "/settings"))
            settings_message = bot_api.messages(reader.id)[-1]
            await fuzzed.feed(bot_api.press_button(reader, settings_message, "c:1:m:weekly"))
            for text in setup:
                await fuzzed.feed(bot_api.send_text(reader, None, text))
        for group in groups:
            for text in setup:
                await fuzzed.feed(bot_api.send_text(readers[0], group, text))
        fuzzed.pressable = [m for m in bot_api.sent if m.callback_data]
        fuzzed.real_data = sorted({data for m in fuzzed.pressable for data in m.callback_data})
        assert {data[0] for data in fuzzed.real_data} >= set("lsirfacx"), fuzzed.real_data
        yield fuzzed
    finally:
        await bot.session.close()


def _sender(fuzzed: Fuzzed, which: int) -> User:
    everyone = [*fuzzed.readers, fuzzed.admin]
    return everyone[which % len(everyone)]


@FUZZ
@given(
    command=st.one_of(st.sampled_from(COMMANDS), st.from_regex(r"[A-Za-z0-9_]{1,32}", fullmatch=True)),
    upper=st.booleans(),
    sep=st.sampled_from([" ", "\n", "  ", "\t", ""]),
    args=texts,
    who=st.integers(0, 3),
)
async def test_commands_in_private(
    fuzzed: Fuzzed, command: str, upper: bool, sep: str, args: str, who: int
) -> None:
    sender = _sender(fuzzed, who)
    text = f"/{command.upper() if upper else command}{sep}{args}"
    calls = await fuzzed.feed(fuzzed.api.send_text(sender, None, text))
    # In private every message gets an answer: the command's, a search, or the unknown-command line.
    assert any(call.method.startswith("send") for call in calls), text


@FUZZ
@given(
    command=st.one_of(st.sampled_from(COMMANDS), st.from_regex(r"[A-Za-z0-9_]{1,32}", fullmatch=True)),
    mention=st.sampled_from(["", "@kexue_notifier_bot", "@KEXUE_NOTIFIER_BOT", "@other_bot", "@", "@@x"]),
    args=texts,
    who=st.integers(0, 3),
    where=st.integers(0, 1),
)
async def test_commands_in_groups(
    fuzzed: Fuzzed, command: str, mention: str, args: str, who: int, where: int
) -> None:
    group = fuzzed.groups[where]
    text = f"/{command}{mention} {args}"
    calls = await fuzzed.feed(fuzzed.api.send_text(_sender(fuzzed, who), group, text))
    answered = any(call.method.startswith("send") for call in calls)
    if mention.startswith("@other") or (mention == "" and command not in COMMANDS):
        # Another bot's command, or one that may be: not ours to answer.
        assert not answered, text
    elif mention in ("", "@kexue_notifier_bot"):
        # Ours, in a group: every command has an answer (/email says to use a private chat).
        assert answered, text


@FUZZ
@given(text=texts.filter(lambda t: t.strip() != ""), who=st.integers(0, 3), where=st.integers(-1, 1))
async def test_plain_text(fuzzed: Fuzzed, text: str, who: int, where: int) -> None:
    chat = None if where < 0 else fuzzed.groups[where]
    calls = await fuzzed.feed(fuzzed.api.send_text(_sender(fuzzed, who), chat, text))
    if chat is None:
        assert any(call.method.startswith("send") for call in calls), text


@FUZZ
@given(
    query=texts,
    offset=st.one_of(
        st.just(""),
        st.integers(-(10**12), 10**12).map(str),
        st.sampled_from(["10", "9990", "10000", "10010", "999999", "0010", "٣", " 1", "1e3", "0x10"]),
        st.text(max_size=64),
    ),
    who=st.integers(0, 3),
    chat_type=st.sampled_from([None, "sender", "private", "group", "supergroup", "channel"]),
)
async def test_inline_queries(
    fuzzed: Fuzzed, query: str, offset: str, who: int, chat_type: str | None
) -> None:
    update = fuzzed.api.inline_query(_sender(fuzzed, who), query[:256], offset, chat_type=chat_type)
    await fuzzed.feed(update)
    # Every inline query is answered (refused words get an empty list), within Telegram's limits.
    assert update["inline_query"]["id"] in fuzzed.api.inline_answers


def _mutate(data: str, edits: list[tuple[float, str, int]]) -> str:
    """`data` with each edit (where, what to insert, how many characters to delete) applied."""
    for where, insert, delete in edits:
        at = int(len(data) * where)
        data = data[:at] + insert + data[at + delete :]
    return data


def _fit(data: str) -> str:
    """At most 64 bytes, cut on a character boundary (longer data never reaches a bot)."""
    return data.encode()[:64].decode(errors="ignore")


forged = st.one_of(
    # Data that was never ours: any text, and bytes read as text the way a client might send them.
    st.text(max_size=64),
    st.binary(max_size=64).map(lambda b: b.decode("utf-8", errors="replace")),
    st.binary(max_size=64).map(lambda b: b.decode("latin-1")),
    # Shaped like ours: every kind, version and field out of range.
    st.from_regex(r"[lsirfacxz]:[0-9]{1,2}(:[0-9A-Za-z+_\-]{0,12}){0,3}", fullmatch=True),
    st.tuples(
        st.sampled_from("lsirfacx"),
        st.sampled_from(["1", "0", "2", "01"]),
        st.lists(
            st.one_of(
                st.sampled_from(["0", "1", "-1", "+1", "20", "21", "10000", "10001", "999999999", "1000"]),
                st.integers(0, 10**12).map(str),
                st.sampled_from(["m", "h", "d", "l", "y", "n", "zh", "en", "fr", "instant", "hourly"]),
            ),
            max_size=3,
        ),
    ).map(lambda t: ":".join([t[0], t[1], *t[2]])),
)


@FUZZ
@given(
    data=st.one_of(
        forged,
        st.tuples(
            st.integers(0, 10_000),
            st.lists(
                st.tuples(st.floats(0, 1), st.text(max_size=4), st.integers(0, 3)), min_size=1, max_size=4
            ),
        ).map(lambda t: ("mutate", t)),
    ),
    under=st.integers(0, 10_000),
    who=st.integers(0, 3),
)
async def test_callback_data_never_ours(fuzzed: Fuzzed, data: Any, under: int, who: int) -> None:
    if isinstance(data, tuple):
        _, (which, edits) = data
        data = _mutate(fuzzed.real_data[which % len(fuzzed.real_data)], edits)
    data = _fit(data)
    message = fuzzed.pressable[under % len(fuzzed.pressable)]
    # Only the owner of a private chat sees its buttons; anyone in a group may press them.
    owners = [user for user in [*fuzzed.readers, fuzzed.admin] if user.id == message.chat_id]
    sender = owners[0] if owners else _sender(fuzzed, who)
    update = fuzzed.api.press_button(sender, message, data, forged=True)
    await fuzzed.feed(update)
    # Every press is answered, whatever its data: a client left spinning is a bug too.
    assert update["callback_query"]["id"] in fuzzed.api.callback_answers, data


# -- what the fuzzing found, kept as plain cases ------------------------------------------------------------


@pytest.mark.parametrize("text", ["/series ()", "/series 【】", "/subscribe ()", "/unsubscribe 《 》"])
async def test_a_series_name_of_brackets_only_matches_no_series(fuzzed: Fuzzed, text: str) -> None:
    # Found by test_commands_in_private: the name's lookup key is empty, the service refused it, and the
    # reader got the apology of an internal error instead of "no series matches".
    reader = fuzzed.readers[0]
    await fuzzed.feed(fuzzed.api.send_text(reader, None, text))
    answer = fuzzed.api.messages(reader.id)[-1].plain
    name = text.split(maxsplit=1)[1]
    assert answer.startswith(f"没有系列匹配「{name}」"), answer


@pytest.mark.parametrize("command", ["series", "subscribe", "unsubscribe"])
async def test_a_series_name_of_4000_characters_is_quoted_back_cut(fuzzed: Fuzzed, command: str) -> None:
    # Found by test_commands_in_private: "no series matches <the name>" quoted all 4000 characters, and
    # Telegram refused the message as too long (the reader got the apology of an internal error).
    reader = fuzzed.readers[0]
    await fuzzed.feed(fuzzed.api.send_text(reader, None, f"/{command} " + "0" * 4000))
    answer = fuzzed.api.messages(reader.id)[-1].plain
    assert answer.startswith("没有系列匹配「" + "0" * 199 + "…」"), answer[:300]
