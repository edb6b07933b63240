"""Rich excerpts: the shown excerpt re-cut from its LaTeX with formulas as Telegram's native math."""

from __future__ import annotations

from digest.excerpt import ELLIPSIS
from digest.rich import excerpt_slot, fill_slots, rich_excerpt


def test_formulas_become_math_elements_and_text_stays_escaped() -> None:
    raw = r"设 $a<b$ 且 $$\sum_{i=1}^n x_i$$ 成立 & 完毕。"
    shown = "设 a<b 且 ∑ᵢ₌₁ⁿ xᵢ 成立 & 完毕。"
    rich = rich_excerpt(raw, shown)
    assert rich is not None
    assert "<tg-math>a&lt;b</tg-math>" in rich
    assert r"<tg-math-block>\sum_{i=1}^n x_i</tg-math-block>" in rich
    assert "成立 &amp; 完毕。" in rich and "\\" not in rich.replace(r"\sum", "")


def test_no_formula_in_the_shown_part_means_no_rich_variant() -> None:
    assert rich_excerpt("纯文字的摘要。", "纯文字的摘要。") is None
    # The formula comes after what is shown: the rich variant would say more than the HTML one.
    assert rich_excerpt("很长的开头。" * 10 + "$x$", "很长的开头。" + ELLIPSIS) is None


def test_a_cut_excerpt_stays_cut() -> None:
    raw = r"先看 $x^2$，" + "再看很多很多字。" * 20
    shown = "先看 x²，再看很多" + ELLIPSIS
    rich = rich_excerpt(raw, shown)
    assert rich is not None and rich.endswith(ELLIPSIS) and "<tg-math>x^2</tg-math>" in rich
    assert len(rich) < 60


def test_slots_are_filled_in_order() -> None:
    html = f"<b>一</b>\n{excerpt_slot(0)}\n<b>二</b>\n{excerpt_slot(1)}"
    assert fill_slots(html, ["甲", "乙"]) == "<b>一</b>\n甲\n<b>二</b>\n乙"
