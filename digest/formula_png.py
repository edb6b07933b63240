"""A LaTeX formula drawn as a PNG: matplotlib's mathtext on the Agg rasterizer, no TeX, no network.

Mathtext parses a subset of LaTeX with its own parser and draws glyphs of fonts shipped inside matplotlib, so
drawing runs nothing the formula says. The blog's common spellings mathtext lacks (`\\limits`, `\\lVert`,
`\\big(`, `\\tr`, …) are rewritten to ones it has; what it still cannot draw (`\\begin{pmatrix}`, a glyph
its fonts lack such as CJK) gives None, and the caller shows the readable Unicode text instead.

A drawing is made at twice its CSS pixel size (sharp on dense screens) and memoized by the hash of its
source: a digest shows one formula to every recipient. matplotlib is imported on the first drawing only, so
a process that never draws (the bot, the CLI) never pays for it.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

SCALE = 2
# The CSS pixel size of the body text the formula sits in (the mail and the feeds use 15-16 px).
FONT_PX = 18
DISPLAY_FONT_PX = 22
# Bounds for a hostile or absurd formula: longer sources and larger drawings are not drawn.
MAX_SOURCE_CHARS = 600
MAX_WIDTH_PX = 1800 * SCALE
MAX_HEIGHT_PX = 300 * SCALE
_CACHE_SIZE = 2048

# Mathtext's own cache of parses is small; ours holds finished PNGs. One lock: mathtext's parser and
# font caches are shared state, and a drawing takes milliseconds.
_lock = threading.Lock()
_cache: OrderedDict[str, Drawing | None] = OrderedDict()

# Spellings mathtext does not know, rewritten to ones it draws the same (or near enough).
_DROPPED = re.compile(
    r"\\(?:limits|nolimits|displaystyle|textstyle|scriptstyle|scriptscriptstyle)(?![A-Za-z])"
)
_SIZED = re.compile(r"\\(?:big|Big|bigg|Bigg)[lrm]?(?![A-Za-z])")
_OPERATORS = {
    name: rf"\operatorname{{{name}}}" for name in ("tr", "Tr", "argmax", "argmin", "diag", "rank", "softmax")
}
_RENAMED = {
    **_OPERATORS,
    "lVert": r"\Vert",
    "rVert": r"\Vert",
    "lvert": "|",
    "rvert": "|",
    "le": r"\leq",
    "ge": r"\geq",
    "ne": r"\neq",
    "tfrac": r"\frac",
    "land": r"\wedge",
    "lor": r"\vee",
    "gets": r"\leftarrow",
}
_COMMAND = re.compile(r"\\([A-Za-z]+)")
_MATHOP_TEXT = re.compile(r"\\mathop\s*\{\s*\\(?:text|mathrm|rm)\s*\{([A-Za-z ]+)\}\s*\}")
_MATHOP = re.compile(r"\\mathop\s*\{([A-Za-z]+)\}")
# Characters mathtext's fonts have no glyph for: a drawing would show a box in their place.
_NO_GLYPH = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\U00020000-\U0002ffff]")
# An alignment environment that is the whole formula, and its row breaks (`\\\\`, `\\\\[2pt]`).
_ALIGNMENT = re.compile(
    r"\s*\\begin\{(aligned|align\*?|split|gathered|eqnarray\*?)\}(.*)\\end\{\1\}\s*", re.DOTALL
)
_ROW_BREAK = re.compile(r"\\\\(?:\[[^\]]{0,20}\])?")
MAX_ROWS = 12
_LABELS = re.compile(r"\\(?:label|tag\*?)\s*\{[^{}]{0,200}\}|\\(?:nonumber|notag)(?![A-Za-z])")
_REFUSED = re.compile(
    r"\\(?:begin|end|label|tag|ref|eqref|href|url|input|include|def|newcommand)(?![A-Za-z])"
)


@dataclass(frozen=True, slots=True)
class Drawing:
    """A formula drawn as a PNG at `SCALE` times its CSS size; `depth` is how far it reaches below the
    baseline, in image pixels (for `vertical-align`)."""

    key: str
    source: str
    display: bool
    png: bytes
    width: int
    height: int
    depth: int

    @property
    def css_width(self) -> float:
        """The width in CSS pixels."""
        return self.width / SCALE

    @property
    def css_height(self) -> float:
        """The height in CSS pixels."""
        return self.height / SCALE

    @property
    def css_depth(self) -> float:
        """How far below the text baseline the image reaches, in CSS pixels."""
        return self.depth / SCALE

    @property
    def filename(self) -> str:
        """A stable file name: the key and `.png`."""
        return f"{self.key}.png"


def formula_key(source: str, *, display: bool) -> str:
    """The hash a drawing is cached and named by (128 bits of SHA-256 of its kind and source)."""
    digest = hashlib.sha256(f"{'display' if display else 'inline'}\n{source.strip()}".encode())
    return digest.hexdigest()[:32]


def name_operators(source: str) -> str:
    """`source` without equation labels and tags (`\\label{eq:x}`, `\\tag{1}`, `\\nonumber`: a display
    formula of the blog nearly always has one, and they number nothing in an excerpt), and with the operator
    names the blog defines as macros (`\\tr`, `\\argmax`) spelled out."""
    text = _LABELS.sub("", source)
    return _COMMAND.sub(lambda m: _OPERATORS.get(m.group(1), m.group(0)), text)


def to_mathtext(source: str) -> str | None:
    """`source` rewritten to mathtext's dialect, or None when it holds what mathtext cannot draw."""
    text = _LABELS.sub("", source).strip()
    if not text or len(text) > MAX_SOURCE_CHARS or "$" in text or _NO_GLYPH.search(text):
        return None
    if _REFUSED.search(text):
        return None
    text = _MATHOP_TEXT.sub(lambda m: r"\operatorname{" + m.group(1).replace(" ", "") + "}", text)
    text = _MATHOP.sub(lambda m: r"\operatorname{" + m.group(1) + "}", text)
    text = _DROPPED.sub(" ", text)
    text = _SIZED.sub("", text)
    text = _COMMAND.sub(lambda m: _RENAMED.get(m.group(1), m.group(0)), text)
    return text.strip() or None


