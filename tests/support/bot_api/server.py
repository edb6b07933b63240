"""The local Bot API server: users and chats a test plays, the 30 methods, faults and limits applied."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import replace
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from digest.telegram import HtmlParseError, parse_telegram_html, utf16_length
from tests.support.bot_api.faults import (
    Fault,
    FaultRule,
    RateLimits,
    _ApiError,
    _bad,
    _Cooldown,
    _in_scope,
    _RawFault,
    _too_many,
    _Window,
)
from tests.support.bot_api.models import (
    _ADMIN_RIGHTS,
    _NOT_BY_DEFAULT,
    _RESTRICTED,
    ANONYMOUS_ADMIN,
    CALLBACK_ANSWER_LIMIT,
    CALLBACK_DATA_LIMIT,
    CAPTION_LIMIT,
    COMMAND_DESCRIPTION_LIMIT,
    COMMANDS_LIMIT,
    CONFLICT_TERMINATED,
    CONFLICT_WEBHOOK,
    DEFAULT_TOKEN,
    DESCRIPTION_LIMIT,
    INLINE_OFFSET_LIMIT,
    INLINE_RESULTS_LIMIT,
    JSON,
    MEMBER_STATUSES,
    MESSAGE_LIMIT,
    NOT_MODIFIED,
    QUERY_TOO_OLD,
    SHORT_DESCRIPTION_LIMIT,
    BotInfo,
    Call,
    CallbackAnswer,
    Chat,
    Edit,
    InlineAnswer,
    SentMessage,
    T,
    UploadedFile,
    User,
)
from tests.support.bot_api.rich import _check_rich, _flatten

logger = logging.getLogger(__name__)

# -- the server -----------------------------------------------------------------------------------------

# Methods whose calls put a message into a chat: the ones rate limits count.
_SENDING = frozenset({"sendmessage", "sendrichmessage", "senddocument", "sendphoto"})


class BotApiServer:
    """A local Telegram Bot API on 127.0.0.1 at a random port; see the module docstring."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot: BotInfo | None = None,
        rate_limits: RateLimits | None = None,
        rich_messages: bool = True,
        strict_chats: bool = False,
        clock: Callable[[], float] = time.monotonic,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """A stopped server accepting `token`; `rate_limits` None: no limits (Telegram's: RateLimits()).

        `rich_messages` False answers sendRichMessage as a server older than Bot API 10.1 would (404), and
        `strict_chats` answers "chat not found" for chats no helper created.
        """
        self.token = token
        self.bot = bot or BotInfo(int(token.partition(":")[0]))
        self.rate_limits = rate_limits
        self.rich_messages = rich_messages
        self.strict_chats = strict_chats
        self.clock = clock
        self._host = host
        self._port_wanted = port

        self.calls: list[Call] = []
        self.sent: list[SentMessage] = []  # every message the bot sent, in order, as first sent
        self.edits: list[Edit] = []
        self.deleted: list[tuple[int, int]] = []
        self.callback_answers: dict[str, CallbackAnswer] = {}
        self.inline_answers: dict[str, InlineAnswer] = {}
        self.command_sets: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {}
        self.profile: dict[tuple[str, str], str] = {}  # (setMyDescription | setMyShortDescription, lang)
        self.webhook: JSON | None = None  # setWebhook's parameters while a webhook is set
        self.counters: Counter[str] = Counter()
        self.allowed_updates: frozenset[str] | None = None  # None: Telegram's default set

        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._closing = False
        self._methods = self._method_table()

        self._chats: dict[int, Chat] = {}
        # chat -> message id -> the current version of each bot message; ids grow, so dicts keep their order.
        self._messages: dict[int, dict[int, SentMessage]] = {}
        # chat -> ids of the bot's messages as sent, deleted ones included.
        self._sent_ids: dict[int, list[int]] = {}
        self._user_messages: set[tuple[int, int]] = set()
        self._next_message_id: dict[int, int] = {}
        self._consumed: set[tuple[int, int]] = set()  # bot messages wait_for_message already returned
        self._bot_status: dict[int, str] = {}  # chat id -> the bot's membership when not "member"
        self._users: dict[int, User] = {}  # every user a helper made or an update carried
        # group id -> user id -> (status, is_anonymous): the people getChatMember knows in each group.
        self._members: dict[int, dict[int, tuple[str, bool]]] = {}
        self._creator_unset: set[int] = set()  # groups whose first active user becomes their creator
        self._open_callbacks: set[str] = set()
        self._open_inline: set[str] = set()

        self._updates: deque[JSON] = deque()
        self._update_ids = itertools.count(700_000_001)
        self._user_ids = itertools.count(1_000_001)
        self._group_ids = itertools.count(4_000_001)
        self._query_ids = itertools.count(8_000_000_000_001)
        self._poll: asyncio.Future[None] | None = None  # the waiting getUpdates, to terminate on a second one

        self._waiters: set[asyncio.Future[None]] = set()
        self._rules: list[FaultRule] = []
        self._cooldowns: list[_Cooldown] = []
        self._global_window: _Window | None = None
        self._chat_windows: dict[int | str, _Window] = {}

    # -- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind to a free port on 127.0.0.1 (or the one given) and start serving."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        # handler_cancellation: a bot that stopped polling must not leave its long poll waiting here.
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port_wanted)
        await site.start()
        self._port = int(runner.addresses[0][1])
        self._runner = runner
        self._closing = False
        logger.debug("local Bot API listening at %s", self.base_url)

    async def stop(self) -> None:
        """Answer waiting long polls, stop serving and release the port."""
        self._closing = True
        self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        """Start the server."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        await self.stop()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._port is None:
            raise RuntimeError("BotApiServer is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """The base for TelegramAPIServer.from_base / TELEGRAM_API_BASE, like http://127.0.0.1:PORT."""
        return f"http://{self._host}:{self.port}"

    # -- people and chats ----------------------------------------------------------------------------

    def user(
        self,
        first_name: str = "Reader",
        *,
        username: str | None = None,
        language_code: str | None = "zh-hans",
        id: int | None = None,
    ) -> User:
        """A new user (with their private chat with the bot)."""
        user = User(
            id if id is not None else next(self._user_ids),
            first_name,
            username=username,
            language_code=language_code,
        )
        self._users[user.id] = user
        self._chats[user.id] = Chat(user.id, "private", username=username, first_name=first_name)
        return user

    def private_chat(self, user: User) -> Chat:
        """The private chat of `user` with the bot."""
        return self._chats.get(user.id) or Chat(user.id, "private", username=user.username)

    def group(
        self,
        title: str = "Reading group",
        *,
        supergroup: bool = False,
        username: str | None = None,
        creator: User | None = None,
        admins: Collection[User] = (),
    ) -> Chat:
        """A new group (ids like -4000001) or supergroup (ids like -1004000001) the bot is a member of.

        Its people, as getChatMember answers: `creator`, `admins` (administrators), and everyone else who
        writes or presses a button there a member. Given neither, the first user who acts in the group is
        its creator (the one who made it and added the bot). `set_member_status` changes anyone's status.
        """
        number = next(self._group_ids)
        chat = (
            Chat(-(1_000_000_000_000 + number), "supergroup", title=title, username=username)
            if supergroup
            else Chat(-number, "group", title=title, username=username)
        )
        self._chats[chat.id] = chat
        self._members[chat.id] = {}
        if creator is None and not admins:
            self._creator_unset.add(chat.id)
        if creator is not None:
            self.set_member_status(chat, creator, "creator")
        for admin in admins:
            self.set_member_status(chat, admin, "administrator")
        return chat

    def set_member_status(
        self, chat: Chat | int, user: User, status: str, *, anonymous: bool = False
    ) -> None:
        """`user`'s status in a group: creator, administrator, member, restricted, left or kicked.

        `anonymous`: an administrator (or the creator) who posts as the group (`send_text(anonymous=True)`).
        A new creator leaves the old one an administrator, as a transfer of ownership does.
        """
        if status not in MEMBER_STATUSES:
            raise ValueError(f"unknown member status {status!r}; one of {sorted(MEMBER_STATUSES)}")
        chat_id = chat if isinstance(chat, int) else chat.id
        members = self._members.setdefault(chat_id, {})
        if status == "creator":
            for other, (held, hidden) in list(members.items()):
                if held == "creator" and other != user.id:
                    members[other] = ("administrator", hidden)
        self._users.setdefault(user.id, user)
        members[user.id] = (status, anonymous and status in ("creator", "administrator"))
        self._creator_unset.discard(chat_id)

    def member_status(self, chat: Chat | int, user: User | int) -> str:
        """`user`'s status in a group as getChatMember reports it ("left" for someone never there)."""
        chat_id = chat if isinstance(chat, int) else chat.id
        user_id = user if isinstance(user, int) else user.id
        return self._members.get(chat_id, {}).get(user_id, ("left", False))[0]

    def channel(self, title: str = "Kexue channel", *, username: str | None = None) -> Chat:
        """A new channel the bot is an administrator of."""
        chat = Chat(-(1_000_000_000_000 + next(self._group_ids)), "channel", title=title, username=username)
        self._chats[chat.id] = chat
        return chat

    def chat(self, chat_id: int) -> Chat:
        """A chat by id: one a helper made, else one inferred from the id as Telegram numbers them."""
        known = self._chats.get(chat_id)
        if known is not None:
            return known
        if chat_id > 0:
            return Chat(chat_id, "private", first_name=f"User {chat_id}")
        if chat_id <= -1_000_000_000_000:
            return Chat(chat_id, "supergroup", title=f"Supergroup {chat_id}")
        return Chat(chat_id, "group", title=f"Group {chat_id}")

    # -- updates: what users do ----------------------------------------------------------------------

    def send_text(self, user: User, chat: Chat | int | None, text: str, *, anonymous: bool = False) -> JSON:
        """A user writes `text` in `chat` (None: their private chat); returns the queued Update.

        A leading /command gets its bot_command entity, as Telegram sends it. `anonymous`: an administrator
        of a group posts as the group, so the message comes from GroupAnonymousBot with the group as
        `sender_chat` (ValueError for anyone Telegram would not let do that).
        """
        target = self._target(user, chat)
        if anonymous:
            if target.type not in ("group", "supergroup") or self.member_status(target, user) not in (
                "creator",
                "administrator",
            ):
                raise ValueError(f"only an administrator of a group posts anonymously, not user {user.id}")
            message = self._user_message(ANONYMOUS_ADMIN, target, text=text)
            message["sender_chat"] = target.to_json()
        else:
            message = self._user_message(user, target, text=text)
        command = re.match(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?", text)
        if command is not None:
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_length(command.group(0))}
            ]
        return self.enqueue({"message": message})

    def press_button(self, user: User, message: SentMessage, data: str, *, forged: bool = False) -> JSON:
        """A user presses the inline button with `data` under a message the bot sent; returns the Update.

        The callback query's id is ``update["callback_query"]["id"]``. `forged`: any data of at most 64
        bytes, as a modified client can send for a button that does not exist (Telegram passes it on).
        """
        current = self.message(message.chat_id, message.message_id)
        if current is None:
            raise ValueError(f"message {message.message_id} in chat {message.chat_id} is not a bot message")
        if forged and len(data.encode()) > CALLBACK_DATA_LIMIT:
            raise ValueError(f"callback data over {CALLBACK_DATA_LIMIT} bytes never reaches a bot: {data!r}")
        if not forged and data not in current.callback_data:
            raise ValueError(
                f"no button with callback_data {data!r} under that message: {current.callback_data}"
            )
        self._acts(user, self.chat(message.chat_id))
        query_id = str(next(self._query_ids))
        self._open_callbacks.add(query_id)
        query = {
            "id": query_id,
            "from": user.to_json(),
            "message": current.result,
            # Opaque to bots and stable per chat, like Telegram's.
            "chat_instance": f"ci{abs(message.chat_id)}",
            "data": data,
        }
        return self.enqueue({"callback_query": query})

    def press_inline_button(
        self, user: User, inline_message_id: str, data: str | None, *, game: str | None = None
    ) -> JSON:
        """A user presses a button under a message sent in inline mode: the query carries no `message`,
        only the `inline_message_id` (and `data`, or a `game_short_name` for a game's button)."""
        if data is not None and len(data.encode()) > CALLBACK_DATA_LIMIT:
            raise ValueError(f"callback data over {CALLBACK_DATA_LIMIT} bytes never reaches a bot: {data!r}")
        query_id = str(next(self._query_ids))
        self._open_callbacks.add(query_id)
        query: JSON = {
            "id": query_id,
            "from": user.to_json(),
            "inline_message_id": inline_message_id,
            "chat_instance": f"ci-inline{user.id}",
        }
        if data is not None:
            query["data"] = data
        if game is not None:
            query["game_short_name"] = game
        return self.enqueue({"callback_query": query})

    def press_inaccessible_button(self, user: User, chat: Chat, message_id: int, data: str | None) -> JSON:
        """A user presses a button under a message the bot can no longer reach (too old, deleted): Telegram
        sends an InaccessibleMessage (its date 0) in place of the message."""
        query_id = str(next(self._query_ids))
        self._open_callbacks.add(query_id)
        query: JSON = {
            "id": query_id,
            "from": user.to_json(),
            "message": {"chat": chat.to_json(), "message_id": message_id, "date": 0},
            "chat_instance": f"ci{abs(chat.id)}",
        }
        if data is not None:
            query["data"] = data
        return self.enqueue({"callback_query": query})

    def inline_query(self, user: User, query: str, offset: str = "", *, chat_type: str | None = None) -> JSON:
        """A user types `@bot query` (offset: the next page the bot asked for); returns the Update."""
        query_id = str(next(self._query_ids))
        self._open_inline.add(query_id)
        body: JSON = {"id": query_id, "from": user.to_json(), "query": query, "offset": offset}
        if chat_type is not None:
            body["chat_type"] = chat_type
        return self.enqueue({"inline_query": body})

    def my_chat_member(self, user: User, chat: Chat | int | None, old: str, new: str) -> JSON:
        """The bot's membership in `chat` changes from `old` to `new` by `user`'s doing; returns the Update.

        Statuses as Telegram names them: member, kicked, left, administrator. While the bot is "kicked" or
        "left", sends to that chat are refused with 403 as Telegram refuses them.
        """
        target = self._target(user, chat)
        self._bot_status[target.id] = new
        if new in ("member", "administrator"):
            self._bot_status.pop(target.id)
        update = {
            "chat": target.to_json(),
            "from": user.to_json(),
            "date": int(time.time()),
            "old_chat_member": self._member(old),
            "new_chat_member": self._member(new),
        }
        return self.enqueue({"my_chat_member": update})

    def user_blocks_bot(self, user: User) -> JSON:
        """The user blocks the bot: a my_chat_member update, and sends to them answer 403 from now on."""
        return self.my_chat_member(user, None, "member", "kicked")

    def user_unblocks_bot(self, user: User) -> JSON:
        """The user unblocks (restarts) the bot: a my_chat_member update, and sends work again."""
        return self.my_chat_member(user, None, "kicked", "member")

    def channel_post(self, chat: Chat, text: str) -> JSON:
        """A post in a channel the bot administers; returns the Update."""
        message_id = self._new_message_id(chat.id)
        message = {
            "message_id": message_id,
            "sender_chat": chat.to_json(),
            "chat": chat.to_json(),
            "date": int(time.time()),
            "text": text,
        }
        self._user_messages.add((chat.id, message_id))
        return self.enqueue({"channel_post": message})

    def enqueue(self, update: JSON) -> JSON:
        """Queue any Update object (its update_id is assigned here) and wake a waiting getUpdates."""
        full = {"update_id": next(self._update_ids), **update}
        self._updates.append(full)
        self._notify()
        return full

    @property
    def pending_updates(self) -> list[JSON]:
        """The updates the bot has not confirmed yet."""
        return list(self._updates)

    # -- faults --------------------------------------------------------------------------------------

    def fail(
        self,
        fault: Fault,
        *,
        chat_id: int | str | None = None,
        methods: Collection[str] | None = None,
        times: int | None = None,
    ) -> FaultRule:
        """Answer with `fault` for `chat_id` (None: every chat), `times` times (None: until recover()).

        `methods` (names, any case) limits the rule; by default it hits every call that carries a chat_id,
        so getUpdates is only hit when named. Rules are tried in the order they were added.
        """
        rule = FaultRule(
            fault,
            chat_id,
            None if methods is None else frozenset(m.lower() for m in methods),
            times,
        )
        self._rules.append(rule)
        return rule

    def recover(self, chat_id: int | str | None = None, *, all_chats: bool = False) -> None:
        """Remove the fault rules and any 429 cooldown of `chat_id` (None: the global ones; or all)."""
        self._rules = [r for r in self._rules if not (all_chats or r.chat_id == chat_id)]
        self._cooldowns = [c for c in self._cooldowns if not (all_chats or c.chat_id == chat_id)]

    @property
    def too_many_requests(self) -> int:
        """How many calls were answered 429, for whatever reason."""
        return self.counters["error:429"]

    # -- reading what the bot did --------------------------------------------------------------------

    def messages(self, chat_id: int) -> list[SentMessage]:
        """The bot's messages in a chat, current versions, in order (deleted ones left out)."""
        return list(self._messages.get(chat_id, {}).values())

    def message(self, chat_id: int, message_id: int) -> SentMessage | None:
        """The current version of one bot message."""
        return self._messages.get(chat_id, {}).get(message_id)

    def calls_of(self, method: str) -> list[Call]:
        """The recorded calls of one method (any case), in arrival order."""
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def commands_for(
        self, scope: Mapping[str, Any] | None = None, language_code: str = ""
    ) -> list[tuple[str, str]]:
        """The (command, description) list set for a scope (default: the default scope) and language."""
        return list(self.command_sets.get((_scope_key(scope), language_code), ()))

    async def wait_for_message(
        self,
        chat_id: int,
        predicate: Callable[[SentMessage], bool] | None = None,
        timeout: float = 5.0,
    ) -> SentMessage:
        """The first bot message in `chat_id` not yet returned by this method (and matching `predicate`).

        It waits up to `timeout` seconds for the bot to send it; each message is returned once, so successive
        calls read the bot's replies in order.
        """

        def find() -> SentMessage | None:
            for message_id in self._sent_ids.get(chat_id, ()):
                key = (chat_id, message_id)
                current = self.message(chat_id, message_id)
                if current is None or key in self._consumed:
                    continue
                if predicate is None or predicate(current):
                    self._consumed.add(key)
                    return current
            return None

        try:
            return await self.wait_for(find, timeout)
        except TimeoutError:
            texts = [m.plain for m in self.messages(chat_id)]
            raise TimeoutError(
                f"no new bot message in chat {chat_id} within {timeout}s; it has {texts}"
            ) from None

    async def wait_for_callback_answer(self, callback_query_id: str, timeout: float = 5.0) -> CallbackAnswer:
        """The bot's answer to one button press, waiting up to `timeout` seconds."""
        return await self.wait_for(lambda: self.callback_answers.get(callback_query_id), timeout)

    async def wait_for_inline_answer(self, inline_query_id: str, timeout: float = 5.0) -> InlineAnswer:
        """The bot's answer to one inline query, waiting up to `timeout` seconds."""
        return await self.wait_for(lambda: self.inline_answers.get(inline_query_id), timeout)

    async def wait_for_call(
        self, method: str, predicate: Callable[[Call], bool] | None = None, timeout: float = 5.0
    ) -> Call:
        """The first recorded call of `method` (matching `predicate`), waiting up to `timeout` seconds."""

        def find() -> Call | None:
            return next((c for c in self.calls_of(method) if predicate is None or predicate(c)), None)

        return await self.wait_for(find, timeout)

    async def wait_for_poll(self, timeout: float = 5.0) -> None:
        """Wait until a getUpdates is waiting here (the bot is long-polling), up to `timeout` seconds."""
        await self.wait_for(lambda: True if self.polling else None, timeout)

    async def wait_for(self, probe: Callable[[], T | None], timeout: float = 5.0) -> T:
        """Wait until `probe()` returns something (checked after each call and update); else TimeoutError."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = probe()
            if found is not None:
                return found
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"nothing matched within {timeout}s")
            await self._changed(remaining)

    # -- plumbing: waiting ---------------------------------------------------------------------------

    @property
    def polling(self) -> bool:
        """Whether a getUpdates is waiting here now (a long poll in progress)."""
        return self._poll is not None and not self._poll.done()

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _changed(self, timeout: float) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            pass
        finally:
            self._waiters.discard(waiter)

    # -- plumbing: serving ---------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        arrived = self.clock()
        name = request.match_info["method"]
        entry = self._methods.get(name.lower())
        method = entry[0] if entry is not None else name
        params: JSON = {}
        chat_id: int | str | None = None
        retry_after: int | None = None
        try:
            if request.match_info["token"] != self.token:
                raise _ApiError(401, "Unauthorized")
            if entry is None:
                raise _ApiError(404, "Not Found")
            params = await _read_params(request)
            chat_id = _chat_id(params)
            await self._apply_faults(method, chat_id)
            result = await entry[1](params, chat_id)
        except _RawFault as raw:
            fault = raw.fault
            assert fault.status is not None
            self._record(Call(method, params, chat_id, arrived, fault.status, fault.description))
            if fault.redirect:
                return web.Response(status=fault.status, headers={"Location": str(request.rel_url)})
            return web.Response(status=fault.status, body=fault.raw, content_type="text/html")
        except _ApiError as error:
            status, description, parameters = error.status, error.description, error.parameters
            retry_after = (parameters or {}).get("retry_after")
            self._record(Call(method, params, chat_id, arrived, status, description, retry_after))
            body: JSON = {"ok": False, "error_code": status, "description": description}
            if parameters:
                body["parameters"] = parameters
            return web.json_response(body, status=status)
        self._record(Call(method, params, chat_id, arrived, 200))
        return web.json_response({"ok": True, "result": result})

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self.counters["calls"] += 1
        self.counters["ok" if call.status == 200 else f"error:{call.status}"] += 1
        if call.status != 200:
            logger.debug("%s %s -> %d %s", call.method, call.chat_id, call.status, call.description)
        self._notify()

    async def _apply_faults(self, method: str, chat_id: int | str | None) -> None:
        """Cooldowns after a 429, armed faults, then rate limits, in that order."""
        lowered = method.lower()
        now = self.clock()
        self._cooldowns = [c for c in self._cooldowns if c.until > now]
        for cooldown in self._cooldowns:
            if _in_scope(cooldown.chat_id, cooldown.methods, lowered, chat_id):
                self.counters["cooldown"] += 1
                raise _too_many(cooldown.until - now)
        for rule in list(self._rules):
            # A slow fault's sleep lets other calls use up and remove rules of this snapshot.
            if all(r is not rule for r in self._rules) or not rule.matches(lowered, chat_id):
                continue
            rule.fired += 1
            if rule.remaining is not None:
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self._rules.remove(rule)
            fault = rule.fault
            self.counters[f"fault:{fault.kind}"] += 1
            if fault.delay > 0:
                await asyncio.sleep(fault.delay)
            if fault.status is None:
                continue
            if fault.raw is not None or fault.redirect:
                raise _RawFault(fault)
            parameters: JSON = {}
            if fault.retry_after is not None:
                parameters["retry_after"] = fault.retry_after
                until = self.clock() + fault.retry_after
                self._cooldowns.append(_Cooldown(rule.chat_id, rule.methods, until))
            if fault.migrate_to_chat_id is not None:
                parameters["migrate_to_chat_id"] = fault.migrate_to_chat_id
            raise _ApiError(fault.status, fault.description, parameters or None)
        if lowered in _SENDING and chat_id is not None:
            self._rate_limit(chat_id, now)

    def _rate_limit(self, chat_id: int | str, now: float) -> None:
        limits = self.rate_limits
        if limits is None:
            return
        windows: list[tuple[str, _Window]] = []
        if limits.global_per_second is not None:
            # Made on first use so that a benchmark may set rate_limits on a running server.
            if self._global_window is None or self._global_window.limit != limits.global_per_second:
                self._global_window = _Window(limits.global_per_second, 1.0)
            windows.append(("global", self._global_window))
        chat = self._resolve(chat_id)
        private = chat is not None and chat.type == "private"
        key = chat.id if chat is not None else chat_id
        window = self._chat_windows.get(key)
        if window is None:
            limit, span = (limits.private_per_second, 1.0) if private else (limits.group_per_minute, 60.0)
            if limit is not None:
                window = self._chat_windows[key] = _Window(limit, span)
        if window is not None:
            windows.append(("private" if private else "group", window))
        for scope, each in windows:
            wait = each.wait(now)
            if wait > 0:
                self.counters[f"rate_limit:{scope}"] += 1
                raise _too_many(wait)
        for _, each in windows:
            each.add(now)

    # -- the methods ---------------------------------------------------------------------------------

    def _method_table(self) -> dict[str, tuple[str, Callable[[JSON, int | str | None], Awaitable[Any]]]]:
        handlers: dict[str, Callable[[JSON, int | str | None], Awaitable[Any]]] = {
            "getMe": self._get_me,
            "logOut": self._true,
            "close": self._true,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "getChatMember": self._get_chat_member,
            "sendMessage": self._send_message,
            "sendRichMessage": self._send_rich_message,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "sendChatAction": self._send_chat_action,
            "answerCallbackQuery": self._answer_callback_query,
            "answerInlineQuery": self._answer_inline_query,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setMyDescription": self._set_my_description,
            "setMyShortDescription": self._set_my_short_description,
            "leaveChat": self._leave_chat,
        }
        return {name.lower(): (name, handler) for name, handler in handlers.items()}

    async def _true(self, params: JSON, chat_id: int | str | None) -> bool:
        return True

    async def _get_me(self, params: JSON, chat_id: int | str | None) -> JSON:
        return self.bot.to_json()

    async def _get_updates(self, params: JSON, chat_id: int | str | None) -> list[JSON]:
        if self.webhook is not None:
            raise _ApiError(409, CONFLICT_WEBHOOK)
        offset = _opt_int(params, "offset")
        limit = min(max(_opt_int(params, "limit") or 100, 1), 100)
        timeout = max(_opt_int(params, "timeout") or 0, 0)
        allowed = _opt_json(params, "allowed_updates")
        if allowed is not None:
            if not isinstance(allowed, list):
                raise _bad("can't parse allowed_updates JSON array")
            self.allowed_updates = frozenset(str(a) for a in allowed) or None
        # As Telegram does, a new getUpdates ends the one still waiting (that one gets the 409).
        if self._poll is not None and not self._poll.done():
            self._poll.set_result(None)
        loop = asyncio.get_running_loop()
        poll: asyncio.Future[None] = loop.create_future()
        self._poll = poll
        self._notify()
        try:
            self._confirm(offset)
            deadline = loop.time() + timeout
            while True:
                if poll.done():
                    raise _ApiError(409, CONFLICT_TERMINATED)
                batch = self._deliverable(limit)
                remaining = deadline - loop.time()
                if batch or remaining <= 0 or self._closing:
                    return batch
                await self._changed(remaining)
        finally:
            if self._poll is poll:
                self._poll = None
                self._notify()

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        if offset < 0:
            while len(self._updates) > -offset:
                self._updates.popleft()
            return
        while self._updates and self._updates[0]["update_id"] < offset:
            self._updates.popleft()

    def _deliverable(self, limit: int) -> list[JSON]:
        """Up to `limit` pending updates; those of types the bot did not ask for are dropped (as Telegram)."""
        kept: deque[JSON] = deque()
        for update in self._updates:
            kind = next(k for k in update if k != "update_id")
            wanted = kind in self.allowed_updates if self.allowed_updates else kind not in _NOT_BY_DEFAULT
            if wanted:
                kept.append(update)
        self._updates = kept
        return list(itertools.islice(kept, limit))

    async def _set_webhook(self, params: JSON, chat_id: int | str | None) -> bool:
        url = _opt_str(params, "url")
        if not url:
            self.webhook = None
            return True
        if not url.startswith("https://"):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook = {k: v for k, v in params.items() if not isinstance(v, UploadedFile)}
        if _opt_bool(params, "drop_pending_updates"):
            self._updates.clear()
        return True

    async def _delete_webhook(self, params: JSON, chat_id: int | str | None) -> bool:
        self.webhook = None
        if _opt_bool(params, "drop_pending_updates"):
            self._updates.clear()
        return True

    async def _get_webhook_info(self, params: JSON, chat_id: int | str | None) -> JSON:
        info: JSON = {
            "url": (self.webhook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.allowed_updates:
            info["allowed_updates"] = sorted(self.allowed_updates)
        return info

    async def _send_message(self, params: JSON, chat_id: int | str | None) -> JSON:
        chat = self._destination(chat_id)
        text = _opt_str(params, "text")
        parse_mode = _opt_str(params, "parse_mode")
        plain, entities = _formatted(text, parse_mode, params, MESSAGE_LIMIT, "message text is empty")
        markup = _reply_markup(params)
        _opt_json(params, "link_preview_options")
        _opt_json(params, "reply_parameters")
        content: JSON = {"text": plain}
        if entities:
            content["entities"] = entities
        return self._deliver(chat, "sendMessage", content, text, parse_mode, plain, entities, markup)

    async def _send_rich_message(self, params: JSON, chat_id: int | str | None) -> JSON:
        if not self.rich_messages:
            raise _ApiError(404, "Not Found")
        chat = self._destination(chat_id)
        raw = _opt_json(params, "rich_message")
        if raw is None:
            raise _bad("rich_message is empty")
        rich = _check_rich(raw)
        markup = _reply_markup(params)
        content: JSON = {"rich_message": {"blocks": list(rich.blocks)}}
        if raw.get("is_rtl"):
            content["rich_message"]["is_rtl"] = True
        plain = "\n".join(_flatten(b) for b in rich.blocks)
        return self._deliver(
            chat, "sendRichMessage", content, None, None, plain, [], markup, rich_message=raw, math=rich.math
        )

    async def _send_document(self, params: JSON, chat_id: int | str | None) -> JSON:
        chat = self._destination(chat_id)
        upload, file_id = _input_file(params, "document")
        name = (upload.filename if upload is not None else None) or "document"
        document: JSON = {
            "file_id": file_id,
            "file_unique_id": f"u{abs(hash(file_id)) % 10**12}",
            "file_name": name,
            "file_size": len(upload.data) if upload is not None else 0,
        }
        if upload is not None:
            document["mime_type"] = upload.content_type
        return await self._send_media(chat, params, "sendDocument", {"document": document}, upload)

    async def _send_photo(self, params: JSON, chat_id: int | str | None) -> JSON:
        chat = self._destination(chat_id)
        upload, file_id = _input_file(params, "photo")
        size = len(upload.data) if upload is not None else 0
        unique = f"u{abs(hash(file_id)) % 10**12}"
        photo = [{"file_id": file_id, "file_unique_id": unique, "width": 1, "height": 1, "file_size": size}]
        return await self._send_media(chat, params, "sendPhoto", {"photo": photo}, upload)

    async def _send_media(
        self, chat: Chat, params: JSON, method: str, content: JSON, upload: UploadedFile | None
    ) -> JSON:
        caption = _opt_str(params, "caption")
        parse_mode = _opt_str(params, "parse_mode")
        plain, entities = "", list[JSON]()
        if caption:
            plain, entities = _formatted(
                caption,
                parse_mode,
                params,
                CAPTION_LIMIT,
                "message caption is empty",
                entities_key="caption_entities",
                too_long="message caption is too long",
            )
        if plain:
            content["caption"] = plain
        if entities:
            content["caption_entities"] = entities
        markup = _reply_markup(params)
        return self._deliver(chat, method, content, caption, parse_mode, plain, entities, markup, file=upload)

    def _deliver(
        self,
        chat: Chat,
        method: str,
        content: JSON,
        text: str | None,
        parse_mode: str | None,
        plain: str,
        entities: list[JSON],
        markup: JSON | None,
        *,
        rich_message: JSON | None = None,
        math: tuple[str, ...] = (),
        file: UploadedFile | None = None,
    ) -> JSON:
        message_id = self._new_message_id(chat.id)
        date = int(time.time())
        result: JSON = {
            "message_id": message_id,
            "from": self.bot.user().to_json(),
            "chat": chat.to_json(),
            "date": date,
            **content,
        }
        inline = _inline_markup(markup)
        if inline is not None:
            result["reply_markup"] = inline
        sent = SentMessage(
            chat_id=chat.id,
            message_id=message_id,
            method=method,
            text=text,
            parse_mode=parse_mode,
            plain=plain,
            entities=tuple(entities),
            reply_markup=inline,
            rich_message=rich_message,
            math=math,
            date=date,
            result=result,
            file=file,
        )
        self.sent.append(sent)
        self._messages.setdefault(chat.id, {})[message_id] = sent
        self._sent_ids.setdefault(chat.id, []).append(message_id)
        return result

    async def _edit_message_text(self, params: JSON, chat_id: int | str | None) -> JSON:
        current = self._editable(params, chat_id)
        markup = _inline_markup(_reply_markup(params))
        raw_rich = _opt_json(params, "rich_message") if self.rich_messages else None
        text = _opt_str(params, "text")
        parse_mode = _opt_str(params, "parse_mode")
        content: JSON
        entities: list[JSON] = []
        if raw_rich is not None and text is None:
            rich = _check_rich(raw_rich)
            plain, math = "\n".join(_flatten(b) for b in rich.blocks), rich.math
            content = {"rich_message": {"blocks": list(rich.blocks)}}
        else:
            plain, entities = _formatted(text, parse_mode, params, MESSAGE_LIMIT, "message text is empty")
            math = ()
            content = {"text": plain}
            if entities:
                content["entities"] = entities
        if (
            plain == current.plain
            and tuple(entities) == current.entities
            and markup == current.reply_markup
            and raw_rich == current.rich_message
        ):
            raise _bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        return self._replace(
            current, "editMessageText", content, text, parse_mode, plain, entities, markup, raw_rich, math
        )

    async def _edit_message_reply_markup(self, params: JSON, chat_id: int | str | None) -> JSON:
        current = self._editable(params, chat_id)
        markup = _inline_markup(_reply_markup(params))
        if markup == current.reply_markup:
            raise _bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        content = {k: v for k, v in current.result.items() if k not in ("reply_markup", "edit_date")}
        return self._replace(
            current,
            "editMessageReplyMarkup",
            content,
            current.text,
            current.parse_mode,
            current.plain,
            list(current.entities),
            markup,
            current.rich_message,
            current.math,
        )

    def _editable(self, params: JSON, chat_id: int | str | None) -> SentMessage:
        if _opt_str(params, "inline_message_id"):
            raise _bad("message to edit not found")
        if chat_id is None:
            raise _bad("chat_id is empty")
        chat = self._destination(chat_id)
        message_id = _opt_int(params, "message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        if (chat.id, message_id) in self._user_messages:
            raise _bad("message can't be edited")
        current = self.message(chat.id, message_id)
        if current is None:
            raise _bad("message to edit not found")
        return current

    def _replace(
        self,
        current: SentMessage,
        method: str,
        content: JSON,
        text: str | None,
        parse_mode: str | None,
        plain: str,
        entities: list[JSON],
        markup: JSON | None,
        rich_message: JSON | None,
        math: tuple[str, ...],
    ) -> JSON:
        edit_date = int(time.time())
        result: JSON = {
            "message_id": current.message_id,
            "from": self.bot.user().to_json(),
            "chat": current.result["chat"],
            "date": current.date,
            "edit_date": edit_date,
            **content,
        }
        if markup is not None:
            result["reply_markup"] = markup
        self._messages[current.chat_id][current.message_id] = replace(
            current,
            text=text,
            parse_mode=parse_mode,
            plain=plain,
            entities=tuple(entities),
            reply_markup=markup,
            rich_message=rich_message,
            math=math,
            edit_date=edit_date,
            result=result,
        )
        self.edits.append(
            Edit(
                current.chat_id,
                current.message_id,
                method,
                text,
                parse_mode,
                plain,
                markup,
                rich_message,
                self.clock(),
            )
        )
        return result

    async def _delete_message(self, params: JSON, chat_id: int | str | None) -> bool:
        chat = self._destination(chat_id)
        message_id = _opt_int(params, "message_id")
        key = (chat.id, message_id or 0)
        if self._messages.get(chat.id, {}).pop(key[1], None) is None:
            raise _bad("message to delete not found")
        self.deleted.append(key)
        return True

    async def _send_chat_action(self, params: JSON, chat_id: int | str | None) -> bool:
        self._destination(chat_id)
        if not _opt_str(params, "action"):
            raise _bad("action is empty")
        return True

    async def _get_chat_member(self, params: JSON, chat_id: int | str | None) -> JSON:
        chat = self._destination(chat_id)
        user_id = _opt_int(params, "user_id")
        if user_id is None:
            raise _bad("user_id is empty")
        if user_id == self.bot.id:
            default = "administrator" if chat.type == "channel" else "member"
            status = self._bot_status.get(chat.id) or default
            return self._member(status)
        user = self._users.get(user_id)
        if user is None:
            raise _bad("user not found")
        if chat.type == "private":
            status, anonymous = ("member" if user_id == chat.id else "left"), False
        else:
            status, anonymous = self._members.get(chat.id, {}).get(user_id, ("left", False))
        return _chat_member(user.to_json(), status, anonymous=anonymous)

    async def _leave_chat(self, params: JSON, chat_id: int | str | None) -> bool:
        chat = self._destination(chat_id)
        self._bot_status[chat.id] = "left"
        return True

    async def _answer_callback_query(self, params: JSON, chat_id: int | str | None) -> bool:
        query_id = _opt_str(params, "callback_query_id") or ""
        if query_id not in self._open_callbacks:
            raise _bad(QUERY_TOO_OLD.removeprefix("Bad Request: "))
        text = _opt_str(params, "text")
        if text is not None and len(text) > CALLBACK_ANSWER_LIMIT:
            raise _bad("MESSAGE_TOO_LONG")
        self._open_callbacks.discard(query_id)
        self.callback_answers[query_id] = CallbackAnswer(
            query_id,
            text,
            bool(_opt_bool(params, "show_alert")),
            _opt_str(params, "url"),
            _opt_int(params, "cache_time"),
        )
        return True

    async def _answer_inline_query(self, params: JSON, chat_id: int | str | None) -> bool:
        query_id = _opt_str(params, "inline_query_id") or ""
        if query_id not in self._open_inline:
            raise _bad(QUERY_TOO_OLD.removeprefix("Bad Request: "))
        results = _opt_json(params, "results")
        if results is None:
            results = []
        if not isinstance(results, list):
            raise _bad("can't parse inline query results JSON object")
        if len(results) > INLINE_RESULTS_LIMIT:
            raise _bad("RESULTS_TOO_MUCH")
        seen: set[str] = set()
        for result in results:
            _check_inline_result(result, seen)
        next_offset = _opt_str(params, "next_offset")
        if next_offset is not None and len(next_offset.encode()) > INLINE_OFFSET_LIMIT:
            raise _bad("NEXT_OFFSET_INVALID")
        button = _opt_json(params, "button")
        self._open_inline.discard(query_id)
        self.inline_answers[query_id] = InlineAnswer(
            query_id,
            tuple(results),
            next_offset,
            _opt_int(params, "cache_time"),
            bool(_opt_bool(params, "is_personal")),
            button if isinstance(button, dict) else None,
        )
        return True

    async def _set_my_commands(self, params: JSON, chat_id: int | str | None) -> bool:
        commands = _opt_json(params, "commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON array")
        if len(commands) > COMMANDS_LIMIT:
            raise _bad("too many commands")
        parsed: list[tuple[str, str]] = []
        for item in commands:
            if not isinstance(item, dict):
                raise _bad("can't parse BotCommand JSON object")
            command = str(item.get("command", "")).removeprefix("/")
            description = str(item.get("description", ""))
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= COMMAND_DESCRIPTION_LIMIT:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            parsed.append((command, description))
        key = (_scope_key(_opt_json(params, "scope")), _language(params))
        if parsed:
            self.command_sets[key] = tuple(parsed)
        else:
            self.command_sets.pop(key, None)
        return True

    async def _get_my_commands(self, params: JSON, chat_id: int | str | None) -> list[JSON]:
        key = (_scope_key(_opt_json(params, "scope")), _language(params))
        return [{"command": c, "description": d} for c, d in self.command_sets.get(key, ())]

    async def _delete_my_commands(self, params: JSON, chat_id: int | str | None) -> bool:
        self.command_sets.pop((_scope_key(_opt_json(params, "scope")), _language(params)), None)
        return True

    async def _set_my_description(self, params: JSON, chat_id: int | str | None) -> bool:
        return self._set_profile("setMyDescription", params, "description", DESCRIPTION_LIMIT)

    async def _set_my_short_description(self, params: JSON, chat_id: int | str | None) -> bool:
        return self._set_profile(
            "setMyShortDescription", params, "short_description", SHORT_DESCRIPTION_LIMIT
        )

    def _set_profile(self, method: str, params: JSON, name: str, limit: int) -> bool:
        value = _opt_str(params, name) or ""
        if len(value) > limit:
            raise _bad(f"{name} is too long")
        key = (method, _language(params))
        if value:
            self.profile[key] = value
        else:
            self.profile.pop(key, None)
        return True

    # -- helpers -------------------------------------------------------------------------------------

    def _destination(self, chat_id: int | str | None) -> Chat:
        """The chat a call addresses, refused as Telegram refuses unknown chats and chats without the bot."""
        if chat_id is None:
            raise _bad("chat_id is empty")
        chat = self._resolve(chat_id)
        if chat is None:
            raise _bad("chat not found")
        status = self._bot_status.get(chat.id)
        if status in ("kicked", "left"):
            if chat.type == "private":
                raise _ApiError(403, "Forbidden: bot was blocked by the user")
            if status == "kicked":
                raise _ApiError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
            raise _ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")
        return chat

    def _resolve(self, chat_id: int | str) -> Chat | None:
        """The chat an id or @username names; None when Telegram would not find it."""
        if isinstance(chat_id, str):
            return next((c for c in self._chats.values() if c.username and f"@{c.username}" == chat_id), None)
        if self.strict_chats and chat_id not in self._chats:
            return None
        return self.chat(chat_id)

    def _target(self, user: User, chat: Chat | int | None) -> Chat:
        if chat is None:
            if user.id not in self._chats:
                self._chats[user.id] = Chat(
                    user.id, "private", username=user.username, first_name=user.first_name
                )
            target = self._chats[user.id]
        else:
            target = self.chat(chat) if isinstance(chat, int) else chat
        self._acts(user, target)
        return target

    def _acts(self, user: User, chat: Chat) -> None:
        """`user` does something in `chat`: known from now on, and in a group its creator or a member."""
        self._users.setdefault(user.id, user)
        if chat.type not in ("group", "supergroup"):
            return
        members = self._members.setdefault(chat.id, {})
        if chat.id in self._creator_unset:
            self._creator_unset.discard(chat.id)
            members[user.id] = ("creator", False)
        elif members.get(user.id, ("left", False))[0] == "left":
            members[user.id] = ("member", False)

    def _user_message(self, user: User, chat: Chat, **content: Any) -> JSON:
        message_id = self._new_message_id(chat.id)
        self._user_messages.add((chat.id, message_id))
        return {
            "message_id": message_id,
            "from": user.to_json(),
            "chat": chat.to_json(),
            "date": int(time.time()),
            **content,
        }

    def _new_message_id(self, chat_id: int) -> int:
        number = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = number + 1
        return number

    def _member(self, status: str) -> JSON:
        """The bot itself as a ChatMember of `status`."""
        return _chat_member(self.bot.user().to_json(), status)


def _chat_member(user: JSON, status: str, *, anonymous: bool = False) -> JSON:
    """A ChatMember object of `status` for `user`, with the fields Telegram sends for that status."""
    member: JSON = {"status": status, "user": user}
    if status == "creator":
        member["is_anonymous"] = anonymous
    elif status == "administrator":
        member.update(_ADMIN_RIGHTS)
        member["is_anonymous"] = anonymous
    elif status == "restricted":
        member.update(_RESTRICTED)
    elif status == "kicked":
        member["until_date"] = 0
    return member


# -- reading requests -----------------------------------------------------------------------------------


async def _read_params(request: web.Request) -> JSON:
    """Query string, then the body: urlencoded or multipart form (files as UploadedFile) or a JSON object."""
    params: JSON = dict(request.query)
    if request.method != "POST" or not request.can_read_body:
        return params
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise _bad("can't parse JSON body") from None
        if not isinstance(body, dict):
            raise _bad("JSON body must be an object")
        params.update(body)
        return params
    form = await request.post()
    for key, value in form.items():
        if isinstance(value, web.FileField):
            data = value.file.read()
            params[key] = UploadedFile(key, value.filename, value.content_type, data)
        else:
            params[key] = value
    return params


def _chat_id(params: JSON) -> int | str | None:
    value = params.get("chat_id")
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text


def _opt_str(params: JSON, name: str) -> str | None:
    value = params.get(name)
    if value is None or isinstance(value, UploadedFile):
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _opt_int(params: JSON, name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        raise _bad(f"invalid {name} specified") from None


def _opt_bool(params: JSON, name: str) -> bool | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1")


def _opt_json(params: JSON, name: str) -> Any:
    """A nested field: a JSON string in form posts, an object already in JSON bodies."""
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise _bad(f"can't parse {name} JSON object") from None


def _language(params: JSON) -> str:
    code = _opt_str(params, "language_code") or ""
    if code and not re.fullmatch(r"[a-z]{2}", code):
        raise _bad("invalid language code specified")
    return code


def _scope_key(scope: Any) -> str:
    if scope is None:
        scope = {"type": "default"}
    if not isinstance(scope, dict) or "type" not in scope:
        raise _bad("can't parse BotCommandScope JSON object")
    return json.dumps(scope, sort_keys=True, separators=(",", ":"))


def _input_file(params: JSON, name: str) -> tuple[UploadedFile | None, str]:
    value = params.get(name)
    if isinstance(value, str) and value.startswith("attach://"):
        value = params.get(value.removeprefix("attach://"))
    if isinstance(value, UploadedFile):
        return value, f"F{abs(hash((value.filename, value.data))) % 10**16}"
    if isinstance(value, str) and value:
        return None, value
    raise _bad(f"there is no {name} in the request")


def _formatted(
    text: str | None,
    parse_mode: str | None,
    params: JSON,
    limit: int,
    empty: str,
    *,
    entities_key: str = "entities",
    too_long: str = "message is too long",
) -> tuple[str, list[JSON]]:
    """The text and entities Telegram would make of `text` under `parse_mode`, or the 400 it would answer."""
    if not text:
        raise _bad(empty)
    mode = (parse_mode or "").lower()
    if mode == "html":
        try:
            plain, entities = parse_telegram_html(text)
        except HtmlParseError as error:
            raise _bad(f"can't parse entities: {error}") from None
    elif mode in ("", "markdown", "markdownv2"):
        # Markdown modes are passed through unparsed: the project sends HTML.
        plain = text.strip()
        given = _opt_json(params, entities_key)
        entities = given if isinstance(given, list) and not mode else []
    else:
        raise _bad("unsupported parse_mode")
    if not plain:
        raise _bad(empty)
    if utf16_length(plain) > limit:
        raise _bad(too_long)
    return plain, entities


def _reply_markup(params: JSON) -> JSON | None:
    try:
        markup = _opt_json(params, "reply_markup")
    except _ApiError:
        raise _bad("can't parse reply keyboard markup JSON object") from None
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    keyboard = markup.get("inline_keyboard")
    if keyboard is not None:
        if not isinstance(keyboard, list) or not all(isinstance(row, list) for row in keyboard):
            raise _bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays')
        for row in keyboard:
            for button in row:
                _check_button(button)
    return markup


def _check_button(button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise _bad("can't parse inline keyboard button: Text must be a String")
    if not button["text"]:
        raise _bad("text buttons are unallowed in the inline keyboard")
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= CALLBACK_DATA_LIMIT:
            raise _bad("BUTTON_DATA_INVALID")
    actions = set(button) - {"text", "style", "icon_custom_emoji_id"}
    if not actions:
        raise _bad("text buttons are unallowed in the inline keyboard")


def _inline_markup(markup: JSON | None) -> JSON | None:
    """Only an inline keyboard is part of the sent message; reply keyboards live on the client."""
    if markup is None or "inline_keyboard" not in markup:
        return None
    return {"inline_keyboard": markup["inline_keyboard"]}


def _check_inline_result(result: Any, seen: set[str]) -> None:
    if not isinstance(result, dict) or "type" not in result:
        raise _bad("can't parse InlineQueryResult JSON object")
    result_id = str(result.get("id", ""))
    if not 1 <= len(result_id.encode()) <= 64:
        raise _bad("RESULT_ID_INVALID")
    if result_id in seen:
        raise _bad("RESULT_ID_DUPLICATE")
    seen.add(result_id)
    if "reply_markup" in result:
        _reply_markup({"reply_markup": result["reply_markup"]})
    content = result.get("input_message_content")
    if isinstance(content, dict):
        if "message_text" in content:
            mode = content.get("parse_mode")
            _formatted(content["message_text"], mode, content, MESSAGE_LIMIT, "message text is empty")
        elif "rich_message" in content:
            _check_rich(content["rich_message"])
    elif result.get("type") == "article":
        raise _bad("input_message_content is required for an article")
