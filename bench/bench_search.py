"""Search quality (MRR@10, recall@5 beside a substring baseline) and speed (p50/p99 beside a full scan).

Quality runs the evaluation set `tests/fixtures/search/queries.json` over the fixture archive
`tests/fixtures/search/posts.json`. Speed builds the real-size archive (1,330 posts) and a synthetic one 100
times larger, and times 1,000 queries per class (rare terms, common one- or two-character terms,
multi-word) through `storage.search.search`, beside an `instr()` full scan over the same rows.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from archive.model import Post, PostDate
from bench.timing import percentiles
from storage.db import Database, open_database
from storage.search import rebuild_index, search
from storage.textnorm import register_sqlite_functions
from tests.support.store import reads, seed

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "search"
REAL_SIZE = 1_330
LARGE_FACTOR = 100
QUERIES_PER_CLASS = 1_000

# ---- the evaluation set ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EvalQuery:
    """One evaluation query, its class, and the archive ids of the posts that answer it."""

    query: str
    kind: str
    relevant: frozenset[int]


def load_posts() -> list[Post]:
    """The fixture archive: posts as a parser would produce them (series detected from the title)."""
    rows = json.loads((FIXTURES / "posts.json").read_text(encoding="utf-8"))
    return [
        Post(
            id=int(row["id"]),
            title=str(row["title"]),
            date=PostDate.from_iso(str(row["date"])),
            readers=row.get("readers"),
            excerpt=str(row["excerpt"]),
        )
        for row in rows
    ]


def load_queries() -> list[EvalQuery]:
    """The evaluation set."""
    rows = json.loads((FIXTURES / "queries.json").read_text(encoding="utf-8"))
    return [
        EvalQuery(str(r["query"]), str(r["kind"]), frozenset(int(i) for i in r["relevant"])) for r in rows
    ]


SearchFn = Callable[[Database, str, int], Awaitable[list[int]]]


async def index_search(db: Database, query: str, limit: int) -> list[int]:
    """Archive ids of the indexed search's results."""
    return [hit.post.id or 0 for hit in await search(db, query, limit=limit)]


async def substring_search(db: Database, query: str, limit: int) -> list[int]:
    """The plain baseline: the query as a substring of title or excerpt, title matches first, newest first."""
    sql = (
        "SELECT archive_id FROM posts WHERE instr(lower(title), lower(?1)) > 0 "
        "OR instr(lower(excerpt), lower(?1)) > 0 "
        "ORDER BY instr(lower(title), lower(?1)) > 0 DESC, date DESC LIMIT ?2"
    )
    async with db.conn.execute(sql, (query, limit)) as cursor:
        return [int(row[0] or 0) for row in await cursor.fetchall()]


async def evaluate(db: Database, queries: Sequence[EvalQuery], fn: SearchFn) -> tuple[float, float]:
    """(MRR@10, recall@5) of a search function over the evaluation set."""
    reciprocal = recall = 0.0
    for item in queries:
        found = await fn(db, item.query, 10)
        rank = next((i for i, ident in enumerate(found, 1) if ident in item.relevant), None)
        reciprocal += 0.0 if rank is None else 1.0 / rank
        recall += len(set(found[:5]) & item.relevant) / min(5, len(item.relevant))
    return reciprocal / len(queries), recall / len(queries)


async def fixture_database(path: Path) -> Database:
    """A fresh store at `path` holding the fixture archive, written through `PostStore.upsert`."""
    db = await open_database(path)
    await seed(db, load_posts(), now=datetime(2026, 1, 1, tzinfo=UTC))
    return db


# ---- synthetic archives ---------------------------------------------------------------------------------

