"""Search text normalization: one tokenizer for the index, the query and the snippet marks.

Why not FTS5's own tokenizers: `unicode61` keeps a whole run of Chinese characters as one
token (so `梯度` never matches inside `梯度下降`), and `trigram` never matches a term under three
characters (on SQLite 3.40 a `LIKE` against a trigram table even returns nothing for them). So the
text is tokenized here, in Python, and the FTS5 table (`unicode61`, which then only splits on the
spaces written here) indexes the result:

- text is NFKC-normalized and casefolded, so `ＬｏＲＡ` = `LoRA` = `lora` and `（` = `(`;
- a run of letters outside the CJK blocks is one word; digits are words of their own (`gpt3` = `gpt-3`);
  everything else (hyphens, underscores, punctuation, emoji, marks) separates words, so
  `Decoder-only` = `decoder only` = `decoder_only`;
- a run of CJK characters `c1 c2 … cm` is written as the tokens `c1c2 c2c3 … c(m-1)cm cm`: token `i` starts
  with character `i`. A two-character term is then one exact token, a longer one the phrase of its
  overlapping bigrams, and a one-character term the prefix query `"c"*` (served by a one-character prefix
  index). Every CJK term of any length matches, with no dictionary to load at start-up.

What is tokenized is what a reader reads (`readable_text`, migration 0005): the blog's LaTeX rendered by
`archive.latex` (`$\\boldsymbol{Q}\\boldsymbol{K}^{\\top}$` is `QKᵀ`, indexed as `qkt`), and any command
left outside a formula dropped, so `boldsymbol`, `equation` or `textbf` are never search words while the
words of `\\text{rank}` are. The readable text is stored (`search_readable`) and the snippets are cut from it.

The functions are registered on every connection (`register_functions`) because the triggers that keep
the index in step with `posts` call them inside the writing transaction. The tokenizer must stay
deterministic: the contentless index deletes a row by re-tokenizing the stored readable text, so a change
to the tokenization needs a migration that rebuilds the index (`INSERT INTO search_fts(search_fts)
VALUES('delete-all')` then a fresh `INSERT … SELECT`). A change to the LaTeX rendering needs none to stay
consistent (the stored text is what is deleted); `rebuild_index` brings old rows to the new rendering.
"""

from __future__ import annotations

import functools
import hashlib
import re
import sqlite3
import unicodedata
from collections.abc import Callable, Sequence

import aiosqlite

from archive.latex import render_math, split_math

__all__ = [
    "CJK_CLASS",
    "address_hash",
    "formula_query",
    "index_text",
    "is_cjk",
    "normalize",
    "query_terms",
    "readable_text",
    "register_functions",
    "register_sqlite_functions",
    "term_spans",
]

# Han (with extensions and compatibility ideographs), kana, and Hangul syllables: scripts written without
# spaces between words, indexed as overlapping bigrams.
CJK_CLASS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\U00020000-\U0003ffff"
_UNIT = re.compile(rf"(?P<cjk>[{CJK_CLASS}]+)|(?P<word>[^\W\d_{CJK_CLASS}]+)|(?P<num>\d+)")
_CJK_CHAR = re.compile(rf"[{CJK_CLASS}]")
_WORD_CHAR = re.compile(rf"[^\W\d_{CJK_CLASS}]")
_DIGIT = re.compile(r"\d")


def normalize(text: str) -> str:
    """NFKC then casefold: the comparison form of any text, indexed or queried."""
    return unicodedata.normalize("NFKC", text).casefold()


class _FoldTable(dict[int, str]):
    """A `str.translate` table that folds one character at a time, each computed once."""

    def __missing__(self, code: int) -> str:
        folded = normalize(chr(code))
        if len(self) < _FOLD_TABLE_MAX:
            self[code] = folded
        return folded


# Bounds memory when stored text holds many distinct rare characters; the common ones are cached early.
_FOLD_TABLE_MAX = 65_536
_FOLD = _FoldTable()


def is_cjk(char: str) -> bool:
    """Whether a character belongs to a script indexed as bigrams."""
    return _CJK_CHAR.fullmatch(char) is not None


def _is_script(char: str) -> bool:
    """Whether a character is written raised or lowered (`ᵀ`, `²`, `ₙ`): NFKC folds it to a plain one."""
    return unicodedata.decomposition(char).startswith(("<super>", "<sub>"))


