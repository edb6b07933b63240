"""Archive search: short CJK terms, normalization, ranking, snippets, re-indexing, hostile queries, CLI."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.identity import series_key, title_key
from archive.model import Post, PostDate
from bench.bench_search import evaluate, fixture_database, index_search, load_posts, load_queries
from cli.main import main
from storage.db import Database, database, migrations
from storage.posts import PostStore
from storage.search import (
    MAX_QUERY_CHARS,
    SNIPPET_CHARS,
    QueryTooLongError,
    fts_expression,
    make_snippet,
    rebuild_index,
    search,
)
from storage.textnorm import index_text, normalize, query_terms, register_sqlite_functions, term_spans
from tests.support.store import reads, seed

NOW = datetime(2025, 12, 20, tzinfo=UTC)


def post(ident: int, title: str, day: str, excerpt: str = "") -> Post:
    """A post as a parser would produce it."""
    return Post(id=ident, title=title, date=PostDate.from_iso(day), excerpt=excerpt)


POSTS = [
    post(
        10366,
        "低秩近似之路（一）：伪逆",
        "2024-09-15",
        "伪逆是低秩近似的起点，$A^{\\dagger} = (A^{\\top}A)^{-1}A^{\\top}$ 在列满秩时成立。",
    ),
    post(10427, "低秩近似之路（三）：CR", "2024-10-11", "用行列采样近似矩阵乘法。"),
    post(10407, "低秩近似之路（二）：SVD", "2024-10-01", "奇异值分解给出最优的近似。"),
    post(10347, "Decoder-only的LLM为什么需要位置编码？", "2024-09-01", "NoPE也能工作，但主流模型仍加RoPE。"),
    post(9590, "梯度视角下的LoRA：简介、分析、猜测及推广", "2023-04-17", "LoRA把增量写成两个矩阵之积。"),
    post(4304, "秩与行列式", "2017-04-03", "矩阵的秩等于非零奇异值的个数。"),
    post(10040, "对比学习可以使用梯度累积吗？", "2024-04-09", "损失依赖整个batch。"),
    post(5001, "随机过程笔记", "2018-01-01", "这里顺便提到了梯度的概念。"),
    post(5002, "再谈随机过程", "2019-01-01", "这里顺便提到了梯度的概念。"),
]


async def seeded(db: Database, posts: list[Post] | None = None) -> PostStore:
    """The store with `POSTS` stored as a backfill stores them (the triggers index them)."""
    await seed(db, POSTS if posts is None else posts, now=NOW)
    return reads(db).posts


async def ids(db: Database, query: str, limit: int = 10) -> list[int | None]:
    """Archive ids of the hits, best first."""
    return [hit.post.id for hit in await search(db, query, limit=limit)]


async def test_one_and_two_character_cjk_terms_match(db: Database) -> None:
    await seeded(db)
    # Not trigram (never under 3 chars) and not LIKE over trigram: the design indexes CJK as bigrams.
    async with db.conn.execute("SELECT sql FROM sqlite_master WHERE name = 'search_fts'") as cursor:
        row = await cursor.fetchone()
    assert row is not None and "trigram" not in row[0]
    assert set(await ids(db, "秩")) == {10366, 10427, 10407, 4304}  # 秩 at the end of 低秩 and at a start
    assert set(await ids(db, "低秩")) == {10366, 10427, 10407}
    assert set(await ids(db, "伪逆")) == {10366}
    assert set(await ids(db, "逆")) == {10366}
    assert set(await ids(db, "梯度")) == {9590, 10040, 5001, 5002}
    assert set(await ids(db, "秩近似")) == {10366, 10427, 10407}  # inside 低秩近似
    assert await ids(db, "近秩") == []  # the characters are there, never in this order


def test_tokenizer_writes_overlapping_bigrams_and_splits_words() -> None:
    assert index_text("低秩近似") == "低秩 秩近 近似 似"
    assert index_text("Decoder-only的LLM") == "decoder only 的 llm"
    assert index_text("ＧＰＴ３") == index_text("gpt-3") == "gpt 3"
    assert query_terms("Decoder-only") == query_terms("decoder only") == query_terms("decoder_only")


@settings(max_examples=300)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=80))
def test_every_term_of_a_text_is_marked_where_it_stands(raw: str) -> None:
    text = unicodedata.normalize("NFC", raw)
    # Marks fold a character at a time; where composition across characters changes the text (half-width
    # kana and their voicing marks), the index and the marks may legitimately differ.
    if "".join(normalize(char) for char in text) != normalize(text):
        return
    terms = query_terms(text)
    spans = term_spans(text, terms)
    assert all(0 <= start < end <= len(text) for start, end in spans)
    # A mark covers whole characters of the text: `¼` is marked whole for the term `1` (it folds to `1⁄4`).
    marked = [normalize(text[start:end]) for start, end in spans]
    for term in terms:
        assert any("".join(term) in folded for folded in marked), (term, marked)


def test_marks_find_overlapping_terms_and_whole_words_only() -> None:
    assert term_spans("低秩近似", [("低", "秩"), ("秩", "近")]) == [(0, 2), (1, 3)]
    assert term_spans("LoRA和LoRA2与GLoRA", [("lora",)]) == [(0, 4), (5, 9)]
    assert term_spans("gpt3 gpt-35 ３", [("3",)]) == [(3, 4), (12, 13)]
    assert term_spans("ＬｏＲＡ", [("lora",)]) == [(0, 4)]
    assert term_spans("Straße", [("strasse",)]) == [(0, 6)]


async def test_both_sides_are_normalized(db: Database) -> None:
    await seeded(db)
    assert await ids(db, "ＬｏＲＡ") == await ids(db, "lora") == await ids(db, "LoRA") == [9590]
    expected = await ids(db, "Decoder-only")
    assert expected == [10347]
    assert (
        await ids(db, "decoder only")
        == await ids(db, "decoder_only")
        == await ids(db, "DECODER—ONLY")
        == expected
    )
    assert await ids(db, "低秩近似之路(三):CR") == await ids(db, "低秩近似之路（三）：ＣＲ")


async def test_title_matches_rank_above_excerpt_matches_and_ties_go_newest_first(db: Database) -> None:
    await seeded(db)
    found = await ids(db, "梯度")
    assert set(found[:2]) == {9590, 10040}  # in the title
    assert found[2:] == [5002, 5001]  # same excerpt text: the newer first
    hits = await search(db, "梯度")
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


async def test_posts_holding_all_words_come_first(db: Database) -> None:
    await seeded(db)
    found = await ids(db, "梯度 LoRA")
    assert found[0] == 9590
    assert set(found) == {9590, 10040, 5001, 5002}  # the others hold one of the two words


async def test_a_series_name_lists_its_parts_in_part_order(db: Database) -> None:
    await seeded(db)
    assert (await ids(db, "低秩近似之路"))[:3] == [10366, 10407, 10427]
    assert (await ids(db, "低秩近似"))[:3] == [10366, 10407, 10427]


async def test_a_series_named_in_quotes_is_named_by_its_words(db: Database) -> None:
    await seeded(
        db,
        [
            post(9984, "“闭门造车”之多模态思路浅谈（一）：无损输入", "2024-02-21", "多模态的输入。"),
            post(10001, "“闭门造车”之多模态思路浅谈（二）：自回归", "2024-03-20", "再谈生成。"),
            post(11000, "闭门造车的一点随想", "2025-01-01", "闭门造车，出门合辙。"),
            post(11001, "多模态杂谈", "2025-02-01", "闭门造车也有好处。"),
        ],
    )
    for typed in ("闭门造车", "“闭门造车”", "「闭门造车」", "《闭门造车》", '"闭门造车"之多模态思路浅谈'):
        assert (await ids(db, typed))[:2] == [9984, 10001], typed
    # Naming the series is what lists it first: a word of the name alone does not.
    assert (await ids(db, "多模态"))[:2] != [9984, 10001]


async def test_snippet_marks_and_formulas(db: Database) -> None:
    await seeded(db)
    (hit,) = await search(db, "列满秩")
    start, end = hit.marks[0]
    assert hit.snippet[start:end] == "列满秩"
    assert hit.snippet.count("$") % 2 == 0
    title_only = (await search(db, "CR"))[0]
    assert title_only.snippet[title_only.marks[0][0] : title_only.marks[0][1]] == "CR"
    assert title_only.to_json("kexue.fm")["url"] == "https://kexue.fm/archives/10427"


def test_snippet_reads_formulas_rendered_and_keeps_its_length() -> None:
    formula = "$\\sum_{i=1}^{n} x_i^2 = \\|x\\|_2^2$"
    for lead in range(0, 80, 7):
        for body in (
            "前" * lead + "范数" + "中" * 10 + formula + "后" * 60,
            "前" * 30 + formula + "范数" + "后" * 60,
        ):
            snippet, marks = make_snippet("标题", body, [("范", "数")])
            assert "$" not in snippet and "\\" not in snippet, snippet
            assert len(snippet) <= SNIPPET_CHARS + 2 and [snippet[s:e] for s, e in marks] == ["范数"]
    snippet, _ = make_snippet("标题", "范数" + formula, [("范", "数")])
    assert snippet == "范数∑ᵢ₌₁ⁿ xᵢ² = ‖x‖₂²"
    snippet, marks = make_snippet("t", "a " * 50 + "LoRA" + " b" * 50, [("lora",)])
    assert 55 <= len(snippet) <= 70 and snippet[marks[0][0] : marks[0][1]] == "LoRA"


MATH_POSTS = [
    post(
        20001,
        "注意力的秩",
        "2025-03-01",
        r"缩放前先算 $\boldsymbol{Q}\boldsymbol{K}^{\top}$，它的秩满足 $\text{rank}(\boldsymbol{W})\le r$："
        r"\begin{equation}\mathbb{E}[x] = \frac{1}{n}\sum_{i=1}^n x_i\label{eq:mean}\end{equation}"
        r"这就是均值。$$\left(\begin{array}{cc}\cos\theta & -\sin\theta\end{array}\right)$$是旋转。",
    ),
    post(20002, "Low-rank adaptation notes", "2025-02-01", "A low rank update: the plain words."),
    post(
        20003,
        r"$\mathcal{O}(n)$ 的注意力",
        "2025-01-01",
        r"正文之外的标记：\begin{itemize}\item 第一点\end{itemize}，\textbf{加粗}与\cite{vaswani}，"
        r"以及没有闭合的 $\operatorname{softmax}(\boldsymbol{x}",
    ),
]
# What the blog's markup is written with, never what a reader reads.
COMMAND_WORDS = [
    "boldsymbol",
    "equation",
    "begin",
    "end",
    "frac",
    "mathbb",
    "mathcal",
    "label",
    "eq",
    "mean",
    "top",
    "le",
    "left",
    "right",
    "array",
    "cc",
    "sum",
    "theta",
    "text",
    "operatorname",
    "itemize",
    "item",
    "textbf",
    "cite",
    "vaswani",
]


@pytest.mark.parametrize("word", COMMAND_WORDS)
async def test_latex_command_names_are_not_search_words(db: Database, word: str) -> None:
    await seeded(db, MATH_POSTS)
    assert await ids(db, word) == []
    assert await in_titles(db, word) == set()


async def test_search_finds_what_a_reader_reads_in_the_math(db: Database) -> None:
    await seeded(db, MATH_POSTS)
    assert await ids(db, "QKᵀ") == await ids(db, "qkt") == [20001]  # `$\boldsymbol{Q}\boldsymbol{K}^{\top}$`
    assert await ids(db, "rank") == [20002, 20001]  # `\text{…}` is read; the plain words rank above it
    assert await ids(db, "low rank") == [20002, 20001]
    assert await ids(db, "sin") == [20001] and await ids(db, "softmax") == [20003]
    assert await ids(db, "加粗") == [20003] and await ids(db, "第一点") == [20003]
    assert await in_titles(db, "O 注意力") == {20003}  # `$\mathcal{O}(n)$` in a title reads `𝒪(n)`


async def test_snippets_show_the_readable_text_at_the_promised_length(db: Database) -> None:
    await seeded(db, MATH_POSTS)
    for query, expected in [("秩", "QKᵀ"), ("均值", "𝔼[x] = 1/n ∑ᵢ₌₁ⁿ xᵢ"), ("旋转", "cos θ, -sin θ")]:
        (hit,) = await search(db, query)
        assert "\\" not in hit.snippet and "$" not in hit.snippet, hit.snippet
        assert expected in hit.snippet, hit.snippet
        assert len(hit.snippet) <= SNIPPET_CHARS + 2, hit.snippet
        assert [hit.snippet[s:e] for s, e in hit.marks] == [query] * len(hit.marks) != []
    (hit,) = await search(db, "加粗")
    assert "textbf" not in hit.snippet and "itemize" not in hit.snippet and "加粗" in hit.snippet


LATEX_PIECES = [
    r"$\boldsymbol{Q}\boldsymbol{K}^{\top}$",
    r"$$\frac{1}{\sqrt{d}}\sum_{i=1}^{n} x_i$$",
    r"\begin{equation}\mathbb{E}[x]\label{eq:a}\end{equation}",
    r"\begin{align}a &= b \\ c &= d\end{align}",
    r"$\text{rank}(\boldsymbol{W})$",
    r"\textbf{粗}",
    r"$\left(",
    r"\\",
    "$",
    "秩",
    "低秩近似",
    "LoRA ",
    " ",
]


@settings(max_examples=200)
@given(
    st.lists(st.sampled_from(LATEX_PIECES) | st.text(max_size=5), max_size=40),
    st.sampled_from(["秩", "lora"]),
)
def test_a_snippet_holds_no_command_and_keeps_its_length(pieces: list[str], query: str) -> None:
    snippet, marks = make_snippet("标题", "".join(pieces), query_terms(query))
    assert re.search(r"\\[A-Za-z]", snippet) is None, snippet
    assert len(snippet) <= SNIPPET_CHARS + 2 + len(query), snippet
    assert all(0 <= s < e <= len(snippet) for s, e in marks)
    # Adjacent occurrences (`秩秩`) make one mark.
    assert all(normalize(snippet[s:e]).replace(query, "") == "" for s, e in marks), (snippet, marks)


async def in_titles(db: Database, query: str) -> set[int]:
    """Archive ids whose entry in the title index (`search_titles`) holds every term of `query`."""
    sql = (
        "SELECT p.archive_id FROM search_titles AS t JOIN posts AS p ON p.pk = t.rowid "
        "WHERE search_titles MATCH ?"
    )
    async with db.conn.execute(sql, (fts_expression(query_terms(query), " AND "),)) as cursor:
        return {int(row[0]) for row in await cursor.fetchall()}


async def test_updates_reindex_and_deletes_forget(db: Database) -> None:
    await seeded(db)
    assert await in_titles(db, "秩与") == {4304}
    # A longer rewritten excerpt replaces the old one in the index (a shorter one would not: see
    # tests/notifier/test_ingest.py, a poorer source never makes a post unfindable).
    rewritten = "换了个说法：这里讨论矩阵的阶数与行列式之间的关系。"
    await seed(db, [post(4304, "矩阵的阶数与行列式", "2017-04-03", rewritten)], now=NOW)
    assert 4304 in await ids(db, "阶数")
    assert 4304 not in await ids(db, "秩与")
    assert 4304 not in await ids(db, "非零奇异值")
    assert await in_titles(db, "秩与") == set() and await in_titles(db, "阶数 行列式") == {4304}
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM posts WHERE archive_id = 9590")
    assert await ids(db, "lora") == [] and await in_titles(db, "lora") == set()
    before = await ids(db, "秩")
    assert await rebuild_index(db) == len(POSTS) - 1
    assert await ids(db, "秩") == before and await ids(db, "阶数") == [4304]
    assert await in_titles(db, "阶数 行列式") == {4304} and await in_titles(db, "lora") == set()
    assert await in_titles(db, "低秩近似") == {10366, 10427, 10407}


async def test_a_failed_write_leaves_the_index_as_it_was(db: Database) -> None:
    await seeded(db)
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await conn.execute("UPDATE posts SET title = '全新的题目' WHERE archive_id = 4304")
            raise RuntimeError("abort")
    assert await ids(db, "全新") == [] and 4304 in await ids(db, "行列式")
    assert await reads(db).posts.count() == len(POSTS)


HOSTILE = [
    '"',
    '"unterminated',
    "*",
    "lora*",
    "NEAR(秩 梯度, 2)",
    "秩 OR 梯度",
    "AND",
    "NOT 秩",
    "-秩",
    "title:秩",
    "body : 梯度",
    "(((",
    ")",
    "\\",
    "\\$\\",
    "\x00\x01\x1b[31m",
    "😀🔥",
    "\u202e秩\u200f",
    "<script>alert(1)</script>",
    "^秩",
    "{title body}: x",
    "'; DROP TABLE posts; --",
    " ",
    "",
]


@pytest.mark.parametrize("query", HOSTILE)
async def test_hostile_queries_are_data(db: Database, query: str) -> None:
    await seeded(db)
    hits = await search(db, query)
    assert all(hit.score > 0 for hit in hits)
    assert (await reads(db).posts.count()) == len(POSTS)


def test_arbitrary_text_never_breaks_search(tmp_path: Path) -> None:
    with asyncio.Runner() as runner:
        db = runner.run(_open_seeded(tmp_path / "h.sqlite3"))
        try:

            @settings(max_examples=300)
            @given(st.text(max_size=MAX_QUERY_CHARS))
            def check(query: str) -> None:
                hits = runner.run(search(db, query, limit=5))
                for hit in hits:
                    assert all(0 <= s < e <= len(hit.snippet) for s, e in hit.marks)

            check()
        finally:
            runner.run(db.close())


async def _open_seeded(path: Path) -> Database:
    from storage.db import open_database

    db = await open_database(path)
    await seeded(db)
    return db


async def test_a_query_over_200_characters_is_refused(db: Database) -> None:
    await seeded(db)
    assert await search(db, "秩" * MAX_QUERY_CHARS) is not None
    with pytest.raises(QueryTooLongError, match="at most 200"):
        await search(db, "秩" * (MAX_QUERY_CHARS + 1))


async def test_paging(db: Database) -> None:
    await seeded(db)
    everything = await ids(db, "秩")
    assert await ids(db, "秩", limit=2) == everything[:2]
    assert [h.post.id for h in await search(db, "秩", limit=2, offset=2)] == everything[2:4]


async def test_quality_on_the_evaluation_set(tmp_path: Path) -> None:
    assert len(load_posts()) >= 300 and len(load_queries()) >= 40
    db = await fixture_database(tmp_path / "eval.sqlite3")
    try:
        mrr, recall = await evaluate(db, load_queries(), index_search)
    finally:
        await db.close()
    assert mrr >= 0.9, f"MRR@10 {mrr:.3f}"
    assert recall >= 0.8, f"recall@5 {recall:.3f}"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean working directory and the path of a seeded store."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LINK_HOST", "spaces.ac.cn")
    path = tmp_path / "k.sqlite3"

    async def seed() -> None:
        async with database(path) as db:
            await seeded(db)

    asyncio.run(seed())
    return path


def test_cli_json(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "低秩近似之路", "-n", "2", "--json", "--db", str(env)]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert [h["id"] for h in hits] == [10366, 10407]
    first = hits[0]
    assert set(first) == {
        "id",
        "url",
        "title",
        "date",
        "readers",
        "excerpt",
        "series",
        "snippet",
        "marks",
        "score",
    }
    assert first["url"] == "https://spaces.ac.cn/archives/10366"
    assert first["series"] == {"name": "低秩近似之路", "part": 1}
    assert [first["snippet"][s:e] for s, e in first["marks"]] == ["低秩近似"]
    assert first["score"] > hits[1]["score"]
    assert main(["search", "低秩近似之路", "-n", "2", "--offset", "2", "--json", "--db", str(env)]) == 0
    assert [h["id"] for h in json.loads(capsys.readouterr().out)] == [10427]


def test_cli_text_and_mistakes(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "LoRA", "--db", str(env)]) == 0
    out = capsys.readouterr().out
    assert "梯度视角下的LoRA" in out and "【LoRA】" in out
    assert main(["search", 'NEAR("', "--db", str(env)]) == 0


def test_cli_query_is_data_even_when_it_looks_like_an_option(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", "-秩", "--json", "--db", str(env)]) == 0
    dashed = [h["id"] for h in json.loads(capsys.readouterr().out)]
    assert main(["search", "秩", "--json", "--db", str(env)]) == 0
    assert dashed == [h["id"] for h in json.loads(capsys.readouterr().out)] != []
    assert main(["search", "--db", str(env), "--json", "-n", "1", "--lora"]) == 0
    assert [h["id"] for h in json.loads(capsys.readouterr().out)] == [9590]
    # Words given apart are one query, as typed.
    assert main(["search", "梯度", "LoRA", "--json", "--db", str(env)]) == 0
    assert json.loads(capsys.readouterr().out)[0]["id"] == 9590
    with pytest.raises(SystemExit) as exited:
        main(["search", "--json", "--db", str(env)])
    assert exited.value.code == 2 and "required: QUERY" in capsys.readouterr().err
    # A pasted paragraph is searched by its first 200 characters, not refused.
    assert main(["search", "x" * 201, "--db", str(env)]) == 0
    assert "Traceback" not in capsys.readouterr().err


def store_at_version(path: Path, version: int, posts: list[Post]) -> None:
    """A store as an older release left it: the migrations up to `version`, `posts` written through them."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        register_sqlite_functions(conn)
        for number, sql in migrations():
            if number <= version:
                conn.executescript(sql)
        conn.execute(f"PRAGMA user_version = {version:d}")
        for item in posts:
            series = item.series
            conn.execute(
                "INSERT INTO posts (archive_id, title, title_key, year, month, day, excerpt, series_name,"
                " series_key, series_part, first_seen_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '2025-01-01', '2025-01-01')",
                (
                    item.id,
                    item.title,
                    title_key(item.title),
                    item.date.year,
                    item.date.month,
                    item.date.day,
                    item.excerpt,
                    series.name if series else None,
                    series_key(series.name) if series else None,
                    series.part if series else None,
                ),
            )
    finally:
        conn.close()


