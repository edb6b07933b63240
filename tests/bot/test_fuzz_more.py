"""Hostile input the first fuzz pass left out: the webhook server, and the update kinds it never sent.

The webhook: the real BotRunner serves aiogram's endpoint on a loopback port, and raw HTTP requests (bytes on
a socket, so a header may hold anything) arrive without the secret token or with a near miss of it (refused
with 401: the database, the Bot API calls and the dispatcher untouched), with the token and a body that is no
update (never a 5xx, never a traceback, nothing at ERROR; see bot/webhook.py for what is logged and how), and
on any path with any method (404/405). The update kinds: my_chat_member with any statuses in every kind of
chat, channel posts and edits, messages without text, without a sender, on behalf of a chat, forwarded, dated
long ago, in chats with ids at the int64 limits, from users with any language code, and button presses under
inline messages (no `message`) or messages no longer accessible. Per case: nothing reached the error handler,
every call the bot made was accepted by the local Bot API, and the case finished within a generous bound.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiogram.types import (
    ChatMemberAdministrator,
    ChatMemberBanned,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberOwner,
    ChatMemberRestricted,
    Update,
)
from aiogram.types.update import UpdateTypeLookupError
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from bot.app import BotRunner
from bot.webhook import WebhookHandler
from notifier.config import TelegramConfig
from tests.bot import test_fuzz as first_pass
from tests.bot.test_fuzz import CASE_BOUND, PIECES, Fuzzed, texts
from tests.bot.test_webhook import free_port
from tests.support.bot_api import NOT_MODIFIED, Call

# Hypothesis warns when it prints a failing case of several kilobytes; huge inputs are the point here.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")
# The first pass's world (its seeded archive, readers, groups and pressable buttons) serves here too;
# `errors` comes from tests/conftest.py.
fuzzed = first_pass.fuzzed
# A case costs a few milliseconds: half the profile's cases per test (1200 in all at the default) keeps the
# whole file, its plain cases included, near 15 s on 2 cores.
FUZZ = settings(
    settings.get_profile("fuzz"), max_examples=max(1, settings.get_profile("fuzz").max_examples // 2)
)

SECRET = "Wh00k-s3cret_token-0123456789abcdefXYZ"
HOOK_PATH = "/telegram/hook"
HEADER = b"X-Telegram-Bot-Api-Secret-Token"
INT64 = (-(2**63), 2**63 - 1)


# -- the webhook --------------------------------------------------------------------------------------------


@dataclass
class Hook:
    """The bot's webhook server on a loopback port over the first pass's world; a watch on its database."""

    world: Fuzzed
    runner: BotRunner
    handler: WebhookHandler
    port: int
    watch: sqlite3.Connection

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text("Hook(...)")

    def fingerprint(self) -> int:
        """SQLite's count of commits by other connections (see tests/web/test_fuzz.py)."""
        (version,) = self.watch.execute("PRAGMA data_version").fetchone()
        return int(version)

    async def request(
        self, method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> tuple[int, bytes, list[Call]]:
        """Send one raw HTTP/1.1 request; the status, the body and the Bot API calls the bot made for it.

        Asserts the answer came in time, with no 5xx and no traceback, nothing was logged at ERROR, the
        updates it handed to the dispatcher were handled, and every call the bot made was accepted.
        """
        calls, logged = len(self.world.api.calls), len(self.world.errors)
        started = time.monotonic()
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            head = [method + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
            head += [name + b": " + value for name, value in headers]
            head.append(b"Content-Length: " + str(len(body)).encode())
            writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), CASE_BOUND)
        except ConnectionResetError:
            # The server answered (413, or 400 for a request it cannot parse) and closed while we wrote.
            answer = await reader.read()
        finally:
            writer.close()
        await asyncio.wait_for(self.handler.idle(), CASE_BOUND)
        elapsed = time.monotonic() - started
        assert elapsed < CASE_BOUND, f"{method!r} {target[:100]!r} took {elapsed:.2f} s"
        status_line, _, rest = answer.partition(b"\r\n")
        assert status_line.startswith((b"HTTP/1.1 ", b"HTTP/1.0 ")), answer[:300]
        status = int(status_line.split()[1])
        _, _, page = rest.partition(b"\r\n\r\n")
        assert status < 500, (method, target[:100], status, page[:500])
        assert b"Traceback" not in page
        failures = [record.getMessage() for record in self.world.errors[logged:]]
        assert not failures, failures
        made = self.world.api.calls[calls:]
        refused = [
            (call.method, call.status, call.description)
            for call in made
            if call.status != 200
            # A button pressed on the page it shows: Telegram says so, the bot ignores it by design.
            and not (call.method == "editMessageText" and call.description == NOT_MODIFIED)
        ]
        assert not refused, refused
        return status, page, made

    async def post(self, update: dict[str, Any], secret: bytes = SECRET.encode()) -> tuple[int, list[Call]]:
        """POST an update as Telegram does; the status and the calls the bot made for it."""
        headers = [(b"Content-Type", b"application/json"), (HEADER, secret)]
        status, _, made = await self.request(
            b"POST", HOOK_PATH.encode(), headers, json.dumps(update).encode()
        )
        return status, made

    def genuine(self, kind: int) -> dict[str, Any]:
        """An update that acts when handled: /start or /subscribe from a new reader, a real button pressed."""
        api = self.world.api
        if kind % 3 == 0:
            return api.send_text(api.user("Newcomer"), None, "/start")
        if kind % 3 == 1:
            return api.send_text(api.user("Newcomer", language_code="en"), None, "/subscribe")
        pressed = self.world.pressable[kind % len(self.world.pressable)]
        # Its buttons as they are now: an earlier press may have turned the page.
        message = api.message(pressed.chat_id, pressed.message_id) or pressed
        if not message.callback_data:
            return api.send_text(api.user("Newcomer"), None, "/start")
        owners = [user for user in [*self.world.readers, self.world.admin] if user.id == message.chat_id]
        data = message.callback_data[kind % len(message.callback_data)]
        return api.press_button(owners[0] if owners else self.world.readers[0], message, data)


