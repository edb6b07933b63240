"""Archive search: ranked FTS5 queries over `search_fts`, snippets with marks, and the index rebuild.

The index itself (table, triggers, tokenization) is described in `storage/textnorm.py` and migrations 0002
(the index), 0003 (titles alone) and 0005 (the readable text it is built from, and snippets cut from).
A query is data, never FTS5 syntax: it is cut into terms by the same tokenizer as the posts, and the match
expression is written here from those tokens alone (letters, digits and CJK characters, always quoted).

Ranking, best first:
1. a query that names a series (its name, its name less a short CJK ending such as `之路` or `系列`, or
   the phrase it opens with in quotes, `闭门造车` for `“闭门造车”之多模态思路浅谈`): its parts in part order;
2. posts holding more of the query's terms (all terms above some);
3. then more of the terms in the title (title matches above excerpt-only ones);
4. then bm25 (title weighted above body);
5. ties newest first.
A CJK term of three or more characters must match as a whole; when that leaves fewer hits than asked,
a relaxed pass over its overlapping bigrams appends more, below every strict hit.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from archive.identity import quoted_lead, series_lookup_key
from archive.model import Post
from storage.db import Database
from storage.posts import POST_COLUMNS, _row_to_post
from storage.textnorm import formula_query, is_cjk, query_terms, readable_text, term_spans

__all__ = [
    "MAX_QUERY_CHARS",
    "QueryTooLongError",
    "SearchHit",
    "fts_expression",
    "make_snippet",
    "readable_snippet",
    "rebuild_index",
    "search",
]

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 200
# A 200-character query can hold ~100 terms; beyond these the extra terms add cost and no signal.
MAX_TERMS = 12
MAX_LIMIT = 100
SNIPPET_CHARS = 60
SNIPPET_LEAD = 18
TITLE_WEIGHT = 4.0
BODY_WEIGHT = 1.0

Term = tuple[str, ...]


class QueryTooLongError(ValueError):
    """A query over `MAX_QUERY_CHARS` characters: refused, never truncated silently."""


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One result: the post, a plain-text snippet, the `[start, end)` marks inside it, and the score."""

    post: Post
    snippet: str
    marks: tuple[tuple[int, int], ...]
    score: float

    def to_json(self, link_host: str) -> dict[str, Any]:
        """The post object of the `--json` contract with `snippet`, `marks` and `score` added."""
        data = self.post.to_json(link_host)
        data["snippet"] = self.snippet
        data["marks"] = [list(mark) for mark in self.marks]
        data["score"] = self.score
        return data


def _phrase(term: Term) -> str:
    """The FTS5 string for one term: a word, a CJK bigram phrase, or a one-character CJK prefix."""
    if not is_cjk(term[0][0]):
        return '"' + term[0].replace('"', '""') + '"'
    if len(term) == 1:
        # Token i of a CJK run starts with character i: the prefix finds the character anywhere.
        return f'"{term[0]}"*'
    return '"' + " ".join(term[i] + term[i + 1] for i in range(len(term) - 1)) + '"'


def fts_expression(terms: Sequence[Term], joiner: str = " OR ") -> str:
    """An FTS5 MATCH expression matching any (or, with `joiner=" AND "`, all) of the terms."""
    return joiner.join(f"({_phrase(term)})" for term in terms)


