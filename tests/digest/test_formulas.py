"""Excerpt pieces: the shown stretch of an excerpt with formulas kept, for each destination's drawing."""

from __future__ import annotations

from datetime import date

from digest.excerpt import ELLIPSIS, render_excerpt
from digest.formulas import Formula, email_html, excerpt_html, excerpt_pieces
from digest.model import Digest, PostItem
from digest.render import Renderer


def test_pieces_cover_what_the_digest_shows_and_keep_each_formula() -> None:
    raw = (
        r"设 $\boldsymbol{W}\in\mathbb{R}^{n\times m}$，"
        r"则 $$\Vert W\Vert_F^2 = \text{Tr}(W W^{\top})$$ 成立。"
    )
    shown = render_excerpt(raw, 200)
    pieces = excerpt_pieces(raw, shown)
    assert not pieces.cut
    assert [f.source for f in pieces.formulas] == [
        r"\boldsymbol{W}\in\mathbb{R}^{n\times m}",
        r"\Vert W\Vert_F^2 = \text{Tr}(W W^{\top})",
    ]
    assert [f.display for f in pieces.formulas] == [False, True]
    assert pieces.formulas[0].text == "W∈ℝ^(n×m)"
    assert pieces.items[0] == "设 " and str(pieces.items[-1]).strip() == "成立。"


def test_html_uses_the_destination_drawing_and_falls_back_to_unicode() -> None:
    raw = r"令 $a<b$ 与 $\det\begin{pmatrix}1&2\\3&4\end{pmatrix}$ & 其它。"

    def drawn(formula: Formula) -> str | None:
        return None if "pmatrix" in formula.source else f'<img alt="{formula.text}">'

    html = excerpt_html(raw, render_excerpt(raw), drawn)
    assert html is not None
    assert '<img alt="a<b">' in html and "&amp; 其它。" in html
    assert "pmatrix" not in html and "\\" not in html
    assert excerpt_html("没有公式。", "没有公式。", drawn) is None


def test_a_cut_excerpt_stays_cut_and_line_breaks_become_br() -> None:
    raw = "第一行 $x^2$\n第二行。" + "很多字。" * 100
    shown = render_excerpt(raw, 30)
    html = excerpt_html(raw, shown, lambda f: "<m/>")
    assert html is not None and html.endswith(ELLIPSIS) and "<m/>" in html and "<br>\n第二行" in html


def test_email_html_draws_the_formulas_of_every_post_in_its_slot() -> None:
    raws = [r"甲 $x_1$ 乙。", "无公式。", r"丙 $y^2$ 丁。"]
    items = [
        PostItem(
            key=i,
            title=f"t{i}",
            url=None,
            date="2025-01-0" + str(i + 1),
            readers=None,
            excerpt=render_excerpt(raw),
            raw_excerpt=raw,
        )
        for i, raw in enumerate(raws)
    ]
    digest = Digest(
        date(2025, 1, 1),
        date(2025, 1, 7),
        "https://kexue.fm/",
        posts=tuple(items[:2]),
        series_updates=(items[2],),
    )
    html = email_html(Renderer(), digest, "zh", lambda f: f"<i>[{f.source}]</i>")
    assert "<i>[x_1]</i>" in html and "<i>[y^2]</i>" in html and "无公式。" in html
    assert "\x00" not in html
