"""LaTeX made readable as Unicode text: `$\\boldsymbol{Q}\\boldsymbol{K}^{\\top}/\\sqrt{d}$` reads `QKᵀ/√d`.

pylatexenc parses (tolerantly: an excerpt may hold a broken formula), unicodeit supplies the symbol,
styled-alphabet and sub/superscript tables, and the tables below add what the blog uses and they miss.
Only math is interpreted; the text around it is kept exactly as written.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pylatexenc import latexwalker
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

# --- parsing ------------------------------------------------------------------------------------------


def _tokens(nodes: Sequence[object] | None) -> tuple[_Token, ...]:
    out: list[_Token] = []
    for node in nodes or ():
        if isinstance(node, latexwalker.LatexCharsNode):
            out.extend(_Char(c) for c in node.chars)
        elif isinstance(node, latexwalker.LatexMacroNode):
            out.append(_Macro(node.macroname))
            if node.macro_post_space:
                out.append(_Char(_SOFT))
        elif isinstance(node, latexwalker.LatexGroupNode):
            out.append(_Group(_tokens(node.nodelist)))
        elif isinstance(node, latexwalker.LatexEnvironmentNode):
            out.append(_Env(node.environmentname, _tokens(node.nodelist)))
        elif isinstance(node, latexwalker.LatexMathNode):
            out.append(_Math(_tokens(node.nodelist)))
        elif isinstance(node, latexwalker.LatexCommentNode):
            out.extend(_Char(c) for c in "%" + node.comment)
        elif isinstance(node, latexwalker.LatexSpecialsNode):
            out.extend(_Char(c) for c in node.specials_chars)
    return tuple(out)


def _parse(source: str) -> tuple[_Token, ...]:
    walker = latexwalker.LatexWalker(source, latex_context=_CONTEXT, tolerant_parsing=True)
    nodes, _, _ = walker.get_latex_nodes()
    return _tokens(nodes)


# --- rendering ----------------------------------------------------------------------------------------


def _balanced_wrap(text: str) -> bool:
    """True when `text` is one bracketed group: `(a+b)` but not `(a)+(b)`."""
    pairs = {"(": ")", "[": "]", "⟨": "⟩"}
    if len(text) < 2 or text[0] not in pairs or text[-1] != pairs[text[0]]:
        return False
    depth = 0
    for index, char in enumerate(text):
        if char == text[0]:
            depth += 1
        elif char == text[-1]:
            depth -= 1
            if depth == 0 and index != len(text) - 1:
                return False
    return depth == 0


_ATOM = re.compile(
    r"(?:\d+(?:\.\d+)?|[∂∇√]?[^\W_][\u0300-\u036f\u20d0-\u20ff]*|[∞ℝℕℤℚℂπ])"
    r"[" + re.escape("".join(sorted(_SCRIPT_CHARS))) + r"′″]*"
)


def is_atomic(text: str) -> bool:
    """One symbol (with accents and scripts), one number, or one bracketed group: needs no parentheses."""
    if _ATOM.fullmatch(text):
        return True
    if text.startswith("√") and len(text) > 1 and is_atomic(text[1:]):
        return True
    return _balanced_wrap(text)


def _wrap(text: str) -> str:
    return text if is_atomic(text) else f"({text})"


def _factor(text: str) -> str:
    """A fraction's side inside `op(…/…)`: bare when it is one product (`p(x)`), else in parentheses."""
    return text if is_atomic(text) or not re.search(r"[\s+\-−±=<>≤≥/]", text) else f"({text})"


def _script_text(body: str, kind: Literal["sub", "sup"]) -> str:
    """`²` where Unicode has the script forms, else `^x`, with parentheses around several symbols."""
    table = SUPERSCRIPTS if kind == "sup" else SUBSCRIPTS
    compact = "".join(c for c in body if c != " " and c not in _SENTINELS)
    if not compact:
        return ""
    if all(char in table for char in compact):
        return "".join(table[char] for char in compact)
    marker = "^" if kind == "sup" else "_"
    if len(compact) == 1:
        return marker + compact + _LOOSE
    return f"{marker}({body.strip()}){_LOOSE}"


def _collapse(text: str) -> str:
    return re.sub(r"[ \t\r\n\u2000-\u200a\u2003\u3000]+", " ", text).strip()


_INNER_SPACE = re.compile(r"(?<=[(\[{⟨⌊⌈]) +| +(?=[)\]}⟩⌋⌉])")