@pytest.fixture
async def hook(fuzzed: Fuzzed, tmp_path: Path) -> AsyncIterator[Hook]:
    """The webhook served and registered with Telegram (the local Bot API), over the first pass's world."""
    port = free_port()
    config = TelegramConfig(
        token=fuzzed.api.token,
        api_base=fuzzed.api.base_url,
        webhook_url=f"https://bot.example.org{HOOK_PATH}",
        webhook_secret=SECRET,
        webhook_host="127.0.0.1",
        webhook_port=port,
    )
    runner = BotRunner(fuzzed.app, config, bot=fuzzed.bot, dp=fuzzed.dp)
    await runner.start()
    watch = sqlite3.connect(f"file:{tmp_path / 'k.sqlite3'}?mode=ro", uri=True)
    try:
        await fuzzed.api.wait_for(lambda: fuzzed.api.webhook, timeout=30)
        assert runner.webhook is not None
        hook = Hook(fuzzed, runner, runner.webhook, port, watch)
        # The path works, and the watch sees what an update commits (else every "unchanged" would be vacuous).
        before = hook.fingerprint()
        status, calls = await hook.post(hook.genuine(0))
        assert status == 200 and [call.method for call in calls] == ["sendMessage"]
        assert hook.fingerprint() != before
        yield hook
    finally:
        watch.close()
        await runner.stop()


def _visible(value: bytes) -> bool:
    """Whether an HTTP parser takes `value` as a header value as it is (no control characters)."""
    return all(byte >= 0x20 and byte != 0x7F for byte in value)


