"""Callback data: compact, versioned strings within Telegram's 64 bytes, parsed strictly, never trusted.

Every button's data is `<kind>:1:<fields>`; the `1` is the format version, so a button sent by an older
release that no longer parses gets a polite answer instead of a wrong action. A search's words never travel in
the data (a query can be 200 characters): they stay here, in a small bounded memory keyed by a short id.
"""

from __future__ import annotations

import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

from aiogram.filters import Filter
from aiogram.types import CallbackQuery

from storage.subscribers import MODES, Mode

VERSION = "1"
MAX_OFFSET = 10_000
MAX_PAGE = 1_000
CALLBACK_LIMIT = 64


@dataclass(frozen=True, slots=True)
class LatestMore:
    """The "more" button of /latest: the next `count` posts after `offset`."""

    offset: int
    count: int

    def pack(self) -> str:
        """The callback data."""
        return f"l:{VERSION}:{self.offset}:{self.count}"


@dataclass(frozen=True, slots=True)
class SearchPage:
    """A page of a remembered search."""

    query_id: str
    page: int

    def pack(self) -> str:
        """The callback data."""
        return f"s:{VERSION}:{self.query_id}:{self.page}"


@dataclass(frozen=True, slots=True)
class SeriesIndexPage:
    """A page of the /series index."""

    page: int

    def pack(self) -> str:
        """The callback data."""
        return f"i:{VERSION}:{self.page}"


@dataclass(frozen=True, slots=True)
class SeriesShow:
    """Show one series (by its deep-link number)."""

    series_id: int

    def pack(self) -> str:
        """The callback data."""
        return f"r:{VERSION}:{self.series_id}"


@dataclass(frozen=True, slots=True)
class SeriesFollow:
    """Follow one series (by its deep-link number)."""

    series_id: int

    def pack(self) -> str:
        """The callback data."""
        return f"f:{VERSION}:{self.series_id}"


@dataclass(frozen=True, slots=True)
class FollowAll:
    """Subscribe to every new post (the welcome's button)."""

    def pack(self) -> str:
        """The callback data."""
        return f"a:{VERSION}"


SettingKind = Literal["m", "h", "d", "l"]


@dataclass(frozen=True, slots=True)
class SettingChange:
    """A /settings button: mode (`m`), hour (`h`, +1/-1), weekday (`d`, +1/-1) or language (`l`)."""

    kind: SettingKind
    value: str

    def pack(self) -> str:
        """The callback data."""
        return f"c:{VERSION}:{self.kind}:{self.value}"

    @property
    def mode(self) -> Mode | None:
        """The chosen mode, for kind `m`."""
        for mode in MODES:
            if self.kind == "m" and self.value == mode:
                return mode
        return None


@dataclass(frozen=True, slots=True)
class ForgetAnswer:
    """The /forget confirmation: yes or no."""

    confirmed: bool

    def pack(self) -> str:
        """The callback data."""
        return f"x:{VERSION}:{'y' if self.confirmed else 'n'}"


Callback = (
    LatestMore
    | SearchPage
    | SeriesIndexPage
    | SeriesShow
    | SeriesFollow
    | FollowAll
    | SettingChange
    | ForgetAnswer
)

_NUMBER = r"(0|[1-9][0-9]{0,8})"
_PATTERNS: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(rf"l:1:{_NUMBER}:{_NUMBER}"), lambda m: LatestMore(int(m[1]), int(m[2]))),
    (re.compile(rf"s:1:([A-Za-z0-9_-]{{1,16}}):{_NUMBER}"), lambda m: SearchPage(m[1], int(m[2]))),
    (re.compile(rf"i:1:{_NUMBER}"), lambda m: SeriesIndexPage(int(m[1]))),
    (re.compile(rf"r:1:{_NUMBER}"), lambda m: SeriesShow(int(m[1]))),
    (re.compile(rf"f:1:{_NUMBER}"), lambda m: SeriesFollow(int(m[1]))),
    (re.compile(r"a:1"), lambda m: FollowAll()),
    (re.compile(r"c:1:m:(instant|daily|weekly)"), lambda m: SettingChange("m", m[1])),
    (re.compile(r"c:1:([hd]):(\+1|-1)"), lambda m: SettingChange(m[1], m[2])),
    (re.compile(r"c:1:l:(zh|en)"), lambda m: SettingChange("l", m[1])),
    (re.compile(r"x:1:([yn])"), lambda m: ForgetAnswer(m[1] == "y")),
]


def parse(data: str | None) -> Callback | None:
    """The button behind `data`, or None for data we never sent (or that is out of range)."""
    if not data or len(data.encode()) > CALLBACK_LIMIT:
        return None
    for pattern, build in _PATTERNS:
        found = pattern.fullmatch(data)
        if found is not None:
            parsed: Callback = build(found)
            if isinstance(parsed, LatestMore) and not (
                parsed.offset <= MAX_OFFSET and 1 <= parsed.count <= 20
            ):
                return None
            if isinstance(parsed, SearchPage | SeriesIndexPage) and parsed.page > MAX_PAGE:
                return None
            return parsed
    return None


class Button(Filter):
    """An aiogram filter matching callback data of one kind; the handler gets it as `cb`."""

    def __init__(self, kind: type[Callback]) -> None:
        self.kind = kind

    async def __call__(self, query: CallbackQuery) -> bool | dict[str, Any]:
        """The parsed data as `cb` when it is of this filter's kind."""
        parsed = parse(query.data)
        if isinstance(parsed, self.kind):
            return {"cb": parsed}
        return False


class SearchMemory:
    """The words of recent searches by short id, the oldest forgotten first (bounded)."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._queries: OrderedDict[str, str] = OrderedDict()
        self._ids: dict[str, str] = {}

    def remember(self, query: str) -> str:
        """A short id for `query` (the same id for the same words while it is remembered)."""
        known = self._ids.get(query)
        if known is not None and known in self._queries:
            self._queries.move_to_end(known)
            return known
        query_id = secrets.token_urlsafe(6)
        while query_id in self._queries:
            query_id = secrets.token_urlsafe(6)
        self._queries[query_id] = query
        self._ids[query] = query_id
        while len(self._queries) > self.capacity:
            old_id, old_query = self._queries.popitem(last=False)
            if self._ids.get(old_query) == old_id:
                del self._ids[old_query]
        return query_id

    def recall(self, query_id: str) -> str | None:
        """The words behind `query_id`, or None once forgotten (or never ours)."""
        query = self._queries.get(query_id)
        if query is not None:
            self._queries.move_to_end(query_id)
        return query