# Superscript and subscript characters, for `_bases`: tested once per character met.
_SCRIPTS = re.compile(
    "[" + "".join(re.escape(chr(c)) for c in range(0x80, 0x2100) if _is_script(chr(c))) + "]"
)


def _bases(text: str) -> list[str]:
    """The words of a formula less their raised and lowered parts: `QKᵀ` (indexed `qkt`) is also `qk`.

    A reader types a formula as `QK^T`, `QK^\\top`, `QKᵀ` or just `QK`; the first three fold to `qkt`, and
    this second token lets the last find it too."""
    if not _SCRIPTS.search(text):
        return []
    plain = {m.group() for m in _UNIT.finditer(normalize(text)) if m.group("cjk") is None}
    stripped = _SCRIPTS.sub(" ", text)
    return [
        word
        for m in _UNIT.finditer(normalize(stripped))
        if m.group("cjk") is None and (word := m.group()) not in plain
    ]


def index_text(text: str | None) -> str:
    """The space-separated tokens FTS5 indexes for a title or body (see the module docstring)."""
    if not text:
        return ""
    tokens: list[str] = []
    for match in _UNIT.finditer(normalize(str(text))):
        run = match.group("cjk")
        if run is None:
            tokens.append(match.group())
        else:
            tokens.extend(run[i : i + 2] for i in range(len(run)))
    # After every other token: a CJK phrase is a run of consecutive tokens, which these never split.
    tokens.extend(dict.fromkeys(_bases(str(text))))
    return " ".join(tokens)


@functools.lru_cache(maxsize=256)
def _terms_regex(terms: tuple[tuple[str, ...], ...]) -> re.Pattern[str]:
    # Literals only: a character class over the CJK blocks costs milliseconds to compile per query, so
    # whole-word checks happen after matching (`_is_whole`). The lookahead matches at every position, so
    # overlapping occurrences (低秩, 秩近 in 低秩近) all count; the longest term is tried first.
    literals = sorted({"".join(term) for term in terms}, key=len, reverse=True)
    return re.compile("(?=(" + "|".join(map(re.escape, literals)) + "))")


def _is_whole(flat: str, start: int, end: int) -> bool:
    """Whether a match is a unit of the tokenizer: any CJK run, else a whole word or a whole number."""
    if is_cjk(flat[start]):
        return True
    edge = _DIGIT if _DIGIT.match(flat, start) else _WORD_CHAR
    return not (start > 0 and edge.match(flat, start - 1)) and not (end < len(flat) and edge.match(flat, end))


def term_spans(text: str, terms: Sequence[tuple[str, ...]]) -> list[tuple[int, int]]:
    """`[start, end)` offsets into `text` of every occurrence of any query term, as the index matches them.

    The text is folded one character at a time (so offsets map back; `text` should be NFC already); a CJK
    term matches inside a run of CJK characters, a word or a number only as a whole word or number.
    """
    if not text or not terms:
        return []
    flat = text.translate(_FOLD)
    owner: Sequence[int]
    if len(flat) == len(text):
        # No character folds to nothing, so equal lengths mean one character each: offsets carry over.
        owner = range(len(text))
    else:
        owner = [index for index, char in enumerate(text) for _ in range(len(_FOLD[ord(char)]))]
    found: list[tuple[int, int]] = []
    # A word or number is a maximal run, so at most one term can be whole at a position: longest-first
    # matching then filtering loses nothing.
    for match in _terms_regex(tuple(terms)).finditer(flat):
        start, end = match.span(1)
        if _is_whole(flat, start, end):
            found.append((owner[start], owner[end - 1] + 1))
    return found


# A query that looks like LaTeX (`QK^T`, `QK^\\top`, `W_q`, `\\alpha`) is read as the formula it spells;
# `decoder_only` is no formula (an underscore before a whole word stays a separator).
_LATEX_LIKE = re.compile(r"[\\^]|_(?:\{|[A-Za-z0-9](?![A-Za-z0-9]))")


def formula_query(query: str) -> str:
    """A query as the index reads formulas: with LaTeX markup it is rendered first, as the posts' formulas
    are (`QK^\\top` reads `QKᵀ`, a search for `qkt`), so a formula is found however the reader types it."""
    return _formula(query, False) if _LATEX_LIKE.search(query) else query


def query_terms(query: str) -> list[tuple[str, ...]]:
    """The distinct terms of a query, in order: a word or number one unit, a CJK run a tuple of characters."""
    terms: list[tuple[str, ...]] = []
    for match in _UNIT.finditer(normalize(query)):
        run = match.group("cjk")
        term = tuple(run) if run is not None else (match.group(),)
        if term not in terms:
            terms.append(term)
    return terms