_SECRET = SECRET.encode()
near_miss = st.one_of(
    st.just(b""),
    st.binary(max_size=80),
    st.text(max_size=60).map(lambda t: t.encode("utf-8")),
    st.integers(0, len(_SECRET) - 1).map(lambda k: _SECRET[:k]),
    st.integers(1, len(_SECRET) - 1).map(lambda k: _SECRET[k:]),
    st.binary(min_size=1, max_size=8).map(lambda extra: _SECRET + extra),
    st.tuples(st.integers(0, len(_SECRET) - 1), st.integers(0, 7)).map(
        lambda t: _SECRET[: t[0]] + bytes([_SECRET[t[0]] ^ (1 << t[1])]) + _SECRET[t[0] + 1 :]
    ),
    st.tuples(
        st.integers(0, len(_SECRET) - 1), st.sampled_from(["é", "Ｓ", "\u00e9", "\x00", "字", "🙂"])
    ).map(lambda t: _SECRET[: t[0]] + t[1].encode() + _SECRET[t[0] + 1 :]),
    st.tuples(st.integers(0, len(_SECRET) - 1), st.sampled_from([b"\xe9", b"\xff", b"\x80", b"\xc3"])).map(
        lambda t: _SECRET[: t[0]] + t[1] + _SECRET[t[0] + 1 :]
    ),
    st.just(SECRET.swapcase().encode()),
    st.just(SECRET.upper().encode()),
    st.just(b"Bearer " + _SECRET),
    st.just(_SECRET + b"," + _SECRET),
    st.just(_SECRET + b"\x00"),
).filter(lambda value: b"\r" not in value and b"\n" not in value and value.strip(b" \t") != _SECRET)
# Where the near miss goes: under the header's name, under a name close to it, or the header twice.
NAMES = [
    HEADER,
    HEADER.lower(),
    b"X-Telegram-Bot-Api-Secret",
    b"X-Telegram-Bot-Api-Secret-Tokens",
    b"X-Telegram-Bot-Api-Secret_Token",
    b"X-Telegram-Bot-API-Secret-Key",
    b"Secret-Token",
    b"Authorization",
]


