"""Running text cut into text and formulas (`$…$`, `\\[…\\]`, environments, bare ones), and rendered."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Literal

from archive.latex.rendering import render_math
from archive.latex.tables import _CASES, _DISPLAY_ENVIRONMENTS, _MATRICES

log = logging.getLogger(__name__)

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
