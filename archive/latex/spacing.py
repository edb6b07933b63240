"""How rendered math is wrapped and spaced: atoms, parentheses, scripts, the sentinels' spaces."""

from __future__ import annotations

import logging
import re
from typing import Literal

from archive.latex.tables import (
    _FRAC,
    _FRAC_END,
    _LOOSE,
    _OP_L,
    _OP_R,
    _OP_SCRIPTED,
    _SCRIPT_CHARS,
    _SENTINELS,
    _SOFT,
    _SPACED,
    SUBSCRIPTS,
    SUPERSCRIPTS,
)

log = logging.getLogger(__name__)


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
