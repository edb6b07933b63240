"""Rendering a week's digest for 10,000 recipients: shared parts once, then the per-recipient part.

Everything runs through the real code: a real SQLite store in a temporary directory, `DigestBuilder` for the
selection and `Renderer` for the templates. Shared: each post's message view (LaTeX rendered, excerpt cut),
the most-read list and the selection windows, and each block per language and format. Per recipient:
choosing the posts new to them and in the series they follow, then assembling (and, for Telegram,
splitting) the message from the shared blocks. The naive baseline, on a sample, gives every recipient a
fresh builder and renderer, so it re-renders the LaTeX, the excerpts and every template each time (the
translation catalogs, read once when a process starts, are the one thing its renderers share).
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from archive.identity import series_key
from archive.latex import latex_to_text, render_math
from archive.model import Post, PostDate, Series
from digest.i18n import Translations
from digest.model import LANGS, Digest, Lang
from digest.render import FORMATS, Format, Renderer
from digest.selection import DigestBuilder
from storage.db import Database, database
from storage.recipients import Recipient
from tests.support.store import seed

RECIPIENTS = 10_000
NAIVE_SAMPLE = 200
TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 3, 1, 9, 0, tzinfo=TZ)
LINK_HOST = "kexue.fm"

# Sources that once stalled the renderer (quadratic scans); timed beside ordinary LaTeX of equal length.
HOSTILE_LATEX = [
    r"\sqrt[" * 3000,
    r"\frac" * 3000 + "ab",
    r"\left(" * 3000,
    "x" + "^" * 5000,
    "{" * 20000,
    "}" * 20000,
    "\\" * 20001,
    "$" * 20001,
    r"\begin{pmatrix}" * 2000,
    "&" * 20000 + r"\\" * 5000,
    r"\frac{" * 400 + "a" + "}{b}" * 400,
    "\x00" * 1000 + r"\frac{\x00}{",
]

_EXCERPTS = [
    "本文讨论注意力的缩放：在计算$\\boldsymbol{Q}\\boldsymbol{K}^{\\top}$之后要除以$\\sqrt{d}$，否则"
    "$\\text{softmax}$会趋于one hot。我们从方差的角度给出推导：\n"
    "\\begin{equation}\\mathbb{E}[(\\boldsymbol{q}\\cdot\\boldsymbol{k})^2] = \\sum_{i=1}^d "
    "\\mathbb{E}[q_i^2]\\mathbb{E}[k_i^2] = d\\label{eq:var}\\end{equation}\n由此可见缩放因子的来源。"
    "后文再讨论初始化与标准化的关系，以及它们如何共同决定训练的稳定性。",
    "低秩近似的一般提法是$$\\mathop{\\text{argmin}}_{\\text{rank}(\\tilde{\\boldsymbol{M}})\\leq r}"
    "\\Vert \\tilde{\\boldsymbol{M}} - \\boldsymbol{M}\\Vert_F^2$$本文介绍CR近似，它从矩阵中采样若干列与行。"
    "我们将证明其期望误差的上界，并讨论最优的采样分布。",
    "正态分布$\\mathcal{N}(\\boldsymbol{\\mu},\\boldsymbol{\\Sigma})$的KL散度有解析解："
    "$$KL = \\frac{1}{2}\\left(\\text{tr}(\\boldsymbol{\\Sigma}_2^{-1}\\boldsymbol{\\Sigma}_1) + "
    "(\\boldsymbol{\\mu}_2-\\boldsymbol{\\mu}_1)^{\\top}\\boldsymbol{\\Sigma}_2^{-1}"
    "(\\boldsymbol{\\mu}_2-\\boldsymbol{\\mu}_1) - n + \\log\\frac{\\det\\boldsymbol{\\Sigma}_2}"
    "{\\det\\boldsymbol{\\Sigma}_1}\\right)$$这是很多估计量的基础。",
]
_TITLES = [
    ("MoE环游记：3、换个思路来分配", Series("MoE环游记", 3)),
    ("低秩近似之路（六）：随机化", Series("低秩近似之路", 6)),
    ("流形上的最速下降：2. 正交约束", Series("流形上的最速下降", 2)),
    ("Muon续集：为什么我们选择尝试Muon？", None),
    ("重新思考学习率与Batch Size的关系", None),
    ("从谱范数梯度到新式权重衰减", None),
]
_SERIES = [series.name for _, series in _TITLES if series is not None]


async def _seed(db: Database) -> None:
    """A week of six new posts (one a day), earlier parts of their series, and reader counts over time."""

    earlier = [
        Post(10500 + i, f"{series.name}：{series.part - 1}、前篇", PostDate(2024, 12, 1), 9000 + i, "")
        for i, (_, series) in enumerate(_TITLES)
        if series is not None
    ]
    await seed(db, earlier, now=NOW - timedelta(days=90))
    week: list[Post] = []
    for index, (title, _series) in enumerate(_TITLES):
        day = NOW - timedelta(days=6 - index)
        excerpt = _EXCERPTS[index % len(_EXCERPTS)]
        post = Post(10800 + 20 * index, title, PostDate(day.year, day.month, day.day), 1000, excerpt)
        week.append(post)
        await seed(db, [post], now=day)
    # A second observation of every reader count: the most-read list ranks the growth.
    grown = [Post(p.id, p.title, p.date, (p.readers or 0) + 317 * i, p.excerpt) for i, p in enumerate(week)]
    await seed(db, grown + earlier, now=NOW - timedelta(hours=1))


def _recipients(rng: random.Random) -> list[tuple[Recipient, Format]]:
    last_week = NOW - timedelta(days=7)
    # Most had a digest a week ago; some three days or two weeks ago (downtime); some are new (None).
    sinces: list[datetime | None] = [
        *[last_week] * 7,
        NOW - timedelta(days=3),
        NOW - timedelta(days=14),
        None,
    ]
    telegram: Format = "telegram"
    formats: list[Format] = [*[telegram] * 5, "email-html", "email-text"]
    out = []
    for index in range(RECIPIENTS):
        follows = frozenset(series_key(name) for name in rng.sample(_SERIES, rng.randint(0, 2)))
        lang: Lang = "zh" if rng.random() < 0.7 else "en"
        everything = rng.random() < 0.85 or not follows
        recipient = Recipient("telegram", index, str(index), lang, rng.choice(sinces), everything, follows)
        out.append((recipient, rng.choice(formats)))
    return out


def _builder(db: Database, *, cached: bool) -> DigestBuilder:
    return DigestBuilder(db, link_host=LINK_HOST, tz=TZ, cached=cached)


async def _run(
    recipients: list[tuple[Recipient, Format]],
    builder: DigestBuilder | None,
    renderer: Renderer | None,
    db: Database,
    translations: Translations,
) -> int:
    """Digest and messages for each recipient; None for the builder or renderer means a fresh one each."""
    messages = 0
    for recipient, fmt in recipients:
        digest = await (builder or _builder(db, cached=False)).for_recipient(recipient, NOW)
        if digest is not None:
            fresh = renderer or Renderer(translations=translations, cached=False)
            messages += len(fresh.render(digest, recipient.lang, fmt))
    return messages


async def _bench(db: Database) -> None:
    recipients = _recipients(random.Random(20250301))

    # Shared part: every post's view (LaTeX, excerpt), the most-read list, the selection windows, and every
    # block once per language and format.
    start = time.perf_counter()
    builder = _builder(db, cached=False)
    renderer = Renderer()
    warmed: set[tuple[datetime | None, bool]] = set()
    for recipient, _ in recipients:
        key = (recipient.last_digest_at, recipient.last_digest_at is None)
        if key in warmed:
            continue
        warmed.add(key)
        everyone = Recipient(
            "telegram", 0, "0", "zh", recipient.last_digest_at, True, frozenset(map(series_key, _SERIES))
        )
        digest = await builder.for_recipient(everyone, NOW)
        if digest is None:
            continue
        every_post = Digest(
            digest.start,
            digest.end,
            digest.home_url,
            digest.posts + digest.series_updates,
            most_read=digest.most_read,
        )
        for lang in LANGS:
            for fmt in FORMATS:
                renderer.render(every_post, lang, fmt)
    shared = time.perf_counter() - start

    # Per-recipient part: selection, assembly and splitting from the shared views and blocks.
    start = time.perf_counter()
    messages = await _run(recipients, builder, renderer, db, renderer.translations)
    per_recipient = time.perf_counter() - start

    # Naive baseline on a sample: a fresh builder and renderer per recipient re-render everything.
    sample = recipients[:NAIVE_SAMPLE]
    start = time.perf_counter()
    await _run(sample, None, None, db, renderer.translations)
    naive = (time.perf_counter() - start) * len(recipients) / len(sample)

    total = shared + per_recipient
    print(f"recipients: {len(recipients):,}  messages rendered: {messages:,}")
    print(f"shared part (post views + blocks, once):   {shared * 1000:9.1f} ms")
    print(f"per-recipient part (all {len(recipients):,}):       {per_recipient * 1000:9.1f} ms")
    print(f"  per recipient:                           {per_recipient / len(recipients) * 1e6:9.1f} µs")
    print(f"  per-recipient share of total:            {per_recipient / total:9.1%}")
    print(f"  per-recipient part / shared part:        {per_recipient / shared:9.1f}×")
    print(f"naive re-render-everything (from {NAIVE_SAMPLE} sampled): {naive * 1000:9.1f} ms")
    print(f"speed-up over naive:                       {naive / total:9.1f}×")


def _render_time(source: str) -> float:
    """Seconds to render `source` as a display formula and inside an excerpt (best of three)."""
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        render_math(source, display=True)
        latex_to_text("前$" + source + "$后$$" + source)
        timings.append(time.perf_counter() - started)
    return min(timings)


def bench_hostile_latex() -> None:
    """Each hostile source beside ordinary formulas of the same length: a stall shows as a large ratio."""
    ordinary = r"\frac{a_i}{\sqrt{d}} + \sum_{k} x_k^2 \cdot \boldsymbol{q} "
    worst, worst_source = 0.0, ""
    for source in HOSTILE_LATEX:
        baseline = (ordinary * (len(source) // len(ordinary) + 1))[: len(source)]
        ratio = _render_time(source) / max(_render_time(baseline), 1e-6)
        if ratio > worst:
            worst, worst_source = ratio, source[:16]
    longest = max(map(len, HOSTILE_LATEX))
    print(f"hostile LaTeX: {len(HOSTILE_LATEX)} sources up to {longest:,} characters")
    print(f"  slowest / ordinary LaTeX of equal length:  {worst:9.1f}×  ({worst_source!r}…)")


def main() -> None:
    """Time the shared part, the per-recipient part, and the naive baseline; print the figures."""
    with tempfile.TemporaryDirectory(prefix="bench-digest-") as tmp:

        async def run() -> None:
            async with database(Path(tmp) / "bench.sqlite3") as db:
                await _seed(db)
                await _bench(db)

        asyncio.run(run())
    bench_hostile_latex()
