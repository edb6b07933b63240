"""What the weekly mail to one address holds: everything, only some series and/or words, or nothing.

A store wraps one connection and never begins or commits a transaction: the caller owns it. An address
without a row gets everything (`all`). `words` holds watches in the /watch query language, one per line: a
post matches when it matches any of them (storage/watches.py says what one matches).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

import aiosqlite

from storage.posts import iso
from storage.watches import MAX_WATCHES, WatchRefused, compile_words, posts_matching

Scope = Literal["all", "only", "paused"]
SCOPES: tuple[Scope, ...] = get_args(Scope)


@dataclass(frozen=True, slots=True)
class EmailPreference:
    """One address's choice; `series_keys` and `words` matter only for `only`."""

    email_id: int
    scope: Scope
    series_keys: tuple[str, ...] = ()
    words: tuple[str, ...] = ()


def split_words(text: str) -> tuple[str, ...]:
    """A words field as watches: one per line (or comma), each checked like /watch; WatchRefused if not."""
    found: list[str] = []
    for part in text.replace("，", "\n").replace(",", "\n").splitlines():
        query = " ".join(part.split())
        if not query:
            continue
        compile_words(query)
        if query not in found:
            found.append(query)
    if len(found) > MAX_WATCHES:
        raise WatchRefused("too_many", f"at most {MAX_WATCHES} lines of words")
    return tuple(found)


def _scope(value: str) -> Scope:
    for scope in SCOPES:
        if scope == value:
            return scope
    return "all"


class PreferenceStore:
    """The `email_preferences` table on one connection."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def get(self, email_id: int) -> EmailPreference:
        """The address's choice (`all` when it never chose)."""
        sql = "SELECT scope, series_keys, words FROM email_preferences WHERE email_id = ?"
        async with self.conn.execute(sql, (email_id,)) as c:
            row = await c.fetchone()
        if row is None:
            return EmailPreference(email_id, "all")
        words = tuple(line for line in str(row[2]).splitlines() if line)
        return EmailPreference(email_id, _scope(str(row[0])), tuple(json.loads(str(row[1]))), words)

    async def put(self, preference: EmailPreference, now: datetime) -> None:
        """Store the address's choice, replacing the one before."""
        await self.conn.execute(
            "INSERT INTO email_preferences (email_id, scope, series_keys, words, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (email_id) DO UPDATE SET scope = excluded.scope, "
            "series_keys = excluded.series_keys, words = excluded.words, updated_at = excluded.updated_at",
            (
                preference.email_id,
                preference.scope,
                json.dumps(sorted(set(preference.series_keys)), ensure_ascii=False),
                "\n".join(preference.words),
                iso(now),
            ),
        )

    async def matching(self, words: Sequence[str], pks: Sequence[int]) -> set[int]:
        """Which of these posts match any of the lines of words."""
        found: set[int] = set()
        for query in words:
            found |= await posts_matching(self.conn, query, pks)
        return found
