"""A LaTeX formula as MathML for the web pages (latex2mathml), checked and cleaned before it is trusted.

latex2mathml converts tolerantly: a command it does not know comes out as its name in an `<mi>` (`\\foo`
shown raw), an `aligned` environment as stray `&`, `\\href` as a link attribute. So its output is parsed,
kept only when well formed with no LaTeX left in it, and rebuilt from a list of MathML Core elements and
attributes (no link, no style, no event). Otherwise None: the page shows the readable Unicode text instead.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET

from digest.formula_png import name_operators

log = logging.getLogger(__name__)

MATHML_NS = "http://www.w3.org/1998/Math/MathML"
MAX_SOURCE_CHARS = 2000

_ELEMENTS = frozenset(
    {
        "math",
        "mrow",
        "mi",
        "mn",
        "mo",
        "ms",
        "mtext",
        "mspace",
        "mfrac",
        "msqrt",
        "mroot",
        "msub",
        "msup",
        "msubsup",
        "munder",
        "mover",
        "munderover",
        "mtable",
        "mtr",
        "mtd",
        "mstyle",
        "mpadded",
        "mphantom",
        "menclose",
        "merror",
        "semantics",
        "annotation",
    }
)
# How many children an element must have to mean anything (`\\frac{a` gives an `mfrac` of one).
_ARITY = {
    "mfrac": 2,
    "mroot": 2,
    "msub": 2,
    "msup": 2,
    "munder": 2,
    "mover": 2,
    "msubsup": 3,
    "munderover": 3,
}
_ATTRIBUTES = frozenset(
    {
        "display",
        "mathvariant",
        "stretchy",
        "movablelimits",
        "fence",
        "separator",
        "accent",
        "accentunder",
        "lspace",
        "rspace",
        "width",
        "height",
        "depth",
        "linethickness",
        "columnalign",
        "rowalign",
        "columnspacing",
        "rowspacing",
        "columnlines",
        "rowlines",
        "displaystyle",
        "scriptlevel",
        "largeop",
        "symmetric",
        "minsize",
        "maxsize",
        "notation",
        "form",
    }
)


def to_mathml(source: str, *, display: bool = False, alt: str = "") -> str | None:
    """`source` (LaTeX, without `$`) as a `<math>` element with `alttext=alt`, or None when it does not
    convert cleanly."""
    text = source.strip()
    if not text or len(text) > MAX_SOURCE_CHARS:
        return None
    try:
        from latex2mathml.converter import convert

        raw = convert(_arrays(name_operators(text)), display="block" if display else "inline")
        root = ET.fromstring(raw)
    except Exception as exc:  # latex2mathml raises its own errors, IndexError, RecursionError, …
        log.debug("mathml: %s does not convert: %s", text[:40], type(exc).__name__)
        return None
    cleaned = _clean(root)
    if cleaned is None:
        return None
    if alt:
        cleaned.set("alttext", alt)
    cleaned.set("display", "block" if display else "inline")
    return ET.tostring(cleaned, encoding="unicode", short_empty_elements=True)


# MathML Core (Chromium) honours only `mathvariant="normal"`: a bold `\\boldsymbol{W}` is written with the
# Unicode mathematical alphanumerics instead (𝑾), which every engine shows.
_LATIN = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_GREEK = "ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡϴΣΤΥΦΧΨΩ∇αβγδεζηθικλμνξοπρςστυφχψω∂ϵϑϰϕϱϖ"
_STYLED = {
    "bold": (0x1D400, 0x1D6A8, 0x1D7CE),
    "bold-italic": (0x1D468, 0x1D71C, 0x1D7CE),
    "italic": (0x1D434, 0x1D6E2, None),
}
# Letters that have their own older code point (ℎ is the italic h).
_HOLES = {"italic": {"h": "ℎ"}}


def styled(text: str, variant: str) -> str | None:
    """`text` in the Unicode mathematical alphabet of `variant`, or None when a character has none there."""
    starts = _STYLED.get(variant)
    if starts is None:
        return None
    latin, greek, digits = starts
    out = []
    for char in text:
        if char in _HOLES.get(variant, {}):
            out.append(_HOLES[variant][char])
        elif char in _LATIN:
            out.append(chr(latin + _LATIN.index(char)))
        elif char in _GREEK:
            out.append(chr(greek + _GREEK.index(char)))
        elif char.isdigit() and char.isascii() and digits is not None:
            out.append(chr(digits + int(char)))
        else:
            return None
    return "".join(out)


_ALIGNED = re.compile(r"\\begin\{(aligned|align\*?|split|gathered|eqnarray\*?)\}(.*?)\\end\{\1\}", re.DOTALL)


def _arrays(source: str) -> str:
    """Alignment environments (`aligned`, `align`, `split`) as the `array` latex2mathml converts: columns
    alternately right and left aligned, as many as the widest row has cells."""

    def array(match: re.Match[str]) -> str:
        body = match.group(2)
        cells = max((row.count("&") for row in body.split("\\\\")), default=0) + 1
        spec = ("rl" * cells)[:cells] if match.group(1) != "gathered" else "c"
        return "\\begin{array}{" + spec + "}" + body + "\\end{array}"

    return _ALIGNED.sub(array, source)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _clean(element: ET.Element) -> ET.Element | None:
    """A copy of `element` with only known elements and attributes, or None when LaTeX was left over."""
    name = _local(element.tag)
    if name not in _ELEMENTS or len(element) != _ARITY.get(name, len(element)):
        return None
    text = element.text or ""
    # LaTeX latex2mathml did not understand comes out as a stray `&`, or a brace as an identifier; an
    # operator brace (`\\{x\\}`, `cases`) is mathematics.
    stray = text.strip() == "&" or (name == "mi" and text.strip() in ("{", "}"))
    if "\\" in text or (name in ("mi", "mo") and stray):
        return None
    copy = ET.Element(name)
    if name == "math":
        copy.set("xmlns", MATHML_NS)
    for attribute, value in element.attrib.items():
        if _local(attribute) in _ATTRIBUTES:
            copy.set(_local(attribute), value)
    copy.text = element.text
    variant = element.get("mathvariant")
    if name in ("mi", "mn") and variant and element.text and len(element) == 0:
        converted = styled(element.text, variant)
        if converted is not None:
            copy.text = converted
            copy.attrib.pop("mathvariant", None)
    for child in element:
        cleaned = _clean(child)
        if cleaned is None:
            return None
        cleaned.tail = child.tail
        copy.append(cleaned)
    return copy