# Common vocabulary only: the evaluation set's distinctive terms (低秩, 秩, 熵, RoPE, LoRA, MoE, …)
# never occur.
ZH_WORDS = (
    "模型 矩阵 向量 概率 分布 优化 函数 积分 采样 损失 网络 数据 理论 方法 几何 "
    "随机过程 微分方程 特征值 卷积 泛化 收敛 正则化 归一化 初始化 生成模型 信息论 "
    "变分推断 蒙特卡洛 马尔可夫链 数值计算 引力 相对论 量子 拓扑 群论 复数 级数 拉普拉斯 "
    "能量 温度 学习率 数据集 文本分类 阅读理解 检索 排序 聚类 降维 压缩 投影 对偶 天文 "
    "行星 轨道 化学 分子 生物 进化 摄影 星空 算法 复杂度 动力学 稳定性 误差 近似 展开 "
    "极限 不等式 恒等式"
).split()
EN_WORDS = (
    "kernel embedding sampling gradient matrix tensor graph token batch regression classifier "
    "benchmark python keras pytorch gpu cuda numpy"
).split()
TITLE_TEMPLATES = (
    "{a}的{b}：{c}视角",
    "浅谈{a}与{b}",
    "{a}中的{b}问题",
    "从{a}到{b}",
    "关于{a}的一点思考",
    "{e}与{a}的{b}",
    "再谈{a}：{b}和{c}",
    "{a}的{e}实现",
)
SENTENCES = (
    "{a}和{b}之间的关系一直是{c}里的老问题。",
    "本文从{a}出发，讨论{b}的一个简单推导。",
    "我们用{e}做了实验，结果表明{a}对{b}的影响不大。",
    "设 $x_{{n}}$ 满足{a}的条件，则{b}成立。",
    "这里的{a}可以看成{b}的一种推广，也可以用{c}来理解。",
    "笔者在{e}中实现了{a}，代码附在文末。",
    "{a}的结果说明，{b}并不总是有效的。",
    "回顾{a}的历史，{b}和{c}都曾经被认为是关键。",
)
SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
RARE_CJK = "璇玑琥珀翡翠玳瑁琉璃珊瑚琳琅瑾瑜璀璨琮璋瑶琪瑛琰璞瑕瑙璜"


def rare_words(count: int, seed: int = 7) -> list[str]:
    """Words that occur in only a handful of posts: pseudo-words and uncommon two-character CJK pairs."""
    rng = random.Random(seed)
    words: set[str] = set()
    while len(words) < count:
        if rng.random() < 0.5:
            words.add("".join(rng.choice(SYLLABLES) for _ in range(3)))
        else:
            words.add(rng.choice(RARE_CJK) + rng.choice(RARE_CJK) + rng.choice("子石光影"))
    return sorted(words)


