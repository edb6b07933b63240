"""The weekly mail draws its formulas: the MIME tree, cid images with Unicode alt, no raw LaTeX, the size."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from email.message import EmailMessage
from html import unescape

import pytest
from PIL import Image

from notifier.mail import weekly
from tests.support.formulas import FORMULA_POSTS
from tests.support.mail import MONDAY, MailWorld
from tests.support.store import seed

ADDRESS = "maths@example.com"
IMG = re.compile(r"<img\b[^>]*>")
ATTRIBUTE = re.compile(r'(\w+)="([^"]*)"')


async def _mail(world: MailWorld) -> tuple[EmailMessage, bytes]:
    await seed(world.app.db, FORMULA_POSTS, now=MONDAY - timedelta(days=1))
    await world.confirmed(ADDRESS)
    assert (await world.weekly().run(force=True)).sent == 1
    (message,) = world.smtp.to(ADDRESS)
    raw = next(m.raw for m in world.smtp.messages if ADDRESS in m.rcpt_tos)
    return message, raw


def _tree(part: EmailMessage) -> object:
    if part.is_multipart():
        return (part.get_content_type(), [_tree(p) for p in part.iter_parts()])  # type: ignore[arg-type]
    return part.get_content_type()


async def test_the_mail_draws_formulas_as_cid_pngs_with_unicode_alt_and_stays_small(world: MailWorld) -> None:
    message, raw = await _mail(world)
    tree = _tree(message)
    assert isinstance(tree, tuple) and tree[0] == "multipart/alternative"
    text_type, related = tree[1]
    assert text_type == "text/plain"
    assert isinstance(related, tuple) and related[0] == "multipart/related"
    assert related[1][0] == "text/html" and set(related[1][1:]) == {"image/png"}

    html_part = message.get_body(("html",))
    assert html_part is not None
    html = str(html_part.get_content())
    images = [dict(ATTRIBUTE.findall(tag)) for tag in IMG.findall(html)]
    # The matrix, the sum of fractions and the Frobenius norm are drawn; the pmatrix is text.
    assert len(images) >= 3
    parts = {
        str(part["Content-ID"]).strip("<>"): part
        for part in message.walk()
        if part.get_content_type() == "image/png"
    }
    assert len(parts) == len({image["src"] for image in images})
    for image in images:
        assert image["src"].startswith("cid:") and image["src"][4:] in parts
        alt = unescape(image["alt"])
        assert alt and "\\" not in alt and "{" not in alt
        assert re.search(r"height:[0-9.]+px", image["style"])
        png = parts[image["src"][4:]].get_content()
        assert isinstance(png, bytes) and png.startswith(b"\x89PNG\r\n\x1a\n")
        drawn = Image.open(io.BytesIO(png))
        # Drawn at twice the CSS size it is shown at.
        css = dict(re.findall(r"(width|height):([0-9.]+)px", image["style"]))
        assert drawn.size == (round(2 * float(css["width"])), round(2 * float(css["height"])))
    assert any("ℝ" in unescape(image["alt"]) for image in images)
    assert any("display:block" in image["style"] for image in images)
    assert any("vertical-align:-" in image["style"] for image in images)
    # No raw LaTeX anywhere a reader looks.
    visible = re.sub(r"<[^>]+>", "", html)
    assert "\\" not in visible and "pmatrix" not in html and "\\boldsymbol" not in html
    assert "det(a, b; c, d) = ad - bc" in unescape(visible)
    # The text part is the readable text, as before.
    text = message.get_body(("plain",))
    assert text is not None
    plain = str(text.get_content())
    assert "cid:" not in plain and "\\" not in plain and "M∈ℝ^(n×m)" in plain
    assert len(raw) < 400_000
    print(f"\nthe four-formula mail weighs {len(raw):,} bytes with {len(parts)} PNG parts")


async def test_a_mail_that_would_be_too_heavy_goes_with_formulas_as_text(
    world: MailWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(weekly, "MAX_MAIL_BYTES", 5_000)
    message, _ = await _mail(world)
    assert message.get_content_type() == "multipart/alternative"
    html_part = message.get_body(("html",))
    assert html_part is not None and html_part.get_content_type() == "text/html"
    html = str(html_part.get_content())
    assert "cid:" not in html and "M∈ℝ^(n×m)" in unescape(html)
    assert not [part for part in message.walk() if part.get_content_type() == "image/png"]
