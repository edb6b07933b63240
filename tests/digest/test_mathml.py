"""Formulas as MathML: converted, cleaned to MathML Core, and refused where LaTeX would show raw."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from digest.mathml import MATHML_NS, styled, to_mathml

M = f"{{{MATHML_NS}}}"


def _parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)


def test_a_formula_becomes_a_math_element_with_its_readable_text_as_alttext() -> None:
    markup = to_mathml(
        r"\Vert \boldsymbol{X}\Vert_F^2 = \text{Tr}(\boldsymbol{X}^{\top}\boldsymbol{X})", alt="‖X‖²"
    )
    assert markup is not None
    root = _parse(markup)
    assert root.tag == M + "math" and root.get("display") == "inline" and root.get("alttext") == "‖X‖²"
    assert root.find(f".//{M}msubsup") is not None and "\\" not in markup


def test_display_formulas_and_matrices_convert() -> None:
    markup = to_mathml(r"\det\begin{bmatrix}1 & 0\\ 0 & 1\end{bmatrix} = 1", display=True)
    assert markup is not None
    root = _parse(markup)
    assert root.get("display") == "block"
    assert len(root.findall(f".//{M}mtr")) == 2 and len(root.findall(f".//{M}mtd")) == 4


@pytest.mark.parametrize(
    "source",
    [
        r"\unknownmacro{x} + 1",
        r"\frac{a}{",
        r"a & b",
        "",
        "x" * 3000,
    ],
)
def test_what_would_show_raw_latex_or_break_the_page_is_refused(source: str) -> None:
    assert to_mathml(source) is None


def test_links_styles_and_markup_never_pass_through() -> None:
    # latex2mathml copies \text{…} unescaped: markup inside comes out as elements, refused whole.
    assert to_mathml(r"x + \text{<script>alert(1)</script>}") is None
    assert to_mathml(r"x + \text{<b>bold</b>}") is None
    markup = to_mathml(r"\href{javascript:alert(1)}{x} + y", alt='"><b>')
    assert markup is not None
    assert "javascript" not in markup and "href" not in markup
    root = _parse(markup)
    assert root.get("alttext") == '"><b>'
    allowed = {"math", "mrow", "mi", "mo", "mn", "mtext", "msub", "msup"}
    assert {element.tag.removeprefix(M) for element in root.iter()} <= allowed


def test_the_blog_operator_macros_convert() -> None:
    markup = to_mathml(r"\tr(\boldsymbol{A}) + \argmax_x f(x)")
    assert markup is not None and "tr" in markup and "argmax" in markup and "\\" not in markup


def test_bold_letters_are_written_in_unicode_bold_for_engines_that_ignore_mathvariant() -> None:
    markup = to_mathml(r"\boldsymbol{W}\boldsymbol{\alpha} + \mathbf{x}_2")
    assert markup is not None
    assert "𝑾" in markup and "𝜶" in markup and "𝐱" in markup and "mathvariant" not in markup
    assert styled("h", "italic") == "ℎ" and styled("Ω9", "bold") == "𝛀𝟗" and styled("?", "bold") is None
    assert styled("x", "fraktur") is None


def test_the_blog_display_environments_convert_and_labels_are_dropped() -> None:
    aligned = to_mathml(r"\begin{aligned} f(x) &= x^2 + 1 \\ &\geq 1 \end{aligned}\label{eq:f}", display=True)
    assert aligned is not None and "label" not in aligned and "eq:f" not in aligned
    root = ET.fromstring(aligned)
    assert len(root.findall(f".//{M}mtr")) == 2
    assert [td.get("columnalign") for td in root.findall(f".//{M}mtr")[0]] == ["right", "left"]
    cases = to_mathml(r"|x| = \begin{cases} x & x \geq 0 \\ -x & x < 0 \end{cases}")
    assert cases is not None and len(ET.fromstring(cases).findall(f".//{M}mtd")) == 4
    assert to_mathml(r"\{x_i\}_{i=1}^n") is not None
    assert to_mathml(r"x = 1 \tag{2}\nonumber") is not None
