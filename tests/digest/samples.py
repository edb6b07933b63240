"""Digest fixtures written for the tests: real titles and dates of the blog, excerpts of our own."""

from __future__ import annotations

from datetime import date

from digest.excerpt import render_excerpt
from digest.model import Digest, MostRead, PostItem, SeriesRef

LOW_RANK = PostItem(
    key=1,
    title="低秩近似之路（三）：CR",
    url="https://kexue.fm/archives/10427",
    date="2024-10-11",
    readers=11871,
    excerpt=render_excerpt(
        "上一篇我们讨论了SVD，它给出无约束意义下的最优低秩近似。本文转向带结构的近似：\n"
        r"\begin{equation}\mathop{\text{argmin}}_{\text{rank}(\tilde{\boldsymbol{M}})\leq r}"
        r"\Vert \tilde{\boldsymbol{M}} - \boldsymbol{M}\Vert_F^2\label{eq:cr}\end{equation}"
        "\n其中$\\tilde{\\boldsymbol{M}}$由若干列与若干行相乘得到，可以用来加速矩阵乘法。后面还会继续讨论误差界，"
        "以及如何采样这些行与列，使得期望误差最小。"
    ),
    series=SeriesRef(
        "低秩近似之路", 3, "https://kexue.fm/archives/10407", "低秩近似之路（二）：SVD", previous_part=2
    ),
)
POSITION = PostItem(
    key=2,
    title="Decoder-only的LLM为什么需要位置编码？",
    url="https://kexue.fm/archives/10347",
    date="2024-09-01",
    readers=26991,
    excerpt=render_excerpt(
        "不少实验表明Causal Attention不加位置编码也能工作，那为何主流模型仍然加上RoPE？"
        "本文从Attention的平移不变性出发，比较$\\boldsymbol{q}_m^{\\top}\\boldsymbol{k}_n$与"
        "$\\boldsymbol{q}_m^{\\top}\\boldsymbol{R}_{n-m}\\boldsymbol{k}_n$的差别 <em>&</em> 代价。"
    ),
)
NO_ID = PostItem(
    key=3,
    title="一篇只在文本快照里见过的文章 <b>&amp;",
    url=None,
    date="2024-09-03",
    readers=None,
    excerpt="",
)

DIGEST = Digest(
    start=date(2024, 9, 1),
    end=date(2024, 10, 12),
    home_url="https://kexue.fm/",
    posts=(POSITION, NO_ID),
    series_updates=(LOW_RANK,),
    most_read=(MostRead(POSITION, 1520), MostRead(LOW_RANK, 730)),
)