def synthetic_posts(count: int, *, seed: int = 1, first_id: int = 100_000) -> list[Post]:
    """`count` made-up posts over the common vocabulary, ids from `first_id`; one in three has a rare word."""
    rng = random.Random(seed)
    rare = rare_words(max(50, count // 10), seed)
    posts: list[Post] = []
    for n in range(count):

        def fill(template: str, n: int = n) -> str:
            a, b, c = rng.sample(ZH_WORDS, 3)
            return template.format(a=a, b=b, c=c, e=rng.choice(EN_WORDS), n=n % 7)

        title = fill(rng.choice(TITLE_TEMPLATES))
        sentences = [fill(rng.choice(SENTENCES)) for _ in range(rng.randint(3, 6))]
        if rng.random() < 1 / 3:
            sentences.insert(rng.randrange(len(sentences)), f"顺便提一下{rng.choice(rare)}的情形。")
        year = 2009 + n * 17 // max(1, count)
        date = PostDate(year, 1 + rng.randrange(12), 1 + rng.randrange(28))
        posts.append(
            Post(
                id=first_id + n,
                title=title,
                date=date,
                readers=rng.randrange(100, 90_000),
                excerpt="".join(sentences),
            )
        )
    return posts


# ---- speed ----------------------------------------------------------------------------------------------

INSERT_SQL = (
    "INSERT INTO posts (archive_id, title, title_key, year, month, day, readers, excerpt, "
    "first_seen_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '2026-01-01', '2026-01-01')"
)


def _bulk_insert(path: Path, posts: Sequence[Post]) -> float:
    """Insert posts straight into the table (the triggers index them); seconds taken."""
    conn = sqlite3.connect(path, isolation_level=None)
    register_sqlite_functions(conn)
    start = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(
        INSERT_SQL,
        (
            (p.id, p.title, p.title.casefold(), p.date.year, p.date.month, p.date.day, p.readers, p.excerpt)
            for p in posts
        ),
    )
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def _query_classes(posts: Sequence[Post], rng: random.Random) -> dict[str, list[str]]:
    """1,000 queries per class, drawn from words that really occur in these posts."""
    text = "".join(p.excerpt for p in posts[:5000])
    rare = [w for w in rare_words(max(50, len(posts) // 10), 1) if w in text] or ["璇玑子"]
    common = [w for w in ZH_WORDS if len(w) <= 2] + ["数", "模", "率", "核", "力"]
    multi_pool = ZH_WORDS + EN_WORDS
    return {
        "rare": [rng.choice(rare) for _ in range(QUERIES_PER_CLASS)],
        "common": [rng.choice(common) for _ in range(QUERIES_PER_CLASS)],
        "multi-word": [
            " ".join(rng.sample(multi_pool, rng.choice((2, 3)))) for _ in range(QUERIES_PER_CLASS)
        ],
    }


async def _time_queries(db: Database, queries: Sequence[str], fn: SearchFn) -> tuple[float, float]:
    samples: list[float] = []
    for query in queries:
        start = time.perf_counter()
        await fn(db, query, 10)
        samples.append(time.perf_counter() - start)
    return percentiles(samples)


async def _speed(label: str, posts: Sequence[Post], scan_queries: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite3"
        db = await open_database(path)
        await db.close()
        insert_s = _bulk_insert(path, posts)
        db = await open_database(path)
        try:
            start = time.perf_counter()
            await rebuild_index(db)
            rebuild_s = time.perf_counter() - start
            async with db.conn.execute("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'search_%'") as cursor:
                row = await cursor.fetchone()
            index_mb = (row[0] or 0) / 1e6 if row else 0.0
            async with db.conn.execute("SELECT sum(pgsize) FROM dbstat WHERE name = 'posts'") as cursor:
                row = await cursor.fetchone()
            table_mb = (row[0] or 0) / 1e6 if row else 0.0
            print(
                f"{label}: {len(posts):,} posts; insert with triggers {insert_s:.2f} s; "
                f"rebuild {rebuild_s:.2f} s; "
                f"index {index_mb:.1f} MB (posts table {table_mb:.1f} MB)",
                flush=True,
            )
            classes = _query_classes(posts, random.Random(5))
            for name, queries in classes.items():
                p50, p99 = await _time_queries(db, queries, index_search)
                s50, s99 = await _time_queries(db, queries[:scan_queries], substring_search)
                print(
                    f"  {name:<10} index p50 {p50 * 1e3:7.2f} ms p99 {p99 * 1e3:7.2f} ms | "
                    f"scan p50 {s50 * 1e3:7.2f} ms p99 {s99 * 1e3:7.2f} ms "
                    f"({min(scan_queries, len(queries))} q) | "
                    f"scan/index p50 {s50 / p50:6.1f}x p99 {s99 / p99:6.1f}x",
                    flush=True,
                )
        finally:
            await db.close()


async def _quality() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = await fixture_database(Path(tmp) / "eval.sqlite3")
        try:
            queries = load_queries()
            count = await reads(db).posts.count()
            mrr, recall = await evaluate(db, queries, index_search)
            base_mrr, base_recall = await evaluate(db, queries, substring_search)
            print(f"quality: {len(queries)} queries over {count} posts", flush=True)
            print(f"  index     MRR@10 {mrr:.3f}  recall@5 {recall:.3f}")
            print(f"  substring MRR@10 {base_mrr:.3f}  recall@5 {base_recall:.3f}", flush=True)
            kinds = sorted({q.kind for q in queries})
            for kind in kinds:
                subset = [q for q in queries if q.kind == kind]
                k_mrr, k_recall = await evaluate(db, subset, index_search)
                b_mrr, b_recall = await evaluate(db, subset, substring_search)
                print(
                    f"    {kind:<8} ({len(subset):2d}) index {k_mrr:.3f}/{k_recall:.3f}  "
                    f"substring {b_mrr:.3f}/{b_recall:.3f}"
                )
        finally:
            await db.close()


def main() -> None:
    """Print search quality, then speed at the real size and at 100 times it."""
    asyncio.run(_quality())
    asyncio.run(_speed("real size", synthetic_posts(REAL_SIZE), QUERIES_PER_CLASS))
    started = time.perf_counter()
    large = synthetic_posts(REAL_SIZE * LARGE_FACTOR, seed=2)
    print(f"(generated {len(large):,} synthetic posts in {time.perf_counter() - started:.1f} s)", flush=True)
    asyncio.run(_speed(f"{LARGE_FACTOR}x size", large, 100))


if __name__ == "__main__":
    main()