@FUZZ
@given(
    value=near_miss,
    name=st.sampled_from(NAMES),
    twice=st.one_of(st.none(), near_miss),
    right_value_wrong_name=st.booleans(),
    kind=st.integers(0, 1000),
    garbage=st.one_of(st.none(), st.binary(max_size=200)),
)
async def test_webhook_refuses_every_request_without_the_secret(
    hook: Hook,
    value: bytes,
    name: bytes,
    twice: bytes | None,
    right_value_wrong_name: bool,
    kind: int,
    garbage: bytes | None,
) -> None:
    headers = [(b"Content-Type", b"application/json")]
    if right_value_wrong_name and name.lower() != HEADER.lower():
        headers.append((name, _SECRET))
    else:
        headers.append((name, value))
    if twice is not None:
        headers.append((HEADER, twice))
    body = json.dumps(hook.genuine(kind)).encode() if garbage is None else garbage
    before = hook.fingerprint()
    status, page, calls = await hook.request(b"POST", HOOK_PATH.encode(), headers, body)
    # Refused: 401, or 400 from the HTTP parser for a header value no parser takes (a control character).
    sent = [value for _, value in headers]
    assert status == 401 or (status == 400 and not all(_visible(v) for v in sent)), (status, page[:200])
    assert not calls, calls
    assert hook.fingerprint() == before


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def _paths(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value (the root included)."""
    found = [at]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*at, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*at, index))
    return found


def _mutated(update: dict[str, Any], edits: list[tuple[int, str, Any]]) -> Any:
    """`update` with each edit (which place, what to do, the new value) applied: wrong types, fields gone."""
    root: Any = json.loads(json.dumps(update))
    for which, action, value in edits:
        places = _paths(root)
        place = places[which % len(places)]
        if not place:
            root = value if action == "replace" else [root]
            continue
        *parent_path, last = place
        parent = root
        for step in parent_path:
            parent = parent[step]
        if action == "delete" and isinstance(parent, dict):
            del parent[last]
        elif action == "wrap":
            parent[last] = [parent[last]]
        else:
            parent[last] = value
    return root


def _deep(depth: int, shape: str, closed: bool) -> bytes:
    opening, closing = {"list": (b"[", b"]"), "dict": (b'{"a":', b"}"), "update": (b'{"message":', b"}")}[
        shape
    ]
    inner = opening * depth + b"1" + (closing * depth if closed else b"")
    return b'{"update_id": 5, "x": ' + inner + b"}" if shape == "update" else inner


bodies = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(lambda t: t.encode("utf-8")),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.tuples(
        st.integers(0, 10**6),
        st.lists(
            st.tuples(
                st.integers(0, 10**3), st.sampled_from(["replace", "replace", "delete", "wrap"]), json_values
            ),
            min_size=1,
            max_size=4,
        ),
    ).map(lambda t: ("mutate", t)),
    st.tuples(st.integers(1, 200_000), st.sampled_from(["list", "dict", "update"]), st.booleans()).map(
        lambda t: _deep(*t)
    ),
    st.sampled_from(
        [
            b"",
            b"null",
            b"{}",
            b"[]",
            b'"update"',
            b"1e999",
            b"NaN",
            b'{"update_id": 1}',
            b'{"update_id": -1, "message": null}',
            b'{"update_id": 1.5}',
            b'{"update_id": "1"}',
            b'{"update_id": 99999999999999999999999}',
            b"\xef\xbb\xbf{}",
            b"\xff\xfe{\x00}\x00",
            b'{"update_id": 1, "update_id": 2}',
            b'{"update_id": 1, "message": {}}',
        ]
    ),
    st.integers(1_048_000, 1_100_000).map(lambda n: b'{"update_id": 7, "pad": "' + b"x" * n + b'"}'),
)
CONTENT_TYPES = [
    b"application/json",
    b"text/plain",
    b"application/json; charset=latin-1",
    b"x/y; charset=nope",
    None,
]


def _accepted(raw: bytes) -> bool:
    """Whether aiogram reads `raw` as an update with an event in it (the only bodies that may act)."""
    try:
        return bool(Update.model_validate(json.loads(raw.decode("utf-8"))).event_type)
    except (ValueError, RecursionError, ValidationError, UpdateTypeLookupError, TypeError):
        return False


@FUZZ
@given(body=bodies, content_type=st.sampled_from(CONTENT_TYPES), kind=st.integers(0, 1000))
async def test_webhook_answers_any_body_with_the_secret_without_a_5xx(
    hook: Hook, body: Any, content_type: bytes | None, kind: int
) -> None:
    if isinstance(body, tuple):
        _, (which, edits) = body
        body = json.dumps(_mutated(hook.genuine(which + kind), edits)).encode()
    headers = [(HEADER, _SECRET)]
    if content_type is not None:
        headers.append((b"Content-Type", content_type))
    before = hook.fingerprint()
    status, page, calls = await hook.request(b"POST", HOOK_PATH.encode(), headers, body)
    # 200 (handled, or dropped when it is no update), 400 (not JSON, not an object), 413 (over 1 MiB).
    assert status in (200, 400, 413), (status, page[:200])
    if status != 200 or not _accepted(body):
        # Nothing that is not an update acts: no call to Telegram, no write.
        assert not calls, calls
        assert hook.fingerprint() == before


METHODS = [b"GET", b"POST", b"PUT", b"DELETE", b"PATCH", b"HEAD", b"OPTIONS", b"TRACE", b"CONNECT"]
segment = st.one_of(
    st.sampled_from(
        ["telegram", "hook", "", ".", "..", "%2e%2e", "%00", "%ff", "%2f", "telegram%2fhook", "Hook"]
    ),
    st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="%?#"), max_size=12
    ),
    st.binary(max_size=8).map(lambda b: "".join(f"%{byte:02X}" for byte in b)),
)


@FUZZ
@given(
    method=st.one_of(st.sampled_from(METHODS), st.from_regex(rb"[A-Z]{1,12}", fullmatch=True)),
    segments=st.lists(segment, min_size=0, max_size=4),
    exact=st.booleans(),
    query=st.sampled_from([b"", b"?x=1", b"?", b"?%ff", b"#frag"]),
    kind=st.integers(0, 1000),
)
async def test_webhook_any_path_and_method(
    hook: Hook, method: bytes, segments: list[str], exact: bool, query: bytes, kind: int
) -> None:
    path = HOOK_PATH.encode() if exact else ("/" + "/".join(segments)).encode()
    headers = [(b"Content-Type", b"application/json"), (HEADER, _SECRET)]
    before = hook.fingerprint()
    status, page, calls = await hook.request(
        method, path + query, headers, json.dumps(hook.genuine(kind)).encode()
    )
    routed = method == b"POST" and path == HOOK_PATH.encode() and not query.startswith(b"#")
    if routed:
        # The webhook itself: the genuine update is handled.
        assert status == 200 and calls, (status, page[:200])
        return
    assert status in (400, 404, 405) or (method == b"POST" and status == 200), (method, path, status)
    if status != 200:
        assert not calls, calls
        assert hook.fingerprint() == before
    if path == HOOK_PATH.encode() and method != b"POST" and not query.startswith(b"#"):
        # CONNECT names a host, not a path: aiohttp finds no route for it.
        assert status in (400, 405) or (method == b"CONNECT" and status == 404), (method, status)


# -- update kinds the first pass never sent -----------------------------------------------------------------

MEMBER_MODELS: dict[str, type[BaseModel]] = {
    "creator": ChatMemberOwner,
    "administrator": ChatMemberAdministrator,
    "member": ChatMemberMember,
    "restricted": ChatMemberRestricted,
    "left": ChatMemberLeft,
    "kicked": ChatMemberBanned,
}
ANY_ID = st.one_of(
    st.integers(*INT64),
    st.sampled_from(
        [INT64[0], INT64[1], INT64[0] + 1, INT64[1] - 1, 2**53, -(2**53), 2**31, -(2**31), 1, -1]
    ),
    st.integers(-(10**12) - 2**40, -(10**12)),
)
LANGUAGE_CODES = st.one_of(
    st.none(),
    st.sampled_from(
        ["zh-hans", "zh-hant", "zh", "en", "EN", "en-US", "zh_CN", "pt-br", "xx", "", "-", "zh-"]
    ),
    st.text(max_size=16),
)
DATES = st.one_of(
    st.sampled_from([0, 1, 946_684_800, 2**31 - 1, 2**31, 2**32]),
    st.integers(0, 2**33),
)


def _user(user_id: int, first_name: str, language_code: str | None, is_bot: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
    if language_code is not None:
        out["language_code"] = language_code
    return out


# Telegram's user ids are positive; chats' ids take any sign.
USER_ID = st.one_of(st.integers(1, INT64[1]), st.sampled_from([1, 2**31, 2**53, INT64[1] - 1, INT64[1]]))
users = st.builds(
    _user,
    user_id=USER_ID,
    first_name=st.one_of(st.sampled_from(PIECES), st.text(min_size=1, max_size=64)),
    language_code=LANGUAGE_CODES,
    is_bot=st.booleans(),
)


def _chat(chat_id: int, kind: str, title: str) -> dict[str, Any]:
    if kind == "private":
        return {"id": chat_id, "type": kind, "first_name": title or "x"}
    return {"id": chat_id, "type": kind, "title": title or "x"}


def _member(status: str, user: dict[str, Any], flags: list[bool], until: int) -> dict[str, Any]:
    """A ChatMember of `status` with every field aiogram requires of it, the flags drawn."""
    model = MEMBER_MODELS[status]
    out: dict[str, Any] = {"status": status, "user": user}
    required = [name for name, info in model.model_fields.items() if info.is_required() and name != "user"]
    for index, name in enumerate(required):
        out[name] = until if name == "until_date" else flags[index % len(flags)]
    return out


def _known_ids(fuzzed: Fuzzed) -> list[int]:
    """The chats of the first pass's world: its readers' private chats and its groups."""
    return [user.id for user in [*fuzzed.readers, fuzzed.admin]] + [group.id for group in fuzzed.groups]


def _reachable(state: Any) -> bool | None:
    return None if state.subscriber is None else bool(state.subscriber.reachable)


@FUZZ
@given(
    chat_kind=st.sampled_from(["private", "group", "supergroup", "channel"]),
    known=st.one_of(st.none(), st.integers(0, 100)),
    chat_id=ANY_ID,
    title=st.text(max_size=40),
    statuses=st.tuples(st.sampled_from(list(MEMBER_MODELS)), st.sampled_from(list(MEMBER_MODELS))),
    flags=st.lists(st.booleans(), min_size=1, max_size=6),
    until=DATES,
    by=users,
    date=DATES,
    subscribed=st.booleans(),
)
async def test_membership_changes_of_any_status_in_any_chat(
    fuzzed: Fuzzed,
    chat_kind: str,
    known: int | None,
    chat_id: int,
    title: str,
    statuses: tuple[str, str],
    flags: list[bool],
    until: int,
    by: dict[str, Any],
    date: int,
    subscribed: bool,
) -> None:
    if known is not None:
        chat_id = _known_ids(fuzzed)[known % len(_known_ids(fuzzed))]
    if chat_kind == "private":
        by = {**by, "id": chat_id, "is_bot": False}
    services = fuzzed.app.services
    if subscribed:
        await services.readers.start(chat_id, chat_type=chat_kind, lang="zh")
    before = _reachable(await services.readers.reader(chat_id))
    me = fuzzed.api.bot.user().to_json()
    old, new = statuses
    update = fuzzed.api.enqueue(
        {
            "my_chat_member": {
                "chat": _chat(chat_id, chat_kind, title),
                "from": by,
                "date": date,
                "old_chat_member": _member(old, me, flags, until),
                "new_chat_member": _member(new, me, flags[::-1], until),
            }
        }
    )
    calls = await fuzzed.feed(update)
    # A change of membership is never answered in the chat (the bot may just have been removed from it).
    assert not [call for call in calls if call.method.startswith("send")], calls
    after = _reachable(await services.readers.reader(chat_id))
    gone = new in ("left", "kicked") or (
        new == "restricted" and not update["my_chat_member"]["new_chat_member"]["is_member"]
    )
    if before is None:
        assert after is None  # a chat we never stored is not stored because the bot left it
    elif gone:
        assert after is False, (old, new)
    else:
        assert after == before, (old, new)


CONTENT = st.one_of(
    st.tuples(st.just("text"), texts),
    st.tuples(st.just("command"), st.tuples(st.sampled_from(first_pass.COMMANDS), texts)),
    st.tuples(st.just("photo"), st.one_of(st.none(), texts)),
    st.tuples(st.just("sticker"), st.none()),
    st.tuples(
        st.just("document"), st.one_of(st.none(), st.sampled_from(["/start", "/latest 3", "/help"]), texts)
    ),
    st.tuples(
        st.just("service"),
        st.sampled_from(["new_chat_members", "left_chat_member", "new_chat_title", "none"]),
    ),
)


def _content(kind: str, value: Any, someone: dict[str, Any]) -> dict[str, Any]:
    """The body of a message: text (a command with its entity), a photo or a document (a caption at most),
    a sticker, a service message, or nothing at all."""
    if kind == "text":
        return {"text": value} if value else {}
    if kind == "command":
        command, args = value
        return {
            "text": f"/{command} {args}",
            "entities": [{"type": "bot_command", "offset": 0, "length": len(command) + 1}],
        }
    if kind in ("photo", "document"):
        media: dict[str, Any] = (
            {"photo": [{"file_id": "AgADphoto", "file_unique_id": "p1", "width": 90, "height": 60}]}
            if kind == "photo"
            else {"document": {"file_id": "BQADdoc", "file_unique_id": "d1", "file_name": "a.pdf"}}
        )
        if value is not None:
            media["caption"] = value[:1024]
            if value.startswith("/"):
                word = value.split()[0] if value.split() else value
                media["caption_entities"] = [{"type": "bot_command", "offset": 0, "length": len(word)}]
        return media
    if kind == "sticker":
        return {
            "sticker": {
                "file_id": "CAADsticker",
                "file_unique_id": "s1",
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
            }
        }
    if value == "new_chat_members":
        return {"new_chat_members": [someone]}
    if value == "left_chat_member":
        return {"left_chat_member": someone}
    if value == "new_chat_title":
        return {"new_chat_title": "新标题"}
    return {}


def _origin(kind: str, date: int, someone: dict[str, Any], chat: dict[str, Any]) -> dict[str, Any]:
    if kind == "user":
        return {"type": "user", "date": date, "sender_user": someone}
    if kind == "hidden_user":
        return {"type": "hidden_user", "date": date, "sender_user_name": someone["first_name"]}
    if kind == "chat":
        return {"type": "chat", "date": date, "sender_chat": chat}
    return {"type": "channel", "date": date, "chat": {**chat, "type": "channel"}, "message_id": 7}


@FUZZ
@given(
    kind=st.sampled_from(["message", "message", "edited_message", "channel_post", "edited_channel_post"]),
    chat_kind=st.sampled_from(["private", "group", "supergroup"]),
    known=st.one_of(st.none(), st.integers(0, 100)),
    chat_id=ANY_ID,
    title=st.text(max_size=40),
    sender=st.sampled_from(["user", "absent", "anonymous_admin", "channel", "reader"]),
    someone=users,
    content=CONTENT,
    forward=st.one_of(st.none(), st.sampled_from(["user", "hidden_user", "chat", "channel", "automatic"])),
    date=DATES,
    standing=st.one_of(st.none(), st.sampled_from(sorted(MEMBER_MODELS))),
)
async def test_messages_of_every_kind(
    fuzzed: Fuzzed,
    kind: str,
    chat_kind: str,
    known: int | None,
    chat_id: int,
    title: str,
    sender: str,
    someone: dict[str, Any],
    content: tuple[str, Any],
    forward: str | None,
    date: int,
    standing: str | None,
) -> None:
    # Whoever writes in a group is someone Telegram knows (getChatMember answers for them), with a standing
    # there: an admin, a member, or one who left since.
    api = fuzzed.api
    user = api.user(someone["first_name"], id=someone["id"], language_code=someone.get("language_code"))
    if known is not None:
        chat_id = _known_ids(fuzzed)[known % len(_known_ids(fuzzed))]
    if kind.endswith("channel_post"):
        chat_kind = "channel"
    chat = _chat(chat_id, chat_kind, title)
    message: dict[str, Any] = {"message_id": 1 + abs(chat_id) % 1000, "chat": chat, "date": date}
    if kind.endswith("channel_post"):
        message["sender_chat"] = chat
    elif sender == "user" or (sender == "reader" and chat_kind != "private"):
        message["from"] = someone if chat_kind != "private" else {**someone, "id": chat_id}
    elif sender == "reader":
        reader = fuzzed.readers[abs(chat_id) % len(fuzzed.readers)]
        chat.update(id=reader.id)
        message["from"] = reader.to_json()
    elif sender == "anonymous_admin":
        # Telegram's "GroupAnonymousBot" signs what an anonymous admin writes, the group as sender_chat.
        message["from"] = _user(1087968824, "Group", None, is_bot=True)
        message["sender_chat"] = chat
    elif sender == "channel":
        # A channel's post forwarded into its discussion group: from "Telegram" (777000), sent by the channel.
        message["from"] = _user(777000, "Telegram", None)
        message["sender_chat"] = {**_chat(-(10**12) - 77, "channel", "Linked channel")}
        message["is_automatic_forward"] = True
    if standing is not None and chat_kind in ("group", "supergroup"):
        api.set_member_status(chat["id"], user, standing)
    message.update(_content(*content, someone))
    if forward == "automatic":
        message["is_automatic_forward"] = True
    elif forward is not None:
        message["forward_origin"] = _origin(forward, date, someone, chat)
    if kind.startswith("edited"):
        message["edit_date"] = date + 1
    calls = await fuzzed.feed(fuzzed.api.enqueue({kind: message}))
    if kind != "message":
        # Edits and channel posts are not ours to answer: an edited "/start" does not start again.
        assert not [call for call in calls if call.method.startswith("send")], (kind, calls)


@FUZZ
@given(
    where=st.sampled_from(["inline", "inline", "inaccessible", "game"]),
    data=st.one_of(st.integers(0, 10_000), first_pass.forged, st.none()),
    inline_message_id=st.one_of(st.text(max_size=40), st.from_regex(r"[A-Za-z0-9_-]{20,40}", fullmatch=True)),
    who=st.integers(0, 3),
    under=st.integers(0, 10_000),
)
async def test_buttons_without_a_message(
    fuzzed: Fuzzed, where: str, data: Any, inline_message_id: str, who: int, under: int
) -> None:
    if isinstance(data, int):
        data = fuzzed.real_data[data % len(fuzzed.real_data)]
    elif isinstance(data, str):
        data = first_pass._fit(data)
    user = first_pass._sender(fuzzed, who)
    api = fuzzed.api
    if where == "inline":
        update = api.press_inline_button(user, inline_message_id, data)
    elif where == "game":
        update = api.press_inline_button(user, inline_message_id, None, game=data or "game")
    else:
        message = fuzzed.pressable[under % len(fuzzed.pressable)]
        update = api.press_inaccessible_button(user, api.chat(message.chat_id), message.message_id, data)
    calls = await fuzzed.feed(update)
    # No message to edit or answer under: the press is answered (a client left spinning is a bug) and
    # nothing is sent anywhere.
    assert update["callback_query"]["id"] in api.callback_answers, data
    assert not [call for call in calls if call.method.startswith(("send", "edit"))], calls


# -- what the fuzzing found, kept as plain cases (several to a test: each test builds the world anew) ----


async def test_a_secret_header_with_non_ascii_bytes_is_refused_not_a_500(hook: Hook) -> None:
    # Found by test_webhook_refuses_every_request_without_the_secret: aiogram compared the header with
    # secrets.compare_digest on str, which raises TypeError for non-ASCII text: a 500 and a traceback.
    for value in ["s3crét".encode(), b"\xe9\xff", SECRET.replace("k", "字").encode()]:
        before = hook.fingerprint()
        status, _, calls = await hook.request(
            b"POST", HOOK_PATH.encode(), [(HEADER, value)], json.dumps(hook.genuine(0)).encode()
        )
        assert status == 401 and not calls, value
        assert hook.fingerprint() == before


async def test_a_body_that_is_not_an_object_is_a_400_without_a_traceback(
    hook: Hook, caplog: pytest.LogCaptureFixture
) -> None:
    # Found by test_webhook_answers_any_body_with_the_secret_without_a_5xx: request.json() raised out of
    # aiogram's handler (JSONDecodeError, UnicodeDecodeError, RecursionError): a 500 and a traceback at ERROR.
    deep_list = b"[" * 100_000 + b"]" * 100_000
    deep_object = b'{"a":' * 5000 + b"1" + b"}" * 5000
    for body in [b"not json", b"\xff\xfe\x00", deep_list, deep_object, b"[1]"]:
        caplog.clear()
        status, page, calls = await hook.request(b"POST", HOOK_PATH.encode(), [(HEADER, _SECRET)], body)
        assert status == 400 and page.startswith(b"Bad Request") and not calls, body[:20]
        refused = [r for r in caplog.records if r.name == "bot.webhook" and r.levelno == logging.WARNING]
        assert len(refused) == 1 and not refused[0].exc_info, body[:20]


async def test_an_object_that_is_no_update_is_dropped_with_one_warning(
    hook: Hook, caplog: pytest.LogCaptureFixture
) -> None:
    # Found by test_webhook_answers_any_body_with_the_secret_without_a_5xx: aiogram answered 200 and fed the
    # object to the dispatcher in a task that died of a ValidationError, logged at ERROR as "Task exception
    # was never retrieved" whenever the task was collected (or a RuntimeWarning for an update with no event).
    no_chat: dict[str, Any] = {"update_id": 9, "message": {"text": "/start"}}
    updates: list[dict[str, Any]] = [{"a": 1}, {"update_id": "x"}, no_chat, {"update_id": 9}]
    for update in updates:
        caplog.clear()
        before = hook.fingerprint()
        status, calls = await hook.post(update)
        assert status == 200 and not calls, update
        assert hook.fingerprint() == before
        dropped = [r for r in caplog.records if r.name == "bot.webhook" and r.levelno == logging.WARNING]
        assert len(dropped) == 1 and "dropped" in dropped[0].getMessage(), [r.getMessage() for r in dropped]


async def test_a_header_the_http_parser_refuses_is_one_info_line_without_the_secret(
    hook: Hook, caplog: pytest.LogCaptureFixture
) -> None:
    # Found by test_webhook_refuses_every_request_without_the_secret: aiohttp logs a request it cannot parse
    # at ERROR with a traceback that quotes the header, the secret token in it.
    caplog.set_level(logging.INFO, logger="bot.webhook")
    status, _, calls = await hook.request(
        b"POST", HOOK_PATH.encode(), [(HEADER, _SECRET + b"\x00")], json.dumps(hook.genuine(0)).encode()
    )
    assert status == 400 and not calls
    lines = [r for r in caplog.records if "malformed request" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO and not lines[0].exc_info
    assert not [r for r in caplog.records if SECRET in r.getMessage() or r.exc_info]


async def test_a_bot_removed_while_restricted_stops_sending_there(fuzzed: Fuzzed) -> None:
    # Found by test_membership_changes_of_any_status_in_any_chat: the membership router listened for
    # "kicked" and "left" only, so a group that removed the bot while restricting it ("restricted",
    # is_member false) stayed an active reader and every digest to it failed.
    me = fuzzed.api.bot.user().to_json()
    for supergroup in (False, True):
        group = fuzzed.api.group("受限群", supergroup=supergroup)
        await fuzzed.feed(fuzzed.api.send_text(fuzzed.readers[0], group, "/start"))
        assert (await fuzzed.app.services.readers.reader(group.id)).subscriber.reachable  # type: ignore[union-attr]
        update = fuzzed.api.enqueue(
            {
                "my_chat_member": {
                    "chat": group.to_json(),
                    "from": fuzzed.readers[0].to_json(),
                    "date": int(time.time()),
                    "old_chat_member": _member("member", me, [True], 0),
                    "new_chat_member": _member("restricted", me, [False], 0),
                }
            }
        )
        await fuzzed.feed(update)
        state = await fuzzed.app.services.readers.reader(group.id)
        assert state.subscriber is not None and not state.subscriber.reachable, supergroup