def _tighten(text: str) -> str:
    """`⌊x⌋` and `(a, b)`, not `⌊x ⌋` or `( a, b )`: a space just inside a bracket is only layout."""
    return _INNER_SPACE.sub("", text)


def _finish(text: str) -> str:
    """Resolve the spacing sentinels into spaces where the neighbouring characters call for one."""
    following = [""] * (len(text) + 1)
    for index in range(len(text) - 1, -1, -1):
        char = text[index]
        following[index] = following[index + 1] if char in _SENTINELS else char
    out: list[str] = []
    for index, char in enumerate(text):
        if char not in _SENTINELS:
            out.append(char)
            continue
        prev = out[-1] if out else ""
        before_prev = out[-2] if len(out) > 1 else ""
        nxt = following[index + 1]
        raw_next = next((c for c in text[index + 1 : index + 3] if c != _SOFT), "")
        if _space_at(char, prev, nxt, raw_next) or (
            char == _SOFT and prev in _SPACED and before_prev in ("", " ") and nxt and not nxt.isspace()
        ):
            out.append(" ")
    return "".join(out)


def _space_at(sentinel: str, prev: str, nxt: str, raw_next: str) -> bool:
    """Whether the sentinel between `prev` and `nxt` reads as a space."""
    if sentinel == _OP_L:
        # `x log x`, `t_(i,j) log p`, `∑ log p`, but `-log p`, `(log p)`.
        # `x∈R`, not `x∈ R`: after a relation or operator the name needs no space of its own.
        return bool(prev) and not prev.isspace() and prev not in "([{⟨|‖/,;:^_" and prev not in _SPACED
    if not nxt or nxt.isspace() or nxt in _SCRIPT_CHARS:
        return False
    if sentinel == _OP_R:
        # `log p`, `max f`, but `log(x)`, `log₂`; a fraction after an operator is set off: `log (a)/(b)`.
        return raw_next == _FRAC or nxt not in "([{|‖⟨,;.:)]}!′^_"
    if sentinel == _OP_SCRIPTED:
        # `lim_(n→∞) (1+1/n)ⁿ`, `maxₓ f(x)`.
        return nxt not in ",;.:)]}!′"
    if sentinel == _FRAC_END:
        # `1/2 ‖x‖²`, `1/n ∑ xᵢ`: what follows a fraction is not part of its denominator.
        return nxt not in ")]},.;:!?=+-−<>≤≥≠≈|/′^_"
    if sentinel == _LOOSE:
        # `W_q xₘ`, not `W_qxₘ`.
        return nxt.isalnum()
    if sentinel == _SOFT:
        # The space after a command is kept before a relation or binary operator (`cos θ + i`), and after
        # one that has a space before it or opens the row (`a ≠ b`, `≈ 1/N`, but `rank(M)≤r`): the caller
        # checks the latter.
        return nxt in _SPACED
    return False


