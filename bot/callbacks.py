"""Callback data: compact, versioned aiogram CallbackData within Telegram's 64 bytes, validated, never
trusted.

A search's words never travel in the data (a query can be 200 characters): they stay here, in a small bounded
memory keyed by a short id.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from typing import Final, Literal

from aiogram.filters.callback_data import CallbackData
from pydantic import Field, model_validator

from storage.subscribers import MODES, Mode

VERSION: Final = "1"
MAX_OFFSET = 10_000
MAX_PAGE = 1_000

# Every button's data is `<prefix>:1:<fields>` (aiogram's CallbackData: pack, unpack, the 64-byte check and
# `.filter()`); the `1` is the format version, so a button of an older release that no longer unpacks falls
# through to the polite "this button has expired" answer instead of a wrong action.
Version = Literal["1"]


class LatestMore(CallbackData, prefix="l"):
    """The "more" button of /latest: the next `count` posts after `offset`."""

    v: Version = VERSION
    offset: int = Field(ge=0, le=MAX_OFFSET)
    count: int = Field(ge=1, le=20)


class SearchPage(CallbackData, prefix="s"):
    """A page of a remembered search (the words stay in SearchMemory, under `query_id`)."""

    v: Version = VERSION
    query_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,16}$")
    page: int = Field(ge=0, le=MAX_PAGE)


class SeriesIndexPage(CallbackData, prefix="i"):
    """A page of the /series index."""

    v: Version = VERSION
    page: int = Field(ge=0, le=MAX_PAGE)


class SeriesShow(CallbackData, prefix="r"):
    """Show one series (by its deep-link number)."""

    v: Version = VERSION
    series_id: int = Field(ge=0, le=999_999_999)


class SeriesFollow(CallbackData, prefix="f"):
    """Follow one series (by its deep-link number)."""

    v: Version = VERSION
    series_id: int = Field(ge=0, le=999_999_999)


class FollowAll(CallbackData, prefix="a"):
    """Subscribe to every new post (the welcome's button)."""

    v: Version = VERSION


SettingKind = Literal["m", "h", "d", "l"]
_SETTING_VALUES: dict[str, frozenset[str]] = {
    "m": frozenset(MODES),
    "h": frozenset({"+1", "-1", "+6", "-6"}),
    "d": frozenset({"+1", "-1"}),
    "l": frozenset({"zh", "en"}),
}


class SettingChange(CallbackData, prefix="c"):
    """A /settings button: mode (`m`), hour (`h`, +1/-1), weekday (`d`, +1/-1) or language (`l`)."""

    v: Version = VERSION
    kind: SettingKind
    value: str

    @model_validator(mode="after")
    def _known_value(self) -> SettingChange:
        if self.value not in _SETTING_VALUES[self.kind]:
            raise ValueError(f"no {self.kind} setting {self.value!r}")
        return self

    @property
    def mode(self) -> Mode | None:
        """The chosen mode, for kind `m`."""
        for mode in MODES:
            if self.kind == "m" and self.value == mode:
                return mode
        return None


class ForgetAnswer(CallbackData, prefix="x"):
    """The /forget confirmation: yes (`y`) or no (`n`)."""

    v: Version = VERSION
    answer: Literal["y", "n"]

    @property
    def confirmed(self) -> bool:
        """Whether the reader said yes."""
        return self.answer == "y"


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
