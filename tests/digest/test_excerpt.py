"""Excerpts: captions, whitespace, the cut at a sentence end (never inside a formula), the ellipsis."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.excerpt import ELLIPSIS, drop_repeated_lines, render_excerpt


def test_a_repeated_caption_line_is_dropped() -> None:
    raw = "我们画出了示意图。\n\n逻辑回归示意图\n\n逻辑回归示意图\n\n本文将推导一个解析解。"
    assert render_excerpt(raw) == "我们画出了示意图。\n逻辑回归示意图\n本文将推导一个解析解。"
    assert drop_repeated_lines("a\nb\nb\nc\nb") == "a\nb\nc\nb"


def test_whitespace_is_normalized() -> None:
    raw = "  第一段，  有\t多余的   空白。\n\n\n\u3000\u3000第二段。  \n"
    assert render_excerpt(raw) == "第一段， 有 多余的 空白。\n第二段。"


def test_math_is_rendered_inline_and_display_on_its_own_line() -> None:
    raw = r"先算$\boldsymbol{Q}\boldsymbol{K}^{\top}$再除以$\sqrt{d}$，即$$\text{softmax}(x)$$这样。"
    assert render_excerpt(raw) == "先算QKᵀ再除以√d，即\nsoftmax(x)\n这样。"


def test_short_excerpt_is_not_cut() -> None:
    assert render_excerpt("一句话。", 200) == "一句话。"


def test_cut_at_the_last_sentence_end_before_the_limit() -> None:
    raw = "这是第一句话，它比较长一些。" * 3 + "最后一句没有写完但是很长很长很长很长很长很长很长很长"
    out = render_excerpt(raw, 50)
    assert out == "这是第一句话，它比较长一些。" * 3 + ELLIPSIS
    assert len(out) <= 51


def test_english_sentences_cut_at_a_full_stop() -> None:
    raw = "The first sentence is here. The second one follows it. A third goes on and on without end"
    assert render_excerpt(raw, 60) == "The first sentence is here. The second one follows it." + ELLIPSIS


def test_decimal_points_and_numbered_items_are_not_sentence_ends() -> None:
    raw = "Version 1.5 is out and it is better than version 1.4 in every respect whatsoever, truly"
    out = render_excerpt(raw, 40)
    assert out.endswith(ELLIPSIS)
    assert not out.startswith("Version 1." + ELLIPSIS)


def test_never_cut_inside_a_formula() -> None:
    formula = r"$\sum_{i=1}^n x_i^2 + \frac{\alpha}{\beta}$"
    raw = "前言" * 20 + formula + "后文" * 40
    out = render_excerpt(raw, 45)
    assert out.endswith(ELLIPSIS)
    rendered = "∑ᵢ₌₁ⁿ xᵢ² + α/β"
    body = out[: -len(ELLIPSIS)]
    assert rendered in body or "∑" not in body


def test_the_limit_is_configurable() -> None:
    raw = "短句。" * 100
    assert len(render_excerpt(raw, 30)) <= 31
    assert len(render_excerpt(raw, 120)) <= 121
    assert len(render_excerpt(raw, 120)) > 60


def test_an_unclosed_formula_is_dropped_and_marked_as_cut() -> None:
    assert render_excerpt(r"正文。然后 $\sum_{i,j=1}^", 200) == "正文。然后" + ELLIPSIS


@given(st.text(max_size=2000), st.integers(min_value=20, max_value=400))
def test_any_text_gives_a_bounded_excerpt(raw: str, limit: int) -> None:
    out = render_excerpt(raw, limit, cached=False)
    if len(out) > limit:
        # Cut: about the limit (a sentence end may run a little past it, a lone long formula up to 3×).
        assert out.endswith(ELLIPSIS)
        assert len(out) <= 3 * limit + 1


def test_a_huge_excerpt_is_read_only_as_far_as_it_can_be_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    sentence = r"注意力先算$\boldsymbol{Q}\boldsymbol{K}^{\top}/\sqrt{d}$再归一化。"
    raw = sentence * 20000  # about a megabyte
    read: list[int] = []

    def reading(text: str) -> str:
        read.append(len(text))
        return drop_repeated_lines(text)

    # The first step of rendering sees what is read; the rest of the megabyte must never reach it.
    monkeypatch.setattr("digest.excerpt.drop_repeated_lines", reading)
    out = render_excerpt(raw, 200, cached=False)
    assert read and max(read) <= 8_000 < len(raw)
    assert out.startswith("注意力先算QKᵀ/√d再归一化。") and out.endswith(ELLIPSIS)
    assert len(out) <= 201


def test_text_past_the_read_bound_still_marks_the_excerpt_as_cut() -> None:
    # Formulas that render to almost nothing: the bound is reached before 200 characters are shown.
    unit = "$\\label{" + "a" * 120 + "}x$。"
    out = render_excerpt(unit * 500, 200, cached=False)
    assert out.endswith(ELLIPSIS) and len(out) < 200
    assert set(out[:-1]) <= {"x", "。"} and "\\" not in out