class _Renderer:
    """One formula's rendering; a class only to keep the recursion's helpers together."""

    def render(self, items: Sequence[_Token], *, text: bool = False) -> str:
        infix = next((t for t in items if isinstance(t, _Macro) and t.name in _INFIX), None)
        if infix is not None and not text:
            return self._infix(items, infix)
        out: list[str] = []
        index = 0
        while index < len(items):
            token = items[index]
            index += 1
            if isinstance(token, _Char):
                index = self._char(token.ch, items, index, out, text)
            elif isinstance(token, _Group):
                out.append(self.render(token.items, text=text))
            elif isinstance(token, _Math):
                out.append(self.render(token.items))
            elif isinstance(token, _Env):
                out.append(self._environment(token))
            else:
                index = self._macro(token.name, items, index, out, text)
        return "".join(out)

    def _infix(self, items: Sequence[_Token], infix: _Macro) -> str:
        """`{a \\over b}` reads like `\\frac{a}{b}`, `{n \\choose k}` like `\\binom{n}{k}`."""
        at = list(items).index(infix)
        name = infix.name
        top, bottom = self._part(items[:at]), self._part(items[at + 1 :])
        if name == "choose":
            return f"C({top},{bottom})"
        if name == "atop":
            return f"{top} {bottom}"
        return f"{_FRAC}{_wrap(top)}/{_wrap(bottom)}{_FRAC_END}"

    def _part(self, items: Sequence[_Token]) -> str:
        """A sub-formula (a fraction's side, a script, a root) rendered and spaced on its own."""
        return _collapse(_finish(self.render(items)))

    def _char(self, char: str, items: Sequence[_Token], index: int, out: list[str], text: bool) -> int:
        if char == _SOFT:
            out.append(" " if text else _SOFT)
        elif text:
            out.append(" " if char in "~\n\t\r" else char)
        elif char in "^_":
            argument, index = self._argument(items, index)
            self._script(out, self._part(argument), "sup" if char == "^" else "sub")
        elif char == "'":
            out.append("′")
        elif char in "~\n\t\r":
            out.append(" ")
        else:
            out.append(char)
        return index

    @staticmethod
    def _script(out: list[str], body: str, kind: Literal["sub", "sup"]) -> None:
        script = _script_text(body, kind)
        if out and out[-1].endswith((_OP_R, _OP_SCRIPTED)):
            out[-1] = out[-1][:-1] + script + _OP_SCRIPTED
        else:
            out.append(script)

    def _argument(self, items: Sequence[_Token], index: int) -> tuple[Sequence[_Token], int]:
        """The next argument: a group's contents, or one token with the arguments it takes itself."""
        while index < len(items) and _is_blank(items[index]):
            index += 1
        if index >= len(items):
            return (), index
        token = items[index]
        if isinstance(token, _Group):
            return token.items, index + 1
        end = index + 1
        if isinstance(token, _Macro):
            for _ in range(_arity(token.name)):
                _, end = self._argument(items, end)
        return items[index:end], end

    @staticmethod
    def _optional(items: Sequence[_Token], index: int) -> tuple[Sequence[_Token] | None, int]:
        """An optional `[...]` argument right at `index`."""
        if index < len(items) and items[index] == _Char("["):
            for end in range(index + 1, min(len(items), index + _OPTIONAL_SPAN)):
                if items[end] == _Char("]"):
                    return items[index + 1 : end], end + 1
        return None, index

    def _macro(self, name: str, items: Sequence[_Token], index: int, out: list[str], text: bool) -> int:
        if name in _DROPPED:
            if name in _CLOSING_SIZERS:
                _strip_trailing_space(out)
            if name in _DELIMITER_SIZERS and index < len(items) and items[index] == _Char("."):
                index += 1
            elif name in _OPENING_SIZERS:
                delimiter, index = self._argument(items, index)
                out.append(self.render(delimiter))
            if name in _OPENING_SIZERS:
                while index < len(items) and _is_blank(items[index]):
                    index += 1
            if name == "tag" and index < len(items) and items[index] == _Char("*"):
                index += 1
            for _ in range(_DROPPED[name]):
                _, index = self._argument(items, index)
            return index
        if name in ("frac", "dfrac", "tfrac", "cfrac"):
            top, index = self._argument(items, index)
            bottom, index = self._argument(items, index)
            numerator, denominator = self._part(top), self._part(bottom)
            after_operator = "".join(out).rstrip(" " + _SOFT).endswith((_OP_R, _OP_SCRIPTED))
            if after_operator:
                _strip_trailing_space(out)
            if after_operator:
                # `log(p/q)`, never `log p/q`, which reads as (log p)/q.
                inner = f"{_factor(numerator)}/{_factor(denominator)}"
                out[-1] = out[-1][:-1] + f"({inner})" + _OP_SCRIPTED
            else:
                out.append(f"{_FRAC}{_wrap(numerator)}/{_wrap(denominator)}{_FRAC_END}")
        elif name in ("overbrace", "underbrace"):
            # A brace's note is no power or index: `(x+y) ⏞ k`, `(a+b) ⏟ n`.
            body, index = self._argument(items, index)
            out.append(_wrap(self._part(body)))
            script = "^" if name == "overbrace" else "_"
            look = index
            while look < len(items) and _is_blank(items[look]):
                look += 1
            if look < len(items) and items[look] == _Char(script):
                note, index = self._argument(items, look + 1)
                out.append((" ⏞ " if name == "overbrace" else " ⏟ ") + self._part(note))
        elif name == "sqrt":
            degree, index = self._optional(items, index)
            body, index = self._argument(items, index)
            out.append(self._root(self._part(degree) if degree else "", self._part(body)))
        elif name in ("binom", "dbinom", "tbinom"):
            top, index = self._argument(items, index)
            bottom, index = self._argument(items, index)
            out.append(f"C({self._part(top)},{self._part(bottom)})")
        elif name in _FONT_IDENTITY:
            body, index = self._argument(items, index)
            out.append(self.render(body, text=text))
        elif name in _TEXT_MACROS:
            body, index = self._argument(items, index)
            out.append(self.render(body, text=True))
        elif name in ("operatorname", "mathop"):
            if index < len(items) and items[index] == _Char("*"):
                index += 1
            body, index = self._argument(items, index)
            rendered = _collapse(_finish(self.render(body, text=name == "operatorname")))
            out.append(_OP_L + rendered + _OP_R)
        elif name in _STYLED_ALIASES:
            body, index = self._argument(items, index)
            font = _STYLED_ALIASES[name]
            out.append("".join(_STYLED.get((font, c), c) for c in self.render(body, text=True)))
        elif name in _ACCENTS:
            body, index = self._argument(items, index)
            out.append(_accent(self.render(body), _ACCENTS[name]))
        elif name in NAMED_OPERATORS:
            out.append(_OP_L + name + _OP_R)
        elif name in ("overset", "stackrel", "underset"):
            over, index = self._argument(items, index)
            base, index = self._argument(items, index)
            out.append(self.render(base))
            self._script(out, self._part(over), "sub" if name == "underset" else "sup")
        elif name in ("xrightarrow", "xleftarrow"):
            _, index = self._optional(items, index)
            over, index = self._argument(items, index)
            out.append("→" if name == "xrightarrow" else "←")
            self._script(out, self._part(over), "sup")
        elif name == "not":
            body, index = self._argument(items, index)
            rendered = self.render(body)
            out.append(_NEGATED.get(rendered, rendered[:1] + "\u0338" + rendered[1:]))
        elif name in _STYLED_SECOND:
            _, index = self._argument(items, index)
            _, index = self._optional(items, index)
            body, index = self._argument(items, index)
            out.append(self.render(body, text=text or name == "colorbox"))
        elif name == "bbox":
            _, index = self._optional(items, index)
            body, index = self._argument(items, index)
            out.append(self.render(body, text=text))
        elif name in _DIMENSION_SPACERS:
            index = _skip_dimension(items, index)
        elif name == "pmod":
            body, index = self._argument(items, index)
            out.append(f" (mod {self._part(body)})")
        elif name == "substack":
            body, index = self._argument(items, index)
            rows = ["".join(self._part(cell) for cell in row) for row in _split_rows(body)]
            out.append(", ".join(row for row in rows if row))
        elif name == "sideset":
            before, index = self._argument(items, index)
            after, index = self._argument(items, index)
            out.append(self.render(before) + self.render(after))
        elif name in ("eqref", "ref"):
            _, index = self._argument(items, index)
            out.append("(*)" if name == "eqref" else "*")
        elif name == "\\":
            _, index = self._optional(items, index)
            out.append(_ROW)
        elif name in _SPACES:
            out.append(_SPACES[name])
        elif name in SYMBOLS:
            out.append(SYMBOLS[name])
        elif len(name) == 1 and not name.isalpha():
            out.append(name)
        else:
            # A macro of the author's own (`\softmax`, `\relu`): its name reads best.
            log.debug("latex: unknown macro \\%s shown by name", name)
            out.append(_OP_L + name + _OP_R)
        return index

    @staticmethod
    def _root(degree: str, body: str) -> str:
        sign = {"": "√", "2": "√", "3": "∛", "4": "∜"}.get(degree)
        if sign is None:
            sign = _script_text(degree, "sup") + "√"
        return sign + _wrap(body)

    def _environment(self, env: _Env) -> str:
        name = env.name.rstrip("*")
        items: Sequence[_Token] = env.items
        if name in ("array", "subarray", "alignat", "alignedat"):
            # The column spec (or column count) is not content.
            _, index = self._argument(items, 0)
            items = items[index:]
        rows = [[self._part(cell) for cell in row] for row in _split_rows(items)]
        rows = [row for row in rows if any(row)]
        if name in _MATRICES:
            opening, closing = _MATRICES[name]
            return opening + "; ".join(_join_cells(row) for row in rows) + closing
        if name in _CASES:
            # Closed, so what follows the cases is not read as one more case.
            return "{" + "; ".join(_join_cells(row) for row in rows) + "}"
        # Alignment points (`&=`) are not separators: a row reads as written without them.
        lines = [_collapse("".join(self.render(cell) for cell in row)) for row in _split_rows(items)]
        return _ROW.join(line for line in lines if line)


