"""Environments MathJax typesets outside `$…$` reach no reader raw: Telegram HTML, rich messages, the mail,
the web page (MathML) and the search index all read them as formulas."""

from __future__ import annotations

import re

import pytest

from archive.latex import latex_to_text, render_math, split_math
from digest.excerpt import render_excerpt
from digest.formulas import excerpt_pieces
from digest.mathml import to_mathml
from digest.model import PostItem
from digest.render import Renderer
from digest.rich import rich_excerpt
from storage.textnorm import readable_text

RAW = re.compile(r"\\(?:begin|end|left|right|frac|mathbf|boldsymbol)\b|&")

BARE = {
    "aligned": "于是 \\begin{aligned} L &= \\sum_i \\ell_i \\\\ &\\le n \\end{aligned} 得证。",
    "gathered": "同时 \\begin{gathered} u = v \\\\ w = z \\end{gathered} 成立。",
    "array cases": (
        "定义 \\left\\{\\begin{array}{ll} x, & x > 0 \\\\ 0, & x \\le 0 \\end{array}\\right. 为ReLU。"
    ),
    "multline": "展开 \\begin{multline} a + b \\\\ + c + d \\end{multline} 即可。",
    "split": "拆开 \\begin{split} f(x) &= (x+1)^2 \\\\ &= x^2 + 2x + 1 \\end{split} 两行。",
    "starred align": "对齐 \\begin{align*} p &= q \\\\ r &= s \\end{align*} 完毕。",
    "bmatrix": "矩阵 \\begin{bmatrix} 1 & 0 \\\\ 0 & 1 \\end{bmatrix} 是单位阵。",
}


@pytest.mark.parametrize("name", sorted(BARE))
def test_a_bare_environment_is_a_formula_wherever_it_is_read(name: str) -> None:
    raw = BARE[name]
    kinds = [segment.kind for segment in split_math(raw)]
    assert kinds == ["text", "display", "text"], kinds
    shown = render_excerpt(raw)
    # Readable Unicode: in Telegram HTML, the weekly mail's text, the index.
    for text in (latex_to_text(raw), shown, readable_text(raw)):
        assert not RAW.search(text), text
    # Rich messages carry it as one math node; the web page draws it as MathML.
    rich = rich_excerpt(raw, shown)
    assert rich is not None and rich.count("<tg-math-block>") == 1
    assert not RAW.search(re.sub(r"<tg-math-block>.*?</tg-math-block>", "", rich, flags=re.S))
    (formula,) = excerpt_pieces(raw, shown).formulas
    assert to_mathml(formula.source, display=True, alt=formula.text) is not None


def test_the_telegram_post_shows_no_raw_latex() -> None:
    excerpt = render_excerpt(BARE["aligned"])
    item = PostItem(1, "标题", "https://kexue.fm/archives/1", "2025-01-01", None, excerpt)
    renderer = Renderer()
    assert not RAW.search(renderer.telegram_post(item, "zh").replace("&amp;", "").replace("&lt;", ""))


def test_cases_matrices_and_braces_read_unambiguously() -> None:
    assert render_math("f(x)=\\begin{cases} x, & x>0 \\\\ 0, & x\\le 0\\end{cases} \\approx 1") == (
        "f(x)={x, x>0; 0, x≤0} ≈ 1"
    )
    assert render_math("\\left\\{\\begin{array}{cc} a & b \\\\ c & d \\end{array}\\right.") == "{a, b; c, d}"
    assert render_math("\\overbrace{x}^{k}") == "x ⏞ k"
    assert render_math("\\underbrace{a+b}_{n}") == "(a+b) ⏟ n"
    assert render_math("\\log\\frac{p}{q}") == "log(p/q)"
    assert render_math("\\log \\frac{p(x)}{q(x)}") == "log(p(x)/q(x))"
