"""LaTeX → readable Unicode: the golden table over the blog's style, and the rules the issue names."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archive.latex import latex_to_text, render_math, split_math
from bench.bench_digest import HOSTILE_LATEX
from tests.digest.golden_files import GOLDEN_DIR, check_golden


def _table() -> str:
    out: list[str] = []
    for line in (GOLDEN_DIR / "math-sources.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        display = line.startswith("display: ")
        source = line.removeprefix("display: ")
        rendered = render_math(source, display=display).split("\n")
        out.append(line)
        out.append("  → " + rendered[0])
        out.extend("    " + more for more in rendered[1:])
        out.append("")
    return "\n".join(out)


def test_math_table_matches_its_golden_file() -> None:
    table = _table()
    assert table.count("→") >= 50
    check_golden("math.golden", table)


def test_the_issue_examples() -> None:
    assert render_math(r"\boldsymbol{Q}\boldsymbol{K}^{\top}/\sqrt{d}") == "QKᵀ/√d"
    assert render_math(r"\frac{a}{b}") == "a/b"
    assert render_math(r"\frac{a+b}{c-d}") == "(a+b)/(c-d)"
    assert render_math(r"\mathbb{R}") == "ℝ"
    assert render_math(r"x_i^2") == "xᵢ²"
    assert render_math(r"\Vert x\Vert_F") == "‖x‖_F"
    assert render_math(r"x_{\text{max}}") == "xₘₐₓ"
    assert render_math(r"D_{KL}(p\Vert q)") == "D_(KL)(p‖q)"
    assert render_math(r"\sum \log \det \mathop{\text{argmin}}") == "∑ log det argmin"
    assert render_math(r"\alpha\beta\Gamma") == "αβΓ"


def test_display_equations_stand_on_their_own_line_without_labels() -> None:
    text = r"提法是\begin{equation}x^2\label{eq:a}\end{equation}其中$$y_1$$之后"
    assert latex_to_text(text) == "提法是\nx²\n其中\ny₁\n之后"


def test_align_rows_become_lines() -> None:
    text = r"\begin{align}a &= b \\ c &= d\end{align}"
    assert latex_to_text(text).strip() == "a = b\nc = d"


def test_text_outside_math_is_left_alone() -> None:
    assert latex_to_text("50% of {braces} ~ and \\$5") == "50% of {braces} ~ and $5"


def test_unclosed_formula_is_reported_as_such() -> None:
    segments = split_math("before $x^2 and no end")
    assert segments[-1].kind == "inline" and not segments[-1].closed


@given(st.text())
def test_any_formula_renders_without_raising(source: str) -> None:
    assert isinstance(render_math(source), str)
    assert isinstance(latex_to_text(source), str)


@given(st.text(alphabet="\\{}$^_&abcx12 ", max_size=60))
def test_latex_shaped_noise_renders_without_raising(source: str) -> None:
    render_math(source, display=True)
    latex_to_text(source)


def test_deep_nesting_falls_back_to_the_source() -> None:
    source = "{" * 3000 + "x" + "}" * 3000
    assert "x" in render_math(source)


def test_sized_delimiters_and_brackets_hold_no_layout_spaces() -> None:
    assert render_math(r"\left( x \right)") == "(x)"
    assert render_math(r"\left\| x \right\|") == "‖x‖"
    assert render_math(r"\bigl| x \bigr|") == "|x|"
    assert render_math(r"\left\langle \boldsymbol{g}, \boldsymbol{u} \right\rangle") == "⟨g, u⟩"
    assert render_math(r"\left. f \right|_{0}") == "f|₀"
    assert render_math(r"\lfloor x \rfloor") == "⌊x⌋"


def test_operators_keep_the_spaces_the_author_wrote() -> None:
    assert render_math(r"a \cdot b") == "a · b"
    assert render_math(r"\boldsymbol{q}\cdot\boldsymbol{k}") == "q·k"
    assert render_math(r"x \ll y") == "x ≪ y"
    assert render_math(r"\begin{aligned}a &= b \\ &\approx \frac{1}{N}\end{aligned}", display=True) == (
        "a = b\n≈ 1/N"
    )


def test_macro_definitions_show_nothing() -> None:
    assert render_math(r"\newcommand{\R}{\mathbb{R}}x\in\R") == "x∈R"
    assert render_math(r"\def\x{y}z") == "z"


def test_hostile_latex_never_raises() -> None:
    # How long these take, beside ordinary formulas of the same length, is `make bench`'s to say.
    for source in HOSTILE_LATEX:
        assert isinstance(render_math(source, display=True), str)
        assert latex_to_text("前$" + source + "$后").startswith("前")


# Standard TeX and MathJax commands that only style, space or wrap: a reader never reads their names (and
# search never indexes them). An author's own macro (`\relu`) is still shown by name.
STYLING_COMMANDS = [
    r"\mathrel{=}",
    r"\mathbin{+}",
    r"\mathord{x}",
    r"\mathpunct{,}",
    r"\mathopen{(}",
    r"\mathclose{)}",
    r"\mathinner{x}",
    r"\cancel{x}",
    r"\bcancel{x}",
    r"\xcancel{x}",
    r"\llap{x}",
    r"\rlap{x}",
    r"\clap{x}",
    r"\begin{array}{c}a\\\hline b\\\hdashline c\end{array}",
    r"\begin{array}{cc}a&b\\\cline{1-2}c&d\end{array}",
    r"a\kern-3mu b",
    r"a\mkern 2mu b",
    r"a\mskip{2mu}b",
    r"a\hskip 1em b",
    r"a\mspace{3mu}b",
    r"{\bf x}{\it y}{\rm d}{\sf s}{\tt t}{\cal L}{\frak g}",
    r"{\tiny a}{\scriptsize b}{\footnotesize c}{\small d}{\normalsize e}{\large f}{\Large g}{\LARGE h}",
    r"{\huge a}{\Huge b}",
    r"\style{color:red}{x}",
    r"\class{big}{x}",
    r"\cssId{eq}{x}",
    r"\href{https://kexue.fm}{x}",
    r"\enclose{circle}{x}",
    r"\bbox[yellow]{x}",
    r"\colorbox{yellow}{x}",
    r"\raise{2pt}{x}",
    r"\lower{2pt}{x}",
    r"\rule{1pt}{2pt}x",
    r"\require{cancel}x",
    r"\unicode{x2113}",
    r"{a \over b}",
    r"{a \atop b}",
    r"{a \above 1pt b}",
    r"{n \choose k}",
    r"\sum_{\substack{i<j\\k}} x",
    r"a \equiv b \pmod{n}",
    r"\sideset{_a}{^b}\sum",
]


@pytest.mark.parametrize("source", STYLING_COMMANDS)
def test_styling_commands_are_never_read_by_name(source: str) -> None:
    rendered = render_math(source)
    # A row break `\\` is consumed first, so `\\k` is no command `k`.
    names = set(re.findall(r"\\\\|\\([A-Za-z]+)", source)) - {"", "sum", "equiv", "mod"}
    words = set(re.findall(r"[A-Za-z]+", rendered))
    assert not names & words, rendered
    assert "\\" not in rendered


def test_styling_commands_keep_their_content() -> None:
    assert render_math(r"\mathrel{=}x \mathbin{+} y") == "=x + y"
    assert render_math(r"{a \over b}") == "a/b" and render_math(r"{n \choose k}") == "C(n,k)"
    assert render_math(r"a \equiv b \pmod{n}") == "a ≡ b (mod n)"
    assert render_math(r"\textcolor{red}{x}+\style{color:red}{y}+\href{https://kexue.fm}{z}") == "x+y+z"
    assert render_math(r"a\kern-3mu b") == "a b"
    assert render_math(r"\relu(x)") == "relu(x)"
