"""Rendering a week's digest for 10,000 recipients: shared parts once, then the per-recipient part.

Shared: each post's message view (LaTeX rendered, excerpt cut) and each block per language and format.
Per recipient: choosing the posts new to them and in the series they follow, then assembling (and, for
Telegram, splitting) the message. The naive baseline re-renders everything for every recipient.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from archive.model import Post, PostDate, Series
from digest.model import LANGS, Digest, Lang, MostRead, PostItem, build_item, home_url
from digest.render import Format, Renderer
from storage.posts import StoredPost

RECIPIENTS = 10_000
NAIVE_SAMPLE = 500
TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 3, 1, 9, 0, tzinfo=TZ)
LINK_HOST = "kexue.fm"

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


@dataclass(frozen=True, slots=True)
class _Recipient:
    lang: Lang
    fmt: Format
    since: datetime
    follows_all: bool
    series: frozenset[str]


def _week() -> tuple[list[StoredPost], list[datetime], dict[int, StoredPost]]:
    """Six new posts, when each was first seen, and the previous part of each series post."""
    posts: list[StoredPost] = []
    seen: list[datetime] = []
    previous: dict[int, StoredPost] = {}
    for index, (title, series) in enumerate(_TITLES):
        day = NOW - timedelta(days=6 - index)
        post = Post(
            id=10800 + 20 * index,
            title=title,
            date=PostDate(day.year, day.month, day.day),
            readers=1000 + 317 * index,
            excerpt=_EXCERPTS[index % len(_EXCERPTS)],
            series=series,
        )
        stored = StoredPost(index + 1, post, day.isoformat(), day.isoformat())
        posts.append(stored)
        seen.append(day)
        if series is not None:
            earlier = Post(
                id=10500 + index, title=title + "（前篇）", date=PostDate(2024, 12, 1), series=series
            )
            previous[stored.pk] = StoredPost(100 + index, earlier, "", "")
    return posts, seen, previous


def _recipients(rng: random.Random) -> list[_Recipient]:
    last_week = NOW - timedelta(days=7)
    sinces = [last_week] * 8 + [NOW - timedelta(days=3), NOW - timedelta(days=14)]
    formats: list[Format] = [
        "telegram",
        "telegram",
        "telegram",
        "telegram",
        "telegram",
        "email-html",
        "email-text",
    ]
    out = []
    for _ in range(RECIPIENTS):
        follows = frozenset(rng.sample(["MoE环游记", "低秩近似之路", "流形上的最速下降"], rng.randint(0, 2)))
        out.append(
            _Recipient(
                lang="zh" if rng.random() < 0.7 else "en",
                fmt=rng.choice(formats),
                since=rng.choice(sinces),
                follows_all=rng.random() < 0.85 or not follows,
                series=follows,
            )
        )
    return out


def _digest_for(
    recipient: _Recipient,
    posts: list[StoredPost],
    seen: list[datetime],
    items: Callable[[StoredPost], PostItem],
) -> Digest | None:
    """The per-recipient selection: posts new since their last digest, followed series apart."""
    followed: list[PostItem] = []
    others: list[PostItem] = []
    for stored, first_seen in zip(posts, seen, strict=True):
        if first_seen <= recipient.since:
            continue
        series = stored.post.series
        if series is not None and series.name in recipient.series:
            followed.append(items(stored))
        elif recipient.follows_all:
            others.append(items(stored))
    if not followed and not others:
        return None
    most_read = tuple(MostRead(items(p), 500 - 40 * i) for i, p in enumerate(posts[:5]))
    return Digest(
        start=recipient.since.astimezone(TZ).date(),
        end=NOW.date(),
        home_url=home_url(LINK_HOST),
        posts=tuple(others),
        series_updates=tuple(followed),
        most_read=most_read,
    )


def _run(recipients: list[_Recipient], renderer: Renderer, items: Callable[[StoredPost], PostItem]) -> int:
    posts, seen, _ = _week()
    sent = 0
    for recipient in recipients:
        digest = _digest_for(recipient, posts, seen, items)
        if digest is not None:
            sent += len(renderer.render(digest, recipient.lang, recipient.fmt))
    return sent


def main() -> None:
    """Time the shared part, the per-recipient part, and the naive baseline; print the figures."""
    rng = random.Random(20250301)
    recipients = _recipients(rng)
    posts, _, previous = _week()

    # Shared part: every post's view (LaTeX, excerpt) and every block, once per language and format.
    start = time.perf_counter()
    renderer = Renderer()
    views = {
        p.pk: build_item(p, link_host=LINK_HOST, previous=previous.get(p.pk), cached=False) for p in posts
    }
    period = date(2025, 2, 22)
    warm = Digest(period, NOW.date(), home_url(LINK_HOST), posts=tuple(views.values()))
    for lang in LANGS:
        renderer.telegram_digest(warm, lang)
        renderer.email_html(warm, lang)
        renderer.email_text(warm, lang)
        for view in views.values():
            renderer.telegram_post(view, lang)
    shared = time.perf_counter() - start

    # Per-recipient part: selection, assembly and splitting from the shared blocks.
    start = time.perf_counter()
    messages = _run(recipients, renderer, lambda stored: views[stored.pk])
    per_recipient = time.perf_counter() - start

    # Naive baseline on a sample: every recipient re-renders the LaTeX, the excerpts and every template.
    sample = recipients[:NAIVE_SAMPLE]
    naive_renderer = Renderer(cached=False)
    start = time.perf_counter()
    _run(
        sample,
        naive_renderer,
        lambda stored: build_item(
            stored, link_host=LINK_HOST, previous=previous.get(stored.pk), cached=False
        ),
    )
    naive = (time.perf_counter() - start) * len(recipients) / len(sample)

    total = shared + per_recipient
    print(f"recipients: {len(recipients):,}  messages rendered: {messages:,}")
    print(f"shared part (post views + blocks, once):   {shared * 1000:9.1f} ms")
    print(f"per-recipient part (all {len(recipients):,}):       {per_recipient * 1000:9.1f} ms")
    print(f"  per recipient:                           {per_recipient / len(recipients) * 1e6:9.1f} µs")
    print(f"  share of total:                          {per_recipient / total:9.1%}")
    print(f"naive re-render-everything (from {NAIVE_SAMPLE} sampled): {naive * 1000:9.1f} ms")
    print(f"speed-up over naive:                       {naive / total:9.1f}×")
