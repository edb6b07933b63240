"""An excerpt as a reader sees it: repeated captions dropped, math rendered, whitespace normalized, cut.

The store keeps the excerpt as published; this runs at the edge, when a message is rendered.
"""

from __future__ import annotations

import re
from functools import lru_cache

from archive.latex import render_math, split_math

ELLIPSIS = "…"
DEFAULT_EXCERPT_CHARS = 200
# How much raw text is read for an excerpt of `max_chars` characters: LaTeX shrinks when rendered
# (`\boldsymbol{Q}` is one letter), so generously more than is shown, but never without bound.
_RAW_CHARS_PER_CHAR = 40
_MIN_RAW_CHARS = 8000

_CJK_TERMINATORS = "。！？"
_CLOSERS = "”’」』）)》〉】]\"'"
_CLAUSE_BREAKS = "，、；：,;:"
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def drop_repeated_lines(text: str) -> str:
    """Drop a line that repeats the previous non-blank line (an image's alt text, then its caption)."""
    kept: list[str] = []
    previous: str | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and stripped == previous:
            continue
        if stripped:
            previous = stripped
        kept.append(line)
    return "\n".join(kept)


def _render_with_mask(text: str) -> tuple[list[str], list[bool], bool]:
    """Rendered characters, which belong to a formula, and whether an unclosed formula was dropped."""
    chars: list[str] = []
    mask: list[bool] = []
    for segment in split_math(text):
        if not segment.closed:
            return chars, mask, True
        if segment.kind == "text":
            chars.extend(segment.source)
            mask.extend([False] * len(segment.source))
            continue
        display = segment.kind == "display"
        rendered = render_math(segment.source, display=display)
        if display:
            chars.append("\n")
            mask.append(False)
        chars.extend(rendered)
        mask.extend([True] * len(rendered))
        if display:
            chars.append("\n")
            mask.append(False)
    return chars, mask, False


def _normalize(chars: list[str], mask: list[bool]) -> tuple[str, list[bool]]:
    """Collapse whitespace outside formulas: a run with a line break becomes one, any other a space."""
    out: list[str] = []
    out_mask: list[bool] = []
    index = 0
    while index < len(chars):
        char = chars[index]
        if mask[index] or not char.isspace():
            out.append(char)
            out_mask.append(mask[index])
            index += 1
            continue
        run_has_break = False
        while index < len(chars) and not mask[index] and chars[index].isspace():
            run_has_break = run_has_break or chars[index] in "\n\r\u2028\u2029\x0b\x0c\x1c\x1d\x1e\x85"
            index += 1
        if out and index < len(chars):
            out.append("\n" if run_has_break else " ")
            out_mask.append(False)
    return "".join(out), out_mask


def _sentence_ends(text: str, mask: list[bool]) -> list[int]:
    """Positions just after a sentence end (`。！？`, or `.!?` ending English text), outside formulas."""
    ends: list[int] = []
    length = len(text)
    for index, char in enumerate(text):
        if mask[index]:
            continue
        nxt = text[index + 1] if index + 1 < length else ""
        if char in _CJK_TERMINATORS:
            pass
        elif char in "!?":
            if nxt and not (nxt.isspace() or nxt in _CLOSERS or _CJK.match(nxt)):
                continue
        elif char == ".":
            prev = text[index - 1] if index > 0 else ""
            if not prev or prev.isdigit() or prev == "." or not (prev.isalpha() or prev in _CLOSERS):
                continue
            if nxt and not (nxt.isspace() or nxt in _CLOSERS or _CJK.match(nxt)):
                continue
        else:
            continue
        end = index + 1
        while end < length and text[end] in _CLOSERS and not mask[end]:
            end += 1
        if end < length and text[end] in _CJK_TERMINATORS + "!?":
            continue  # `？！` or `?!`: the sentence ends at the last of them
        ends.append(end)
    return ends


def _fallback_cut(text: str, mask: list[bool], limit: int) -> int:
    """No sentence end near the limit: a clause break or space, else the last spot outside a formula."""
    floor = max(1, int(limit * 0.4))
    for index in range(min(limit, len(text)) - 1, floor - 1, -1):
        if not mask[index] and (text[index] in _CLAUSE_BREAKS or text[index].isspace()):
            return index + 1 if text[index] in _CLAUSE_BREAKS else index
    cut = min(limit, len(text))
    while cut > 0 and (mask[cut - 1] and cut < len(text) and mask[cut]):
        cut -= 1  # step back out of the formula
    while 0 < cut < len(text) and _COMBINING.match(text[cut]):
        cut -= 1
    if cut > 0:
        return cut
    # The text opens with one formula longer than the limit: show it whole when it is not absurdly long.
    end = 0
    while end < len(text) and mask[end]:
        end += 1
    return end if end <= 3 * limit else 0


def cut_excerpt(text: str, mask: list[bool], limit: int) -> int:
    """Where to cut `text` to about `limit` characters: at a sentence end, never inside a formula."""
    ends = _sentence_ends(text, mask)
    before = [end for end in ends if end <= limit]
    if before and before[-1] >= limit * 0.4:
        return before[-1]
    after = [end for end in ends if limit < end <= limit * 1.5]
    if after:
        return after[0]
    if before:
        return before[-1]
    return _fallback_cut(text, mask, limit)


def render_excerpt(raw: str, max_chars: int = DEFAULT_EXCERPT_CHARS, *, cached: bool = True) -> str:
    """The stored excerpt made readable and cut to about `max_chars` characters, with `…` when cut.

    Results are memoized (a digest shows one post to many readers); `cached=False` computes afresh.
    """
    return _cached_excerpt(raw, max_chars) if cached else _excerpt(raw, max_chars)


def _excerpt(raw: str, max_chars: int) -> str:
    # Only the opening of a huge excerpt can be shown: render just that, so a hostile one cannot stall
    # a digest. A formula the bound cuts through is dropped as unclosed and the excerpt marked as cut.
    bound = max(_MIN_RAW_CHARS, _RAW_CHARS_PER_CHAR * max_chars)
    clipped = len(raw) > bound
    chars, mask, dropped = _render_with_mask(drop_repeated_lines(raw[:bound] if clipped else raw))
    dropped = dropped or clipped
    text, text_mask = _normalize(chars, mask)
    if len(text) <= max_chars and not dropped:
        return text
    cut = len(text) if len(text) <= max_chars else cut_excerpt(text, text_mask, max_chars)
    if cut >= len(text) and not dropped:
        return text  # the sentence end that was chosen is the end of the text
    return text[:cut].rstrip() + ELLIPSIS


_cached_excerpt = lru_cache(maxsize=8192)(_excerpt)
