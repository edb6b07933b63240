"""Formulas of one mail drawn as PNG parts: `<img src="cid:…">` in the HTML, each image attached once.

Gmail shows neither SVG, nor `data:` images, nor MathML, so a mail carries its formulas as `image/png` parts
of a `multipart/related` HTML part, each named by a Content-ID. The image is drawn at twice its CSS size and
sized in CSS: on the text's baseline when inline, centred on its own line when displayed. `alt` is the
readable Unicode text, for a client that blocks images. Past `budget` bytes of images, formulas stay text,
so a mail stays small whatever its digest holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from digest.formula_png import Drawing, draw
from digest.formulas import Formula

# Raw PNG bytes per mail: base64 grows them by a third, the text and HTML parts add some tens of KB,
# and the whole mail stays under 400 KB.
IMAGE_BUDGET = 240_000


@dataclass(frozen=True, slots=True)
class MailImage:
    """One PNG part: its Content-ID (without the angle brackets) and the drawing."""

    cid: str
    drawing: Drawing


class MailFormulas:
    """Draws the formulas of one mail and remembers the parts to attach (a new one per mail)."""

    def __init__(self, domain: str, *, budget: int = IMAGE_BUDGET) -> None:
        self.domain = domain
        self.budget = budget
        self.used = 0
        self._images: dict[str, MailImage] = {}

    @property
    def images(self) -> list[MailImage]:
        """The PNG parts the HTML names, each once, in order of first use."""
        return list(self._images.values())

    def html(self, formula: Formula) -> str | None:
        """The `<img>` of a formula, or None (show its Unicode text): not drawable, or the budget is spent."""
        drawing = draw(formula.source, display=formula.display)
        if drawing is None:
            return None
        image = self._images.get(drawing.key)
        if image is None:
            if self.used + len(drawing.png) > self.budget:
                return None
            self.used += len(drawing.png)
            image = self._images[drawing.key] = MailImage(f"f{drawing.key}@{self.domain}", drawing)
        return img_tag(image, formula.text)


def img_tag(image: MailImage, alt: str) -> str:
    """The `<img>` naming `image` by `cid:`, sized in CSS (half its pixels), placed inline or as display."""
    drawing = image.drawing
    width, height = drawing.css_width, drawing.css_height
    size = f"width:{width:g}px;height:{height:g}px"
    alt_text = escape(alt, quote=True)
    common = f'src="cid:{image.cid}" alt="{alt_text}" width="{round(width)}" height="{round(height)}"'
    if drawing.display:
        return f'<img {common} style="display:block;margin:8px auto;border:0;{size}">'
    return f'<img {common} style="display:inline;border:0;vertical-align:-{drawing.css_depth:g}px;{size}">'
