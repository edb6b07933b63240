"""The formulas of one mail: cid images sized in CSS, each attached once, within a byte budget."""

from __future__ import annotations

import re

from digest.formula_png import draw
from digest.formulas import Formula
from digest.mail_formulas import MailFormulas

INLINE = Formula(r"\boldsymbol{A}^{\top}\boldsymbol{x}", False, "Aᵀx")
DISPLAY = Formula(r"\int_0^1 f(t)\,\mathrm{d}t", True, "∫₀¹ f(t) dt")


def test_inline_and_display_images_name_their_part_by_cid_with_unicode_alt() -> None:
    mail = MailFormulas("example.org")
    inline, display = mail.html(INLINE), mail.html(DISPLAY)
    assert inline is not None and display is not None
    drawn = draw(INLINE.source)
    assert drawn is not None
    assert f'src="cid:f{drawn.key}@example.org"' in inline and 'alt="Aᵀx"' in inline
    assert f"height:{drawn.css_height:g}px" in inline and "vertical-align:-" in inline
    assert "display:block;margin:8px auto" in display
    assert [image.cid for image in mail.images] == [f"f{drawn.key}@example.org", mail.images[1].cid]


def test_a_formula_used_twice_is_attached_once_and_an_undrawable_one_is_text() -> None:
    mail = MailFormulas("example.org")
    assert mail.html(INLINE) == mail.html(INLINE)
    assert len(mail.images) == 1
    assert mail.html(Formula(r"\begin{pmatrix}1\end{pmatrix}", False, "(1)")) is None
    assert len(mail.images) == 1


def test_past_the_budget_formulas_stay_text() -> None:
    first = draw(INLINE.source)
    assert first is not None
    mail = MailFormulas("example.org", budget=len(first.png) + 10)
    assert mail.html(INLINE) is not None
    assert mail.html(DISPLAY) is None
    assert mail.used <= mail.budget and len(mail.images) == 1


def test_alt_text_is_escaped() -> None:
    html = MailFormulas("e.org").html(Formula("a<b", False, 'a<b "q"'))
    assert html is not None and 'alt="a&lt;b &quot;q&quot;"' in html and not re.search(r'alt="[^"]*<', html)
