"""Watched words: a reader's saved searches, and the new posts they matched at fan-out time.

A store wraps one connection and never begins or commits a transaction: the caller owns it. A watch is
written in the query language of /search (storage/search.py): the words are cut into terms by the index's
own tokenizer, and a post matches a watch when its indexed text (`search_fts`: title and excerpt) holds every
term, a CJK term of any length as a whole (`梯度下降` never matches a post that only says `梯度`). The
match expression is built here from the tokens alone, so a watch is data, never FTS5 syntax.

Matching runs when new posts fan out, in the poll's transaction (`match_new`): each hit is a row of
`watch_hits` keyed by (reader, post), so a watch fires at most once per post, and only for posts announced
after it was saved.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from storage import StorageError
from storage.posts import iso
from storage.search import MAX_TERMS, fts_expression
from storage.textnorm import index_text, is_cjk, query_terms

log = logging.getLogger(__name__)

MAX_WATCHES = 10
MAX_WATCH_CHARS = 64


class WatchRefused(StorageError):
    """Words that cannot be a watch: empty, too long, or one watch too many; `reason` says which."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Watch:
    """One saved search of one reader."""

    id: int
    subscriber_id: int
    query: str
    terms: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class WatchAdded:
    """What `add` did: the watch, and whether it was new (False: the reader already had those words)."""

    watch: Watch
    created: bool


@dataclass(frozen=True, slots=True)
class Compiled:
    """Words made ready for the index: their normalized terms (the dedup) and the FTS5 expression."""

    query: str
    terms: str
    match: str
    token: str


def _token(terms: Sequence[tuple[str, ...]]) -> str:
    """An index token every matching post holds: the first token of the longest term (the rarest, likely)."""
    longest = max(terms, key=len)
    return longest[0] + longest[1] if len(longest) >= 2 and is_cjk(longest[0]) else longest[0]


def post_tokens(texts: Sequence[str]) -> list[str]:
    """Every token a post's text holds as the index writes it, and each CJK character alone (a one-character
    term matches as a prefix)."""
    found: set[str] = set()
    for text in texts:
        for token in index_text(text).split():
            found.add(token)
            if is_cjk(token[0]):
                found.add(token[0])
    return sorted(found)


def compile_words(words: str, *, max_chars: int = MAX_WATCH_CHARS) -> Compiled:
    """The normalized form of a watch's words; WatchRefused when they are empty or too long."""
    query = " ".join(words.split())
    if len(query) > max_chars:
        raise WatchRefused("too_long", f"watch too long: {len(query)} characters, at most {max_chars}")
    terms = query_terms(query)[:MAX_TERMS]
    if not terms:
        raise WatchRefused("empty", "a watch needs at least one word")
    joined = " ".join("".join(term) for term in terms)
    return Compiled(query, joined, fts_expression(terms, " AND "), _token(terms))


def _row(row: Sequence[Any]) -> Watch:
    return Watch(int(row[0]), int(row[1]), str(row[2]), str(row[3]), datetime.fromisoformat(str(row[4])))


_COLUMNS = "id, subscriber_id, query, terms, created_at"