def draw(source: str, *, display: bool = False) -> Drawing | None:
    """`source` (LaTeX, without `$`) drawn as a PNG, or None when mathtext cannot draw it faithfully."""
    key = formula_key(source, display=display)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        drawing = _draw(key, source.strip(), display)
        _cache[key] = drawing
        if len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
        return drawing


def cached(key: str) -> Drawing | None:
    """A drawing already made, by its key (the web app serves them so), or None."""
    with _lock:
        return _cache.get(key)


class _GlyphMissing(logging.Handler):
    """Catches mathtext's warning that a font lacks a glyph (it would draw a dummy box)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.missing = False

    def emit(self, record: logging.LogRecord) -> None:
        self.missing = True


def _draw(key: str, source: str, display: bool) -> Drawing | None:
    size = (DISPLAY_FONT_PX if display else FONT_PX) * SCALE
    rows = _ALIGNMENT.fullmatch(_LABELS.sub("", source))
    if rows is not None:
        drawn = _draw_rows(rows.group(2), size, centred=rows.group(1) == "gathered")
    else:
        drawn = _raster(source, size)
    if drawn is None:
        log.debug("formula %s: not drawable by mathtext", key)
        return None
    image, depth = drawn
    height, width = int(image.shape[0]), int(image.shape[1])
    if not (0 < width <= MAX_WIDTH_PX and 0 < height <= MAX_HEIGHT_PX) or not image.any():
        return None
    return Drawing(key, source, display, _png(image), width, height, depth)


def _raster(source: str, size: int) -> tuple[Any, int] | None:
    """Mathtext's coverage mask of `source` and its depth below the baseline, or None."""
    text = to_mathtext(source)
    if text is None:
        return None
    parser, prop = _parser(size)
    watcher = _GlyphMissing()
    mathtext_log = logging.getLogger("matplotlib.mathtext")
    mathtext_log.addHandler(watcher)
    try:
        parsed = parser.parse(f"${text}$", dpi=72, prop=prop)
    except Exception:  # mathtext raises ValueError, pyparsing's own errors, RecursionError
        return None
    finally:
        mathtext_log.removeHandler(watcher)
    if watcher.missing:
        return None
    return parsed.image, round(parsed.depth)


def _draw_rows(body: str, size: int, *, centred: bool) -> tuple[Any, int] | None:
    """An alignment environment (`aligned`, `align`, `split`) drawn row by row, the rows stacked and lined
    up at their first `&` (mathtext has no environments; `gathered` is centred)."""
    import numpy as np

    rows = [row for row in _ROW_BREAK.split(body) if row.strip()]
    if not rows or len(rows) > MAX_ROWS:
        return None
    drawn: list[tuple[Any, int]] = []
    for row in rows:
        left, _, right = row.partition("&")
        whole = _raster(left + " " + right.replace("&", r"\quad "), size)
        lead = _raster(left, size) if left.strip() and not centred else None
        if whole is None or (left.strip() and not centred and lead is None):
            return None
        drawn.append((whole[0], 0 if lead is None else int(lead[0].shape[1])))
    gap = size // 3
    align = max(lead for _, lead in drawn)
    offsets = [align - lead for _, lead in drawn]
    width = max(offset + image.shape[1] for (image, _), offset in zip(drawn, offsets, strict=True))
    if centred:
        offsets = [(width - image.shape[1]) // 2 for image, _ in drawn]
    height = sum(image.shape[0] for image, _ in drawn) + gap * (len(drawn) - 1)
    if width > MAX_WIDTH_PX or height > MAX_HEIGHT_PX:
        return None
    canvas = np.zeros((height, width), dtype=np.uint8)
    top = 0
    for (image, _), offset in zip(drawn, offsets, strict=True):
        rows_px, cols_px = image.shape
        canvas[top : top + rows_px, offset : offset + cols_px] = np.maximum(
            canvas[top : top + rows_px, offset : offset + cols_px], image
        )
        top += rows_px + gap
    return canvas, height // 2


def _png(coverage: Any) -> bytes:
    """The coverage mask as a PNG: dark ink on transparency (reads on white and on a tinted background).

    Grey and alpha (PNG colour type 4): a fifth smaller than RGBA and quicker to compress.
    """
    import numpy as np
    from PIL import Image

    pixels = np.zeros((*coverage.shape, 2), dtype=np.uint8)
    pixels[..., 0] = 0x22
    pixels[..., 1] = coverage
    out = io.BytesIO()
    Image.fromarray(pixels, "LA").save(out, format="PNG", optimize=True)
    return out.getvalue()


_parsers: dict[int, tuple[Any, Any]] = {}


def _parser(size: int) -> tuple[Any, Any]:
    """Mathtext's raster parser and the font properties of `size` pixels (STIX: LaTeX-like, and its strokes
    stay legible on a screen of ordinary density, where Computer Modern's thin ones fade)."""
    found = _parsers.get(size)
    if found is None:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.font_manager import FontProperties
        from matplotlib.mathtext import MathTextParser

        found = _parsers[size] = (MathTextParser("agg"), FontProperties(size=size, math_fontfamily="stix"))
    return found
