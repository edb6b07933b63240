"""Formulas drawn as PNG: decoded back, sized for the line they sit on, cached, and refused when unsafe."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from PIL import Image

from digest.formula_png import MAX_HEIGHT_PX, MAX_WIDTH_PX, SCALE, draw, formula_key, to_mathtext

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Formulas of the kinds the blog writes, none of them used while the module was written.
HELD_OUT = [
    r"\mathcal{L}_{\text{CE}} = -\sum_{c=1}^{C} y_c \log \hat{y}_c",
    r"\boldsymbol{Q}\boldsymbol{K}^{\top}/\sqrt{d_k}",
    r"p(\boldsymbol{x}_t|\boldsymbol{x}_{t-1}) = "
    r"\mathcal{N}(\boldsymbol{x}_t;\sqrt{\alpha_t}\boldsymbol{x}_{t-1}, \beta_t \boldsymbol{I})",
    r"\mathbb{E}_{\boldsymbol{z}\sim q(\boldsymbol{z})}"
    r"\left[\log \frac{p(\boldsymbol{x},\boldsymbol{z})}{q(\boldsymbol{z})}\right]",
    r"\Vert \boldsymbol{U}\boldsymbol{\Sigma}\boldsymbol{V}^{\top} \Vert_*",
    r"e^{i\theta} = \cos\theta + i\sin\theta",
    r"\lVert x \rVert_2 \le \big(\sum\nolimits_i |x_i|^p\big)^{1/p}",
    r"\mathop{\text{argmin}}_{\theta} \tr(\boldsymbol{A}^{\top}\boldsymbol{B})",
]


def _decode(png: bytes) -> Image.Image:
    assert png.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


@pytest.mark.parametrize("source", HELD_OUT)
@pytest.mark.parametrize("display", [False, True])
def test_held_out_formulas_draw_as_real_pngs(source: str, display: bool) -> None:
    drawing = draw(source, display=display)
    assert drawing is not None, source
    image = _decode(drawing.png)
    assert image.format == "PNG" and image.size == (drawing.width, drawing.height)
    assert image.mode == "LA"
    alpha = image.getchannel("A")
    lo, hi = alpha.getextrema()
    assert lo == 0 and hi == 255, "ink on a transparent ground"
    inked = sum(alpha.histogram()[129:])
    assert inked > 0.03 * drawing.width * drawing.height
    # Drawn at twice its size: a one-line formula is 2 × 10-60 CSS pixels tall, never a thumbnail.
    assert 20 * SCALE // 2 <= drawing.height <= 300 * SCALE
    assert drawing.css_height == drawing.height / SCALE
    assert 0 <= drawing.depth < drawing.height


def test_a_bigger_formula_is_a_bigger_image_and_display_is_larger_than_inline() -> None:
    small, wide = draw("x"), draw("x + y + z + w + v + u")
    assert small is not None and wide is not None and wide.width > 3 * small.width
    inline, display = draw(r"\frac{a}{b}"), draw(r"\frac{a}{b}", display=True)
    assert inline is not None and display is not None and display.height > inline.height


def test_the_drawing_is_cached_by_the_hash_of_its_source() -> None:
    source = r"\sum_{k=0}^{\infty} \frac{x^k}{k!} + \Gamma(\tfrac{1}{2})"
    first = draw(source)
    assert first is not None
    assert first.key == formula_key(source, display=False) and len(first.key) == 32
    assert first.filename == f"{first.key}.png"
    again = draw(source)
    assert again is first
    assert formula_key(source, display=True) != first.key
    assert formula_key(" " + source + " ", display=False) == first.key


@pytest.mark.parametrize(
    "source",
    [
        r"\det\begin{pmatrix}a & b\\ c & d\end{pmatrix}",
        r"\begin{array}{cc} 1 & 2 \\ 3 & 4 \end{array}",
        r"\begin{aligned} \begin{pmatrix} 1 \end{pmatrix} &= x \end{aligned}",
        r"\text{损失} = \ell(x)",
        r"\undefinedcommand{x}",
        r"\frac{a}{",
        r"\href{https://example.com}{x}",
        r"\def\x{y}\x",
        "x" * 700,
        "{" * 250 + "x" + "}" * 250,
        "",
        "$x$",
    ],
)
def test_what_mathtext_cannot_draw_faithfully_is_not_drawn(source: str) -> None:
    assert draw(source) is None


def test_a_hostile_formula_within_the_length_bound_is_refused_or_bounded() -> None:
    assert draw("{" * 290 + "x" + "}" * 290) is None
    assert draw("x^" * 250 + "y") is None
    nested = draw(r"\sqrt{" * 60 + "x" + "}" * 60)
    assert nested is None or (nested.width <= MAX_WIDTH_PX and nested.height <= MAX_HEIGHT_PX)


def test_the_blog_spellings_mathtext_lacks_are_rewritten() -> None:
    assert to_mathtext(r"\sum\limits_{i} x_i") == r"\sum _{i} x_i"
    assert to_mathtext(r"\lVert x\rVert \le 1") == r"\Vert x\Vert \leq 1"
    assert to_mathtext(r"\tr(A)") == r"\operatorname{tr}(A)"
    assert to_mathtext(r"\mathop{\text{softmax}}(x)") == r"\operatorname{softmax}(x)"
    assert to_mathtext(r"\left(x\right)") == r"\left(x\right)"


def test_importing_the_application_loads_no_drawing_library() -> None:
    # matplotlib and numpy cost a large part of a second: only a process that draws pays for them.
    code = (
        "import sys, cli.main, web.app, bot.app, digest.formula_png, digest.mathml; "
        "print(sorted(m for m in ('matplotlib', 'numpy', 'PIL', 'latex2mathml') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_equation_labels_and_tags_are_dropped_not_refused() -> None:
    labelled = draw(r"\mathbb{E}[x^2] = \sigma^2 \label{eq:var}", display=True)
    plain = draw(r"\mathbb{E}[x^2] = \sigma^2", display=True)
    assert labelled is not None and plain is not None and labelled.png == plain.png
    assert draw(r"y = 2x \tag{3}") is not None and draw(r"y = 2x \nonumber") is not None


def test_an_aligned_environment_is_drawn_row_by_row_lined_up_at_the_relation() -> None:
    rows = draw(
        r"\begin{aligned} f(x) &= (x+1)^2 \\ &= x^2 + 2x + 1 \\[2pt] &\geq 0 \end{aligned}", display=True
    )
    one = draw(r"f(x) = (x+1)^2", display=True)
    assert rows is not None and one is not None
    assert rows.height > 2.5 * one.height and rows.width >= one.width
    image = _decode(rows.png)
    alpha = image.getchannel("A")
    # The second and third rows start right of the first (they line up at "=", after "f(x)").
    third = alpha.crop((0, rows.height * 3 // 4, rows.width, rows.height))
    first = alpha.crop((0, 0, rows.width, rows.height // 4))
    assert (third.getbbox() or (0,))[0] > (first.getbbox() or (0,))[0] + 10
    gathered = draw(r"\begin{gathered} a = b \\ \sum_i x_i = 1 \end{gathered}", display=True)
    assert gathered is not None and gathered.height > one.height
    assert draw(r"\begin{aligned}" + r"a &= b \\" * 20 + r"\end{aligned}", display=True) is None