def _join_cells(row: Sequence[str]) -> str:
    """`1, x>0` from cells `1,` and `x>0`, or from `1` and `x>0`."""
    out = ""
    for cell in (c for c in row if c):
        out += cell if not out else (" " if out.endswith((",", "，", ";")) else ", ") + cell
    return out


def _strip_trailing_space(out: list[str]) -> None:
    """Remove the spaces (and soft spaces) at the end of the output so far."""
    while out:
        stripped = out[-1].rstrip(" " + _SOFT)
        if stripped:
            out[-1] = stripped
            return
        out.pop()


def _is_blank(token: _Token) -> bool:
    return isinstance(token, _Char) and (token.ch.isspace() or token.ch == _SOFT)


def _split_rows(items: Sequence[_Token]) -> list[list[list[_Token]]]:
    """Cut an environment body at top-level `\\\\` into rows and at `&` into cells."""
    rows: list[list[list[_Token]]] = [[[]]]
    index = 0
    while index < len(items):
        token = items[index]
        index += 1
        if token == _Macro("\\"):
            _, index = _Renderer._optional(items, index)
            rows.append([[]])
        elif token == _Char("&"):
            rows[-1].append([])
        else:
            rows[-1][-1].append(token)
    return rows


def _skip_dimension(items: Sequence[_Token], index: int) -> int:
    """The index after the dimension (`-3mu`, `2pt`, `{2pt}`) a spacing command takes."""
    while index < len(items) and _is_blank(items[index]):
        index += 1
    if index < len(items) and isinstance(items[index], _Group):
        return index + 1
    chars = ""
    for token in items[index : index + 16]:
        if not isinstance(token, _Char):
            break
        chars += token.ch
    found = _DIMENSION.match(chars)
    return index + (found.end() if found else 0)


