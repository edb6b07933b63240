"""LaTeX made readable as Unicode text: `$\\boldsymbol{Q}\\boldsymbol{K}^{\\top}/\\sqrt{d}$` reads `QKᵀ/√d`.

pylatexenc parses (tolerantly: an excerpt may hold a broken formula), unicodeit supplies the symbol,
styled-alphabet and sub/superscript tables, and the tables below add what the blog uses and they miss.
Only math is interpreted; the text around it is kept exactly as written.
"""

from archive.latex.rendering import render_math
from archive.latex.segments import Segment, SegmentKind, latex_to_text, split_math
from archive.latex.spacing import is_atomic
from archive.latex.tables import NAMED_OPERATORS, SYMBOLS

__all__ = [
    "NAMED_OPERATORS",
    "SYMBOLS",
    "Segment",
    "SegmentKind",
    "is_atomic",
    "latex_to_text",
    "render_math",
    "split_math",
]