class WatchStore:
    """The `watches` and `watch_hits` tables on one connection; the caller owns any transaction."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def of(self, subscriber_id: int) -> list[Watch]:
        """A reader's watches, oldest first."""
        sql = f"SELECT {_COLUMNS} FROM watches WHERE subscriber_id = ? ORDER BY id"
        async with self.conn.execute(sql, (subscriber_id,)) as c:
            return [_row(row) for row in await c.fetchall()]

    async def get(self, watch_id: int) -> Watch | None:
        """One watch by id."""
        async with self.conn.execute(f"SELECT {_COLUMNS} FROM watches WHERE id = ?", (watch_id,)) as c:
            row = await c.fetchone()
        return None if row is None else _row(row)

    async def add(
        self, subscriber_id: int, words: str, now: datetime, *, limit: int = MAX_WATCHES
    ) -> WatchAdded:
        """Save a watch; the same words again (as the index reads them) are the watch already saved.

        WatchRefused for empty or over-long words, or when the reader already has `limit` watches.
        """
        compiled = compile_words(words)
        async with self.conn.execute(
            f"SELECT {_COLUMNS} FROM watches WHERE subscriber_id = ? AND terms = ?",
            (subscriber_id, compiled.terms),
        ) as c:
            row = await c.fetchone()
        if row is not None:
            return WatchAdded(_row(row), created=False)
        if len(await self.of(subscriber_id)) >= limit:
            raise WatchRefused("too_many", f"at most {limit} watches per reader")
        async with self.conn.execute(
            "INSERT INTO watches (subscriber_id, query, terms, match, token, created_at) "
            f"VALUES (?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
            (subscriber_id, compiled.query, compiled.terms, compiled.match, compiled.token, iso(now)),
        ) as c:
            inserted = await c.fetchone()
        if inserted is None:
            raise StorageError("the watch was not written")
        return WatchAdded(_row(inserted), created=True)

    async def remove(self, subscriber_id: int, watch_id: int) -> Watch | None:
        """Remove one of this reader's watches; the watch removed, or None (not theirs, or gone already)."""
        sql = f"DELETE FROM watches WHERE id = ? AND subscriber_id = ? RETURNING {_COLUMNS}"
        async with self.conn.execute(sql, (watch_id, subscriber_id)) as c:
            row = await c.fetchone()
        return None if row is None else _row(row)

    async def match_new(self, pks: Sequence[int], now: datetime) -> int:
        """Record which reachable readers' watches each of these new posts matches; how many (reader, post).

        Per post, one statement: the watches whose token the post's indexed text holds are tried against
        its row of the index (`rowid = pk`), and the words of all the watches it matched for one reader are
        kept together, in the order saved. A post counts only once announced (in the outbox) no earlier
        than the watch was saved.
        """
        hits = 0
        for pk in pks:
            async with self.conn.execute(
                "SELECT title, excerpt, content FROM search_readable WHERE pk = ?", (pk,)
            ) as c:
                row = await c.fetchone()
            if row is None:
                continue
            tokens = post_tokens([str(part) for part in row])
            sql = """
                INSERT INTO watch_hits (subscriber_id, post_pk, words, created_at)
                SELECT h.subscriber_id, :pk, json_group_array(h.query), :now FROM (
                    SELECT w.subscriber_id, w.query FROM watches w
                    JOIN subscribers r ON r.id = w.subscriber_id
                    -- Only a post announced once the watch existed: a watch never fires for older posts.
                    JOIN outbox o ON o.post_pk = :pk AND o.queued_at >= w.created_at
                    WHERE w.token IN (SELECT value FROM json_each(:tokens))
                    AND r.active = 1 AND r.blocked_at IS NULL AND EXISTS (
                        SELECT 1 FROM search_fts WHERE search_fts MATCH w.match AND search_fts.rowid = :pk)
                    ORDER BY w.subscriber_id, w.id) AS h
                GROUP BY h.subscriber_id
                ON CONFLICT (subscriber_id, post_pk) DO NOTHING
            """
            args = {"pk": pk, "tokens": json.dumps(tokens, ensure_ascii=False), "now": iso(now)}
            await (await self.conn.execute(sql, args)).close()
            async with self.conn.execute("SELECT changes()") as c:
                changed = await c.fetchone()
            hits += 0 if changed is None else int(changed[0])
        if hits:
            log.info("watches: %d reader-post matches among %d new posts", hits, len(pks))
        return hits

    async def words_for(self, chat_id: int, post_pk: int) -> list[str]:
        """The watched words a post matched for the reader of this chat (empty when none did)."""
        sql = (
            "SELECT h.words FROM watch_hits h JOIN subscribers r ON r.id = h.subscriber_id "
            "WHERE r.chat_id = ? AND h.post_pk = ?"
        )
        async with self.conn.execute(sql, (chat_id, post_pk)) as c:
            row = await c.fetchone()
        return [] if row is None else [str(word) for word in json.loads(str(row[0]))]

    async def hits_among(self, subscriber_id: int, pks: Sequence[int]) -> Mapping[int, list[str]]:
        """Which of these posts matched the reader's watches, with the words."""
        if not pks:
            return {}
        sql = (
            "SELECT post_pk, words FROM watch_hits WHERE subscriber_id = ? "
            "AND post_pk IN (SELECT value FROM json_each(?))"
        )
        async with self.conn.execute(sql, (subscriber_id, json.dumps(list(pks)))) as c:
            return {int(pk): [str(w) for w in json.loads(str(words))] for pk, words in await c.fetchall()}

    async def readers_with_watches(self) -> int:
        """How many readers hold at least one watch (for /metrics)."""
        async with self.conn.execute("SELECT count(DISTINCT subscriber_id) FROM watches") as c:
            row = await c.fetchone()
        return 0 if row is None else int(row[0])


async def posts_matching(conn: aiosqlite.Connection, words: str, pks: Sequence[int]) -> set[int]:
    """Which of these posts match `words` in the watch query language (an email reader's filter)."""
    if not pks:
        return set()
    try:
        compiled = compile_words(words, max_chars=10_000)
    except WatchRefused:
        return set()
    sql = (
        "SELECT rowid FROM search_fts WHERE search_fts MATCH ? AND rowid IN (SELECT value FROM json_each(?))"
    )
    async with conn.execute(sql, (compiled.match, json.dumps(list(pks)))) as c:
        return {int(row[0]) for row in await c.fetchall()}