def _relaxed(terms: Sequence[Term]) -> list[Term]:
    """Long CJK terms cut into their overlapping runs of two thirds of their length (at least two
    characters); other terms unchanged. A looser match must still hold most of a term in one piece: two
    stray bigrams across word boundaries (现【在的】 for `不存在的词`) are no match."""
    out: list[Term] = []
    for term in terms:
        size = max(2, -(-2 * len(term) // 3))
        pieces = [term[i : i + size] for i in range(len(term) - size + 1)] if len(term) >= 3 else [term]
        for piece in pieces:
            if piece not in out:
                out.append(piece)
    return out[:MAX_TERMS]


# One ranked pass: all terms in the title; all terms anywhere; the two at once, all-in-title rows first;
# any term.
_Pass = Literal["title-all", "all", "all-title-first", "any"]


@dataclass(frozen=True, slots=True)
class _Ranked:
    pk: int
    score: float


async def _ranked(
    db: Database,
    terms: Sequence[Term],
    limit: int,
    tier: int,
    kind: _Pass,
) -> list[_Ranked]:
    """The best `limit` posts of one pass (see `_Pass`): terms held, terms in title, bm25, newest.

    `search` runs the passes in order, a later one only when the earlier ones leave the page short, so a
    common word costs little when the query holds a rarer one.
    """
    k = len(terms)
    params: list[Any] = []
    member = "(s.pk IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ?))"
    # Title tests ask `search_titles` (migration 0003): its postings are titles only, where a column
    # filter on search_fts would still walk every body posting of the term.
    title_member = "(s.pk IN (SELECT rowid FROM search_titles WHERE search_titles MATCH ?))"
    source = (
        f"SELECT rowid AS pk, bm25(search_fts, {TITLE_WEIGHT}, {BODY_WEIGHT}) AS bm,"
        " bm25(search_fts, 1.0, 0.0) < 0 AS tfirst FROM search_fts WHERE search_fts MATCH ?"
    )
    if k == 1:
        coverage, title_coverage = "1", "s.tfirst"
    elif kind == "title-all":
        coverage, title_coverage = str(k), str(k)
        source = (
            "SELECT rowid AS pk, bm25(search_titles) AS bm, 1 AS tfirst"
            " FROM search_titles WHERE search_titles MATCH ?"
        )
    elif kind == "all-title-first":
        # Rowids only, no bm25: each bm25 statement pays a scan of every term's postings for its idf,
        # so one statement for both tiers costs about half of two.
        coverage, title_coverage = str(k), f"CASE WHEN {title_member} THEN {k} ELSE s.tfirst END"
        params.append(fts_expression(terms, " AND "))
    elif kind == "all":
        # The all-in-title pass came first: what is left has some or none of the terms in its title
        # (counting them exactly would cost a look-up per candidate; bm25 weights title terms anyway).
        coverage, title_coverage = str(k), "s.tfirst"
    elif k == 2:
        # The all-terms pass came first: a row left over holds one term, in its title or not.
        coverage, title_coverage = "1", "s.tfirst"
    else:
        # Many candidates: one materialized rowid set per term beats a look-up per candidate.
        coverage, title_coverage = " + ".join([member] * k), " + ".join([title_member] * k)
        params.extend(fts_expression([t]) for t in terms)
        params.extend(fts_expression([t]) for t in terms)
    # Rank inside the index first (no join per candidate), then break the remaining ties newest first
    # over a margin of extra rows: only identical scores tie, and never dozens of them at the border.
    sql = (
        "SELECT r.pk, r.cov, r.tcov, r.bm FROM ("
        f" SELECT s.pk, {coverage} AS cov, {title_coverage} AS tcov, s.bm FROM ({source}) AS s"
        " ORDER BY cov DESC, tcov DESC, s.bm LIMIT ? + 32"
        ") AS r JOIN posts AS p ON p.pk = r.pk "
        "ORDER BY r.cov DESC, r.tcov DESC, r.bm, p.date IS NULL, p.date DESC, p.pk DESC LIMIT ?"
    )
    params.extend([fts_expression(terms, " OR " if kind == "any" else " AND "), limit, limit])
    rows = await db.conn.execute_fetchall(sql, params)
    span = (k + 1) ** 2
    ranked: list[_Ranked] = []
    for pk, cov, tcov, bm in rows:
        relevance = -float(bm) / (1.0 - float(bm)) if bm < 0 else 0.0
        fraction = (int(cov) * (k + 1) + int(tcov) + relevance) / span
        ranked.append(_Ranked(int(pk), round(tier + fraction, 6)))
    return ranked


_NAME_ENDINGS = re.compile(r"[\u3400-\u9fff]{1,2}")


@functools.lru_cache(maxsize=4096)
def _compact(text: str) -> str:
    return "".join("".join(term) for term in query_terms(text))


@functools.lru_cache(maxsize=4096)
def _series_names(key: str) -> tuple[str, str | None]:
    """A stored series key's name and the phrase it opens with in quotes, both compacted."""
    lead = quoted_lead(key)
    return _compact(series_lookup_key(key)), None if lead is None else _compact(lead)


def _names_series(wanted: str, key: str) -> bool:
    """Whether a compacted query names the series of `key` (see `_named_series`)."""
    full, lead = _series_names(key)
    if wanted == lead:
        return True
    rest = full[len(wanted) :] if full.startswith(wanted) else None
    return rest is not None and (
        rest == "" or (len(wanted) >= 2 and _NAME_ENDINGS.fullmatch(rest) is not None)
    )


async def _named_series(db: Database, query: str) -> list[int]:
    """The posts of the series the query names, in part order (empty when it names none).

    The query and the stored names are folded alike (`series_lookup_key`: quotes and brackets at either
    end are ignored); a query names a series when it is the name, the name less a short CJK ending, or the
    phrase the name opens with in quotes (`闭门造车` names `“闭门造车”之多模态思路浅谈`).
    """
    wanted = _compact(series_lookup_key(query))
    if not wanted:
        return []
    # Reading the keys touches only the (series_key, series_part) index, never the posts outside a series.
    rows = await db.conn.execute_fetchall(
        "SELECT DISTINCT series_key FROM posts INDEXED BY posts_series WHERE series_key IS NOT NULL"
    )
    keys = [str(key) for (key,) in rows if _names_series(wanted, str(key))]
    if not keys:
        return []
    marks = ",".join("?" * len(keys))
    sql = (
        f"SELECT pk FROM posts WHERE series_key IN ({marks}) "
        "ORDER BY series_key, series_part, date IS NULL, date, archive_id"
    )
    return [int(row[0]) for row in await db.conn.execute_fetchall(sql, keys)]


def _passes(k: int) -> tuple[_Pass, ...]:
    """The passes for a query of `k` terms, in order."""
    if k == 1:
        return ("all",)
    if k == 2:
        # Two terms often share a title: that pass alone may fill the page at the cost of one statement.
        return ("title-all", "all", "any")
    # Titles are short: three terms rarely share one, so the all-in-title tier rides on the next pass.
    return ("all-title-first", "any")


async def search(db: Database, query: str, *, limit: int = 10, offset: int = 0) -> list[SearchHit]:
    """The posts matching `query`, best first, `limit` of them after skipping `offset`.

    Any text is a valid query (it may simply match nothing); only a query over `MAX_QUERY_CHARS`
    characters is refused, with `QueryTooLongError`.
    """
    if len(query) > MAX_QUERY_CHARS:
        raise QueryTooLongError(f"query too long: {len(query)} characters, at most {MAX_QUERY_CHARS}")
    limit = max(0, min(limit, MAX_LIMIT))
    offset = max(0, offset)
    terms = query_terms(formula_query(query))[:MAX_TERMS]
    if not terms or limit == 0:
        return []
    wanted = offset + limit
    order: list[_Ranked] = []
    seen: set[int] = set()

    def take(found: Sequence[_Ranked]) -> None:
        for item in found:
            if item.pk not in seen and len(order) < wanted:
                seen.add(item.pk)
                order.append(item)

    series = await _named_series(db, query)
    take([_Ranked(pk, round(3 + (len(series) - i) / (len(series) + 1), 6)) for i, pk in enumerate(series)])
    for kind in _passes(len(terms)):
        if len(order) < wanted:
            take(await _ranked(db, terms, wanted + len(seen), 2, kind))
    relaxed = _relaxed(terms)
    if len(order) < wanted and relaxed != list(terms):
        for relaxed_kind in ("all", "any"):
            if len(order) < wanted:
                take(await _ranked(db, relaxed, wanted + len(seen), 1, relaxed_kind))
    page = order[offset:wanted]
    snippet_terms = list(dict.fromkeys([*terms, *relaxed]))
    if not page:
        return []
    loaded = await _load(db, [item.pk for item in page])
    hits: list[SearchHit] = []
    for item in page:
        if item.pk not in loaded:
            continue
        post, text = loaded[item.pk]
        # Cut from the readable text stored at write time: nothing is rendered per query.
        snippet, marks = readable_snippet([text.excerpt, text.content, text.title], snippet_terms)
        hits.append(SearchHit(post, snippet, marks, item.score))
    log.debug("search %r: %d terms, %d hits", query, len(terms), len(hits))
    return hits


@dataclass(frozen=True, slots=True)
class _Readable:
    """A post's stored readable text (`search_readable`, migration 0005)."""

    title: str
    excerpt: str
    content: str


async def _load(db: Database, pks: Sequence[int]) -> dict[int, tuple[Post, _Readable]]:
    """The posts of a page with their stored readable text, in one statement."""
    marks = ",".join("?" * len(pks))
    readable = ", ".join(
        f"(SELECT r.{column} FROM search_readable AS r WHERE r.pk = posts.pk)"
        for column in ("title", "excerpt", "content")
    )
    rows = list(
        await db.conn.execute_fetchall(
            f"SELECT {POST_COLUMNS}, {readable} FROM posts WHERE pk IN ({marks})", list(pks)
        )
    )
    loaded: dict[int, tuple[Post, _Readable]] = {}
    width = len(rows[0]) - 3 if rows else 0
    for row in rows:
        stored = _row_to_post(row[:width])
        title, excerpt, content = row[width:]
        if title is None:
            # Only a row written around the triggers lacks its readable text: render it here.
            text = _Readable(readable_text(stored.post.title), readable_text(stored.post.excerpt), "")
        else:
            text = _Readable(str(title), str(excerpt), str(content))
        loaded[stored.pk] = (stored.post, text)
    return loaded


async def rebuild_index(db: Database) -> int:
    """Re-render every post's readable text and rebuild the search index from it in one transaction.

    Returns the number of posts. Run after the LaTeX rendering (`archive.latex`) changes, to bring rows
    stored before up to it.
    """
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO search_fts (search_fts) VALUES ('delete-all')")
        await conn.execute("INSERT INTO search_titles (search_titles) VALUES ('delete-all')")
        await conn.execute("DELETE FROM search_readable")
        cursor = await conn.execute(
            "INSERT INTO search_readable (pk, title, excerpt, content) SELECT pk,"
            " search_readable_text(title), search_readable_text(excerpt), search_readable_text(content)"
            " FROM posts"
        )
        count = cursor.rowcount
        await conn.execute(
            "INSERT INTO search_fts (rowid, title, body) SELECT pk, search_index_text(title), "
            "search_index_text(excerpt || ' ' || content) FROM search_readable"
        )
        await conn.execute("INSERT INTO search_fts (search_fts) VALUES ('optimize')")
        await conn.execute(
            "INSERT INTO search_titles (rowid, title)"
            " SELECT pk, search_index_text(title) FROM search_readable"
        )
        await conn.execute("INSERT INTO search_titles (search_titles) VALUES ('optimize')")
    # The rebuild went through the write-ahead log whole (as large as the index): hand the space back
    # rather than leave every later read to look through it until the next checkpoint.
    await db.conn.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)")
    log.info("search index rebuilt: %d posts", count)
    return count


# ---- snippets -------------------------------------------------------------------------------------------

# A snippet never starts or ends between a letter and the combining marks on it (`x̂`).
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def _merge(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _window(text: str, first: tuple[int, int] | None) -> tuple[int, int]:
    """`SNIPPET_CHARS` characters around the first match (more only when the match itself is longer)."""
    anchor_start, anchor_end = first if first is not None else (0, 0)
    start = max(0, anchor_start - SNIPPET_LEAD)
    end = min(len(text), start + SNIPPET_CHARS)
    start = max(0, min(start, end - SNIPPET_CHARS))
    end = max(end, anchor_end)
    while 0 < start < anchor_start and _COMBINING.match(text, start):
        start += 1
    while end > anchor_end and end < len(text) and _COMBINING.match(text, end):
        end -= 1
    return start, end


def readable_snippet(texts: Sequence[str], terms: Sequence[Term]) -> tuple[str, tuple[tuple[int, int], ...]]:
    """A snippet of readable text (see `make_snippet`): the first of `texts` that matches, else the first."""
    text, spans = next((t for t in texts if t), ""), []
    for candidate in texts:
        found = _merge(term_spans(candidate, terms)) if candidate else []
        if found:
            text, spans = candidate, found
            break
    start, end = _window(text, spans[0] if spans else None)
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    snippet = prefix + text[start:end] + suffix
    shift = len(prefix) - start
    marks = tuple((s + shift, e + shift) for s, e in spans if s >= start and e <= end)
    return snippet, marks


def make_snippet(title: str, body: str, terms: Sequence[Term]) -> tuple[str, tuple[tuple[int, int], ...]]:
    """A plain-text snippet of about 60 characters around the first match, and its marks.

    The text is what a reader reads (`readable_text`: formulas rendered, no command names), so a formula
    reads `QKᵀ`, never `\\boldsymbol`. The body is preferred; a post that matches only in its title gets
    its title. The snippet is `SNIPPET_CHARS` characters plus a `…` at a cut end, longer only when the
    match itself is.
    """
    return readable_snippet([readable_text(body), readable_text(title)], terms)
