"""archive.series: part markers in titles, and titles that merely contain numbers."""

from __future__ import annotations

import pytest

from archive.identity import series_key
from archive.model import Series
from archive.series import chinese_numeral, detect_series


@pytest.mark.parametrize(
    ("title", "name", "part"),
    [
        ("Transformer升级之路：1、Sinusoidal位置编码追根溯源", "Transformer升级之路", 1),
        ("Transformer升级之路：2、博采众长的旋转式位置编码", "Transformer升级之路", 2),
        ("Transformer升级之路：4、二维位置的旋转式位置编码", "Transformer升级之路", 4),
        ("Transformer升级之路:4、二维位置的旋转式位置编码", "Transformer升级之路", 4),
        ("Transformer升级之路：20、MLA好在哪里?（上）", "Transformer升级之路", 20),
        ("Transformer升级之路：21、MLA好在哪里?（下）", "Transformer升级之路", 21),
        ("MoE环游记：1、从几何意义出发", "MoE环游记", 1),
        ("MoE环游记：2、不患寡而患不均", "MoE环游记", 2),
        ("低秩近似之路（一）：伪逆", "低秩近似之路", 1),
        ("低秩近似之路（三）：CR", "低秩近似之路", 3),
        ("低秩近似之路(三):CR", "低秩近似之路", 3),
        ("低秩近似之路（五）：CUR", "低秩近似之路", 5),
        ("CoSENT（一）：比Sentence-BERT更有效的句向量方案", "CoSENT", 1),
        ("CoSENT（三）：作为交互式相似度的损失函数", "CoSENT", 3),
        ("CoSENT(三):作为交互式相似度的损失函数", "CoSENT", 3),
        ("“闭门造车”之多模态思路浅谈（一）：无损输入", "“闭门造车”之多模态思路浅谈", 1),
        ("“闭门造车”之多模态思路浅谈(一):无损输入", "“闭门造车”之多模态思路浅谈", 1),
        ("重温SSM（一）：线性系统和HiPPO矩阵", "重温SSM", 1),
        ("重温SSM（四）：有理生成函数的新视角", "重温SSM", 4),
        ("【中文分词系列】 2. 基于切分的新词发现", "中文分词系列", 2),
        ("【中文分词系列】2、基于切分的新词发现", "中文分词系列", 2),
        ("流形上的最速下降：1. SGD + 超球面", "流形上的最速下降", 1),
        ("流形上的最速下降:1. SGD + 超球面", "流形上的最速下降", 1),
        ("MuP之上：1. 好模型的三个特征", "MuP之上", 1),
        ("变分自编码器（二）", "变分自编码器", 2),
        ("变分自编码器(二)", "变分自编码器", 2),
        ("某某（三）（上）", "某某", 3),
        ("某某（三）（下）：后半部分", "某某", 3),
        ("生成扩散模型漫谈（十一）：统一扩散模型（应用篇）", "生成扩散模型漫谈", 11),
        ("生成扩散模型漫谈（二十三）：信噪比与大图生成", "生成扩散模型漫谈", 23),
        ("长系列（九十九）：收官", "长系列", 99),
        ("长系列（十）：第十篇", "长系列", 10),
        ("长系列（一百零一）：更长", "长系列", 101),
        ("“熵”不起：从熵、最大熵原理到最大熵模型（二）", "“熵”不起：从熵、最大熵原理到最大熵模型", 2),
        ("Naive Bayes（3）：arabic part in brackets", "Naive Bayes", 3),
        ("全角数字：１２、也是编号", "全角数字", 12),
    ],
)
def test_detect_series_parts(title: str, name: str, part: int) -> None:
    assert detect_series(title) == Series(name=name, part=part)


@pytest.mark.parametrize(
    "title",
    [
        "训练1000层的Transformer究竟有什么困难？",
        "什么时候多进程的加速比可以大于1？",
        "通向最优分布之路：概率空间的最小化",
        "Decoder-only的LLM为什么需要位置编码？",
        "Muon优化器赏析：从向量到矩阵的本质跨越",
        "2024年的最后一篇：写在岁末",
        "2024年：回顾",
        "年终总结（2024）",
        "一个关于f(1)",
        "用时间换取效果：Keras梯度累积优化器",
        "GPT-3：1.5倍的参数",
        "浅谈Transformer的初始化、参数化与标准化",
        "Naive Bayes is all you need ?",
        "（一）",
        "：1、没有名字",
        "某某（上）",
        "某某（零）",
        "某某（十十）",
        "",
    ],
)
def test_detect_series_rejects_plain_titles(title: str) -> None:
    assert detect_series(title) is None


def test_full_and_half_width_titles_give_the_same_series_key() -> None:
    full = detect_series("低秩近似之路（三）：CR")
    half = detect_series("低秩近似之路(三):CR")
    assert full is not None and half is not None
    assert series_key(full.name) == series_key(half.name)
    assert full.part == half.part == 3


def test_halves_share_the_part_number() -> None:
    upper = detect_series("某某（三）（上）")
    lower = detect_series("某某（三）（下）")
    assert upper == lower == Series("某某", 3)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("一", 1),
        ("九", 9),
        ("十", 10),
        ("十一", 11),
        ("二十", 20),
        ("二十三", 23),
        ("九十九", 99),
        ("一百", 100),
        ("一百零五", 105),
        ("一百一十", 110),
        ("两", 2),
    ],
)
def test_chinese_numerals(text: str, value: int) -> None:
    assert chinese_numeral(text) == value


@pytest.mark.parametrize("text", ["", "零", "十十", "二二", "百", "一百十", "三十零", "甲"])
def test_chinese_numerals_rejects_malformed(text: str) -> None:
    assert chinese_numeral(text) is None


def test_every_numeral_below_one_hundred_round_trips() -> None:
    digits = "一二三四五六七八九"
    for value in range(1, 100):
        tens, ones = divmod(value, 10)
        text = (
            ("" if tens <= 1 else digits[tens - 1])
            + ("十" if tens else "")
            + (digits[ones - 1] if ones else "")
        )
        assert chinese_numeral(text) == value, text
        assert detect_series(f"某系列（{text}）：副标题") == Series("某系列", value)
