"""One formula rendered as readable Unicode text: `\\frac{a}{b}` reads `a/b`, `x_i^2` reads `xᵢ²`."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Literal

from pylatexenc import latexwalker

from archive.latex.parsing import _parse
from archive.latex.spacing import _collapse, _factor, _finish, _script_text, _tighten, _wrap
from archive.latex.tables import (
    _ACCENTS,
    _CASES,
    _CLOSING_SIZERS,
    _COMBINING,
    _DELIMITER_SIZERS,
    _DIMENSION,
    _DIMENSION_SPACERS,
    _DROPPED,
    _FONT_IDENTITY,
    _FRAC,
    _FRAC_END,
    _INFIX,
    _MATRICES,
    _NEGATED,
    _OP_L,
    _OP_R,
    _OP_SCRIPTED,
    _OPENING_SIZERS,
    _OPTIONAL_SPAN,
    _ROW,
    _SENTINELS,
    _SOFT,
    _SPACES,
    _STYLED,
    _STYLED_ALIASES,
    _STYLED_SECOND,
    _TEXT_MACROS,
    NAMED_OPERATORS,
    SYMBOLS,
    _Char,
    _Env,
    _Group,
    _Macro,
    _Math,
    _Token,
)

log = logging.getLogger(__name__)

# --- rendering ----------------------------------------------------------------------------------------


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