# ---- what a reader reads ---------------------------------------------------------------------------------

_SPACE = re.compile(r"\s+")
# A command left in running text (outside `$…$`, or in a formula too broken to parse): references and
# environment markers go with their argument, any other command name goes and its `{…}` argument stays,
# an escaped character (`\\%`, `\\{`) is that character, a line break `\\\\` a space.
_LEFTOVER = re.compile(
    r"\\(?:(?:begin|end|label|ref|eqref|cite|tag|input|include|url|color)\s*\{[^{}]*\}"
    r"|[A-Za-z]+\*?(?:\s*\{(?P<arg>[^{}]*)\})?"
    r"|(?P<char>[^A-Za-z]))?",
    re.S,
)
# A formula's rendering is memoized: the triggers render the same formulas again when a post is rewritten,
# and a backfill or rebuild meets the common ones (`$x$`, `$n$`) over and over.
_FORMULA_CACHE = 8192


def _leftover(match: re.Match[str]) -> str:
    char = match.group("char")
    if char is not None:
        return " " if char in "\\ \n\t" else char
    # Nothing in place of the name: `，\\textbf{加粗}与` reads `，加粗与`, one run of CJK as written.
    return match.group("arg") or ""


def _no_commands(text: str) -> str:
    return _LEFTOVER.sub(_leftover, text) if "\\" in text else text


@functools.lru_cache(maxsize=_FORMULA_CACHE)
def _formula(source: str, display: bool) -> str:
    return _no_commands(render_math(source, display=display))


def readable_text(text: str | None) -> str:
    """What a reader reads of a title or body: formulas rendered as Unicode, no command names, one line.

    `archive.latex` renders the math (`$\\text{rank}(\\boldsymbol{W})\\le r$` reads `rank(W)≤r`); a command
    outside a formula is dropped with its `{…}` argument kept (`\\textbf{加粗}` reads `加粗`), except
    references and environment markers, dropped whole. The result is NFC with whitespace runs folded
    to one space: snippets are cut from it as it stands.
    """
    if not text:
        return ""
    if "$" not in text and "\\" not in text:
        return _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()
    parts: list[str] = []
    for segment in split_math(text):
        if segment.kind == "text":
            parts.append(_no_commands(segment.source))
        elif segment.kind == "inline":
            # An unclosed formula (an excerpt cut inside one) is rendered as far as it goes.
            parts.append(_formula(segment.source, False))
        else:
            parts.append(" " + _formula(segment.source, True) + " ")
    return _SPACE.sub(" ", unicodedata.normalize("NFC", "".join(parts))).strip()


def _index_text_sql(value: object) -> str:
    """`search_index_text(x)` in SQL: never raises, NULL gives an empty string."""
    return index_text(None if value is None else str(value))


def address_hash(address: str) -> str:
    """Hex sha256 of an email address (or any sign-up key) stripped and casefolded: its lasting identity."""
    # Plain sha256, no key: the hash must stay comparable across SECRET_KEY rotations to keep honouring an
    # unsubscribe. It is a pseudonym, not anonymity: whoever holds an address can recompute it.
    return hashlib.sha256(address.strip().casefold().encode("utf-8")).hexdigest()


def _address_hash_sql(value: object) -> str | None:
    """`address_hash(x)` in SQL, for migrations that hash stored addresses; NULL gives NULL."""
    return None if value is None else address_hash(str(value))


def _readable_text_sql(value: object) -> str:
    """`search_readable_text(x)` in SQL: `readable_text`, NULL gives an empty string."""
    return readable_text(None if value is None else str(value))


_SQL_FUNCTIONS: tuple[tuple[str, Callable[[object], str | None]], ...] = (
    ("search_index_text", _index_text_sql),
    ("search_readable_text", _readable_text_sql),
    ("address_hash", _address_hash_sql),
)


async def register_functions(conn: aiosqlite.Connection) -> None:
    """Register the deterministic SQL functions the triggers and migrations call."""
    for name, function in _SQL_FUNCTIONS:
        await conn.create_function(name, 1, function, deterministic=True)


def register_sqlite_functions(conn: sqlite3.Connection) -> None:
    """`register_functions` for a plain `sqlite3` connection (bulk loads, tools, tests)."""
    for name, function in _SQL_FUNCTIONS:
        conn.create_function(name, 1, function, deterministic=True)