def _accent(body: str, mark: str) -> str:
    """Put a combining mark on every letter of `body` (`\\overline{AB}` → A̅B̅)."""
    out: list[str] = []
    for char in body:
        out.append(char)
        if not char.isspace() and not _COMBINING.match(char) and char not in _SENTINELS and char != _ROW:
            out.append(mark)
    return "".join(out)


def _arity(name: str) -> int:
    if name in ("frac", "dfrac", "tfrac", "cfrac", "binom", "dbinom", "tbinom", "overset", "underset"):
        return 2
    if name in ("stackrel", "sideset") or name in _STYLED_SECOND:
        return 2
    if name in _DROPPED:
        return _DROPPED[name]
    if (
        name in _FONT_IDENTITY
        or name in _TEXT_MACROS
        or name in _STYLED_ALIASES
        or name in _ACCENTS
        or name in ("sqrt", "operatorname", "mathop", "not", "eqref", "ref", "xrightarrow", "xleftarrow")
        or name in ("bbox", "pmod", "substack", "overbrace", "underbrace")
    ):
        return 1
    return 0


# `\left\{\begin{array}{ll} … \end{array}\right.`: cases written as an array (MathJax draws the same).
_ARRAY_CASES = re.compile(
    r"\\left\s*(?:\\\{|\\lbrace)\s*\\begin\{array\}\s*\{[^{}]*\}(?P<rows>.*?)\\end\{array\}\s*\\right\s*\.",
    re.S,
)


def render_math(source: str, *, display: bool = False) -> str:
    """One formula's source (without its `$` delimiters) as readable Unicode text.

    A display formula may give several lines (one per `\\\\` row of an `align`); inline math gives one.
    """
    source = _ARRAY_CASES.sub(r"\\begin{cases}\g<rows>\\end{cases}", source)
    try:
        rendered = _Renderer().render(_parse(source))
    except (latexwalker.LatexWalkerError, RecursionError) as exc:
        log.debug("latex: cannot parse %r: %s", source[:80], exc)
        return _collapse(source)
    rows = [_tighten(_collapse(_finish(row))) for row in rendered.split(_ROW)]
    rows = [row for row in rows if row]
    return ("\n" if display else "; ").join(rows)


# --- math in running text -----------------------------------------------------------------------------

SegmentKind = Literal["text", "inline", "display"]


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of an excerpt: plain text, or one formula's source (`closed` false when it was cut off)."""

    kind: SegmentKind
    source: str
    closed: bool = True