async def test_a_store_from_before_the_title_index_gains_it_on_opening(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    store_at_version(path, 2, POSTS)
    async with database(path) as db:
        assert await db.schema_version() >= 3
        assert await in_titles(db, "低秩近似") == {10366, 10427, 10407}
        assert (await ids(db, "梯度 LoRA"))[0] == 9590


async def test_a_store_indexed_with_command_names_is_reindexed_readable_on_opening(tmp_path: Path) -> None:
    path = tmp_path / "v3.sqlite3"
    store_at_version(path, 3, POSTS + MATH_POSTS)
    # The old index holds the markup: the upgrade on opening is what changes the answers.
    old = sqlite3.connect(path)
    matched = "SELECT count(*) FROM search_fts WHERE search_fts MATCH 'boldsymbol'"
    assert old.execute(matched).fetchone() == (2,)
    old.close()
    async with database(path) as db:
        for word in ("boldsymbol", "equation", "itemize", "mathcal"):
            assert await ids(db, word) == [] and await in_titles(db, word) == set()
        assert await ids(db, "QKᵀ") == [20001] and await ids(db, "rank") == [20002, 20001]
        assert await in_titles(db, "O 注意力") == {20003}
        (hit,) = await search(db, "均值")
        assert "𝔼[x]" in hit.snippet and "\\" not in hit.snippet
        assert (await ids(db, "低秩近似"))[:3] == [10366, 10407, 10427]
        # The triggers of the new schema keep the index in step from here on.
        # (Longer than the old excerpt: a shorter one would leave the old words searchable, by design.)
        rewrite = r"改写为 $\mathbf{V}$ 的新摘要，" + "这一段改写比原来的摘要更长。" * 20
        await seed(db, [post(20001, "注意力的秩", "2025-03-01", rewrite)], now=NOW)
        assert await ids(db, "QKᵀ") == [] and await ids(db, "新摘要") == [20001]
        assert await ids(db, "mathbf") == []
        async with db.transaction() as conn:
            await conn.execute("DELETE FROM posts WHERE archive_id = 20003")
        assert await ids(db, "softmax") == [] and await in_titles(db, "注意力") == {20001}
        assert await rebuild_index(db) == len(POSTS) + 2
        assert await ids(db, "新摘要") == [20001] and await ids(db, "rank") == [20002]


async def test_a_formula_is_found_as_a_reader_types_it(db: Database) -> None:
    await seeded(db, MATH_POSTS)
    # `$\boldsymbol{Q}\boldsymbol{K}^{\top}$` reads `QKᵀ`: every way of typing it finds that post first.
    for typed in ("QK^T", "QK^\\top", "QK^{\\top}", "QKᵀ", "QKT", "QK", "qk"):
        found = await ids(db, typed)
        assert found and found[0] == 20001, (typed, found)
    # A stray letter of a formula is not what the reader asked for: `QK^T` is one term, not `qk` and `t`.
    assert len(await ids(db, "QK^T")) == 1
    # Underscores in words stay separators; a subscript is read as one.
    assert query_terms("decoder_only") == [("decoder",), ("only",)]


async def test_nonsense_finds_nothing_and_stray_bigrams_across_words_do_not_count(db: Database) -> None:
    await seeded(
        db,
        [
            post(30001, "现在的问题", "2024-01-01", "存在性定理的证明。"),
            post(30002, "不存在的极限", "2024-01-02", "一个数列的极限不存在。"),
            post(30003, "词向量", "2024-01-03", "词的分布式表示。"),
        ],
    )
    assert await ids(db, "不存在的词语向量空间") == []
    assert await ids(db, "量子引力的弦论") == []
    # A long query that holds most of a title in one piece still finds it.
    assert await ids(db, "不存在的极限值") == [30002]
