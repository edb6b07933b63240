"""The tokens of a parsed formula and the tables that read them: symbols, operators, fonts, scripts."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from pylatexenc.macrospec import LatexContextDb
from unicodeit.data import COMBININGMARKS, REPLACEMENTS, SUBSUPERSCRIPTS

log = logging.getLogger(__name__)

# Sentinels in the intermediate output: named operators get a space only where one reads better.
_OP_L = "\ue000"
_OP_R = "\ue001"
_ROW = "\ue002"
_FRAC = "\ue003"
_FRAC_END = "\ue004"
_OP_SCRIPTED = "\ue005"
_LOOSE = "\ue006"
_SOFT = "\ue007"
_SENTINELS = frozenset({_OP_L, _OP_R, _FRAC, _FRAC_END, _OP_SCRIPTED, _LOOSE, _SOFT})
# Relations and binary operators: a space written after a command next to one of them is kept.
_SPACED = frozenset("=≠≈≤≥<>≪≫≺≻≡≢∝→←↔⟶⇒⇐⇔↦∼≁≃≅≜≔+-−±∓×÷·⋅∘⊗⊕⊙∈∉⊂⊃⊆⊇∖∪∩∧∨∣⊥∥")


@dataclass(frozen=True, slots=True)
class _Char:
    ch: str


@dataclass(frozen=True, slots=True)
class _Macro:
    name: str


@dataclass(frozen=True, slots=True)
class _Group:
    items: tuple[_Token, ...]


@dataclass(frozen=True, slots=True)
class _Env:
    name: str
    items: tuple[_Token, ...]


@dataclass(frozen=True, slots=True)
class _Math:
    items: tuple[_Token, ...]


_Token = _Char | _Macro | _Group | _Env | _Math

# --- tables -------------------------------------------------------------------------------------------

# Where unicodeit's choice reads worse in a chat message, or where it has nothing.
_SYMBOL_OVERRIDES: dict[str, str] = {
    "cdot": "·",
    "cdotp": "·",
    "langle": "⟨",
    "rangle": "⟩",
    "mid": "∣",
    "vert": "|",
    "lvert": "|",
    "rvert": "|",
    "Vert": "‖",
    "lVert": "‖",
    "rVert": "‖",
    "|": "‖",
    "star": "⋆",
    "ast": "*",
    "lbrace": "{",
    "rbrace": "}",
    "colon": ":",
    "ldots": "…",
    "dots": "…",
    "dotsc": "…",
    "dotsb": "⋯",
    "cdots": "⋯",
    "vdots": "⋮",
    "ddots": "⋱",
    "top": "⊤",
    "intercal": "⊺",
    "emptyset": "∅",
    "varnothing": "∅",
    "le": "≤",
    "leq": "≤",
    "leqslant": "≤",
    "ge": "≥",
    "geq": "≥",
    "geqslant": "≥",
    "ne": "≠",
    "neq": "≠",
    "to": "→",
    "gets": "←",
    "iff": "⇔",
    "implies": "⇒",
    "impliedby": "⇐",
    "lfloor": "⌊",
    "rfloor": "⌋",
    "lceil": "⌈",
    "rceil": "⌉",
    "backslash": "\\",
    "setminus": "∖",
    "coloneqq": "≔",
    "triangleq": "≜",
    "circ": "∘",
    "degree": "°",
    "Box": "□",
    "prime": "′",
    "epsilon": "ε",
    "varepsilon": "ε",
    "Re": "Re",
    "Im": "Im",
    "{": "{",
    "}": "}",
    "%": "%",
    "$": "$",
    "&": "&",
    "#": "#",
    "_": "_",
}

# Spacing commands: all of them read as one space (or none) in plain text.
_SPACES: dict[str, str] = {
    ",": " ",
    ";": " ",
    ":": " ",
    ">": " ",
    " ": " ",
    "quad": " ",
    "qquad": " ",
    "enspace": " ",
    "thinspace": " ",
    "medspace": " ",
    "thickspace": " ",
    "space": " ",
    "!": "",
    "negthinspace": "",
    "hfill": " ",
}

# Operators shown by their names.
NAMED_OPERATORS = frozenset(
    [
        "log",
        "ln",
        "lg",
        "exp",
        "det",
        "max",
        "min",
        "sup",
        "inf",
        "lim",
        "liminf",
        "limsup",
        "arg",
        "argmin",
        "argmax",
        "sin",
        "cos",
        "tan",
        "cot",
        "sec",
        "csc",
        "sinh",
        "cosh",
        "tanh",
        "coth",
        "arcsin",
        "arccos",
        "arctan",
        "dim",
        "ker",
        "deg",
        "gcd",
        "lcm",
        "hom",
        "Pr",
        "tr",
        "Tr",
        "diag",
        "rank",
        "sgn",
        "sign",
        "softmax",
        "erf",
        "mod",
        "bmod",
        "var",
        "Var",
        "cov",
        "Cov",
    ]
)

# Commands that only change the typeface: the letters are kept as they are (plain letters stay searchable).
_FONT_IDENTITY = frozenset(
    [
        "boldsymbol",
        "bm",
        "mathbf",
        "mathrm",
        "mathit",
        "mathsf",
        "mathtt",
        "mathnormal",
        "pmb",
        "textbf",
        "textit",
        "textsf",
        "texttt",
        "emph",
        "boxed",
        "mathclap",
        "mathllap",
        "mathrlap",
        "smash",
        "displaylimits",
        # TeX's atom classes and MathJax's wrappers change spacing or decoration, never the letters.
        "mathord",
        "mathrel",
        "mathbin",
        "mathpunct",
        "mathopen",
        "mathclose",
        "mathinner",
        "cancel",
        "bcancel",
        "xcancel",
        "llap",
        "rlap",
        "clap",
    ]
)

# Commands whose argument is text, not math.
_TEXT_MACROS = frozenset(["text", "textrm", "textup", "textnormal", "mbox", "hbox"])

# Styled alphabets with Unicode letters; aliases map onto the font unicodeit knows.
_STYLED_ALIASES = {
    "mathbb": "mathbb",
    "Bbb": "mathbb",
    "mathbbm": "mathbb",
    "mathds": "mathbb",
    "mathcal": "mathcal",
    "mathscr": "mathcal",
    "mathfrak": "mathfrak",
}

# Commands with nothing to show (sizes, styles, equation bookkeeping), by how many arguments they swallow.
_DROPPED: dict[str, int] = {
    **dict.fromkeys(
        [
            "left",
            "right",
            "middle",
            "big",
            "Big",
            "bigg",
            "Bigg",
            "bigl",
            "bigr",
            "Bigl",
            "Bigr",
            "biggl",
            "biggr",
            "Biggl",
            "Biggr",
            "bigm",
            "Bigm",
            "displaystyle",
            "textstyle",
            "scriptstyle",
            "scriptscriptstyle",
            "limits",
            "nolimits",
            "nonumber",
            "notag",
            "mathstrut",
            "strut",
            "centering",
            "allowbreak",
            "relax",
            "nobreak",
            # Table rules and the old font and size switches: what follows them is the content.
            "hline",
            "hdashline",
            "bf",
            "it",
            "rm",
            "sf",
            "tt",
            "cal",
            "frak",
            "tiny",
            "scriptsize",
            "footnotesize",
            "small",
            "normalsize",
            "large",
            "Large",
            "LARGE",
            "huge",
            "Huge",
        ],
        0,
    ),
    **dict.fromkeys(
        [
            "label",
            "tag",
            "hspace",
            "vspace",
            "phantom",
            "hphantom",
            "vphantom",
            "color",
            "cline",
            "mspace",
            "require",
            "unicode",
        ],
        1,
    ),
    **dict.fromkeys(["rule"], 2),
    **dict.fromkeys(["newcommand", "renewcommand", "providecommand", "def", "DeclareMathOperator"], 2),
}
_DELIMITER_SIZERS = frozenset(
    name for name, arity in _DROPPED.items() if arity == 0 and "big" in name.lower()
)
_DELIMITER_SIZERS |= {"left", "right", "middle"}
# `\left( x \right)` reads `(x)`: the space inside a sized pair is the author's layout, not content.
_OPENING_SIZERS = frozenset(name for name in _DELIMITER_SIZERS if name == "left" or name.endswith("l"))
_CLOSING_SIZERS = frozenset(name for name in _DELIMITER_SIZERS if name == "right" or name.endswith("r"))
# Spacing by a dimension written right after the name (`\kern-3mu`, `\mskip 2mu`): no content at all.
_DIMENSION_SPACERS = frozenset(["kern", "mkern", "mskip", "hskip"])
_DIMENSION = re.compile(r"\s*[-+]?\s*(?:\d+\.?\d*|\.\d+)\s*(?:pt|mu|em|ex|px|cm|mm|in|pc|bp|dd|sp)?")
# `\textcolor{red}{x}` and kin: the first argument is styling (a colour, CSS, a URL), the second content.
_STYLED_SECOND = frozenset(
    ["textcolor", "colorbox", "style", "class", "cssId", "href", "enclose", "raise", "lower"]
)
# Infix fractions of plain TeX: `{a \over b}`, `{n \choose k}`.
_INFIX = frozenset(["over", "atop", "above", "choose"])
# An optional argument (`\sqrt[3]`, `\\[2pt]`) is short; looking further for its `]` would make a formula
# full of unclosed `[` quadratic.
_OPTIONAL_SPAN = 64

_ACCENTS: dict[str, str] = {
    **{name.lstrip("\\"): mark for name, mark in COMBININGMARKS},
    "bar": "\u0304",
    "overline": "\u0305",
    "widetilde": "\u0303",
    "widehat": "\u0302",
    "overrightarrow": "\u20d7",
    "mathring": "\u030a",
    "check": "\u030c",
}

_NEGATED = {
    "=": "≠",
    "∈": "∉",
    "≡": "≢",
    "⊂": "⊄",
    "⊃": "⊅",
    "<": "≮",
    ">": "≯",
    "≤": "≰",
    "≥": "≱",
    "∼": "≁",
}

_MATRICES = {
    "pmatrix": ("(", ")"),
    "bmatrix": ("[", "]"),
    "Bmatrix": ("{", "}"),
    "vmatrix": ("|", "|"),
    "Vmatrix": ("‖", "‖"),
    "matrix": ("[", "]"),
    "smallmatrix": ("[", "]"),
    "array": ("[", "]"),
    "subarray": ("", ""),
}
_CASES = frozenset({"cases", "dcases", "rcases"})

_DISPLAY_ENVIRONMENTS = frozenset(
    ["equation", "align", "gather", "multline", "eqnarray", "displaymath", "flalign", "alignat"]
)


def _symbol_table() -> dict[str, str]:
    table = {
        name[1:]: char for name, char in REPLACEMENTS if re.fullmatch(r"\\[A-Za-z]+", name) and char.strip()
    }
    table.update(_SYMBOL_OVERRIDES)
    return table


def _styled_table() -> dict[tuple[str, str], str]:
    table: dict[tuple[str, str], str] = {}
    for name, char in REPLACEMENTS:
        found = re.fullmatch(r"\\(mathbb|mathcal|mathfrak)\{(.)\}", name)
        if found:
            table[(found.group(1), found.group(2))] = char
    return table


def _script_tables() -> tuple[dict[str, str], dict[str, str]]:
    sub: dict[str, str] = {}
    sup: dict[str, str] = {}
    # unicodeit maps a few characters onto look-alikes from other scripts; those read as noise.
    unwanted = {"^V", "^.", "^<", "^>", "_<", "_>", "^∫"}
    for key, char in SUBSUPERSCRIPTS:
        if key in unwanted:
            continue
        (sub if key[0] == "_" else sup)[key[1:]] = char
    sup.update({"⊤": "ᵀ", "⊺": "ᵀ", "′": "′", "″": "″", "∘": "°", "†": "†", "θ": "ᶿ", "ι": "ᶥ", "*": "*"})
    sup.update({"∗": "*", " ": "", "−": "⁻"})
    sub.update({" ": "", "−": "₋"})
    return sub, sup


SYMBOLS = _symbol_table()
_STYLED = _styled_table()
SUBSCRIPTS, SUPERSCRIPTS = _script_tables()
_SCRIPT_CHARS = frozenset(SUBSCRIPTS.values()) | frozenset(SUPERSCRIPTS.values())
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def _context() -> LatexContextDb:
    # No macro knows its arguments here: the renderer takes them itself, so every macro parses alike.
    return LatexContextDb()


_CONTEXT = _context()