_ENV_NAMES = "|".join(sorted(_DISPLAY_ENVIRONMENTS | {"math"}, key=len, reverse=True))
# Environments MathJax typesets where they stand, outside any `$…$`, besides the display ones above: the
# blog writes `\begin{aligned}…\end{aligned}` or `\left\{\begin{array}…\end{array}\right.` bare in the text.
_BARE_ENVIRONMENTS = (
    frozenset(["aligned", "alignedat", "gathered", "split", "array", "subarray", "CD", *_CASES, *_MATRICES])
    - _DISPLAY_ENVIRONMENTS
)
_BARE_NAMES = "|".join(sorted(_BARE_ENVIRONMENTS, key=len, reverse=True))
# A `\left` delimiter right before a bare environment belongs to it (`\left\{\begin{array}`).
_LEFT = r"\\left\s*(?:\\[{|]|\\l[a-z]+|[(\[|.])\s*"
_RIGHT = re.compile(r"\s*\\right\s*(?:\\[}|]|\\r[a-z]+|[)\]|.])")
_OPENER = re.compile(
    r"\\\$|\$\$|\$|\\\[|\\\(|\\begin\{(?P<env>" + _ENV_NAMES + r")(?P<star>\*?)\}"
    r"|(?P<left>" + _LEFT + r")?\\begin\{(?P<bare>" + _BARE_NAMES + r")(?P<bstar>\*?)\}"
    r"|\\(?:eq)?ref\{[^{}]*\}"
)


def split_math(text: str) -> list[Segment]:
    """Cut running text into text and formulas: `$…$`, `\\(…\\)`, `$$…$$`, `\\[…\\]`, `\\begin{equation}…`,
    and the environments MathJax typesets bare (`\\begin{aligned}…`, `\\left\\{\\begin{array}…\\right.`)."""
    segments: list[Segment] = []
    buffer: list[str] = []
    position = 0

    def flush() -> None:
        if buffer:
            segments.append(Segment("text", "".join(buffer)))
            buffer.clear()

    while True:
        found = _OPENER.search(text, position)
        if found is None:
            buffer.append(text[position:])
            break
        buffer.append(text[position : found.start()])
        token = found.group(0)
        if token == "\\$":
            buffer.append("$")
            position = found.end()
            continue
        if token.startswith("\\ref") or token.startswith("\\eqref"):
            flush()
            segments.append(Segment("inline", token))
            position = found.end()
            continue
        if found.group("bare"):
            # The whole environment is the formula, as written (with its `\left…\right` pair).
            closer = "\\end{" + found.group("bare") + found.group("bstar") + "}"
            end = _find_closer(text, closer, found.end())
            flush()
            if end < 0:
                segments.append(Segment("display", text[found.start() :], closed=False))
                break
            stop = end + len(closer)
            right = _RIGHT.match(text, stop) if found.group("left") else None
            if right is not None:
                stop = right.end()
            segments.append(Segment("display", text[found.start() : stop]))
            position = stop
            continue
        if found.group("env"):
            closer = "\\end{" + found.group("env") + found.group("star") + "}"
            kind: SegmentKind = "inline" if found.group("env") == "math" else "display"
            body_start = found.end()
            # Keep the environment so `align` rows stay rows.
            wrap = (token, closer)
        else:
            closer = {"$$": "$$", "$": "$", "\\[": "\\]", "\\(": "\\)"}[token]
            kind = "display" if token in ("$$", "\\[") else "inline"
            body_start = found.end()
            wrap = ("", "")
        end = _find_closer(text, closer, body_start)
        flush()
        if end < 0:
            segments.append(Segment(kind, text[body_start:], closed=False))
            break
        body = text[body_start:end]
        if wrap[0] and not wrap[0].startswith("\\begin{equation") and not wrap[0].startswith("\\begin{math"):
            body = "\\begin{aligned}" + body + "\\end{aligned}"
        segments.append(Segment(kind, body))
        position = end + len(closer)
    flush()
    return [s for s in segments if s.kind != "text" or s.source]


def _find_closer(text: str, closer: str, start: int) -> int:
    index = start
    while True:
        index = text.find(closer, index)
        if index < 0:
            return -1
        if closer == "$" and index > 0 and text[index - 1] == "\\":
            index += 1
            continue
        return index


def latex_to_text(text: str) -> str:
    """Running text with every formula rendered: display formulas on lines of their own."""
    parts: list[str] = []
    for segment in split_math(text):
        if segment.kind == "text":
            parts.append(segment.source)
        elif segment.kind == "inline":
            parts.append(render_math(segment.source))
        else:
            parts.append("\n" + render_math(segment.source, display=True) + "\n")
    return "".join(parts)
