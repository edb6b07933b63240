"""Recognise a series part in a post title: `名称：N、…`, `名称（三）：…`, `【名称】 N. …` and kin."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = ["Series", "chinese_numeral", "detect_series"]


@dataclass(frozen=True, slots=True)
class Series:
    """A post's place in a series: the name as the title spells it and the part number."""

    name: str
    part: int

    def to_json(self) -> dict[str, Any]:
        """The `{"name", "part"}` object of the `--json` contract."""
        return {"name": self.name, "part": self.part}


_DIGITS = {
    "〇": 0,
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
# Arabic part numbers above this are years or counts ("（2024）"), never a part.
_MAX_PART = 999

# A part number: ASCII/full-width digits or a Chinese numeral. Matched loosely here, validated by _part().
_NUM = r"(?P<num>[0-9０-９]{1,3}|[〇零一二两三四五六七八九十百]{1,6})"
_COLON = r"[：:]"
_OPEN = r"[（(]"
_CLOSE = r"[）)]"
# `（上）/（中）/（下）` split one part in halves; they keep the part number.
_HALF = rf"(?:\s*{_OPEN}\s*[上中下]\s*{_CLOSE})?"

# `【中文分词系列】 2. 基于切分的新词发现` (also `2、`).
_BRACKETED = re.compile(rf"【(?P<name>[^】]+)】\s*{_NUM}\s*(?:[、]|[.．](?=\s))\s*\S.*")
# `Transformer升级之路：4、…`, `流形上的最速下降：1. SGD + 超球面`; the dot must be followed by a space
# so that a colon followed by a decimal (`：1.5倍`) is not taken for a part.
_COLON_NUM = re.compile(rf"(?P<name>.+?)\s*{_COLON}\s*{_NUM}\s*(?:、|[.．](?=\s))\s*\S.*")
# `低秩近似之路（三）：CR`, `xxx（二）`, `某某（三）（上）`: the part in brackets is followed by a colon
# and a subtitle, by a half marker, or by nothing at all.
_PAREN_NUM = re.compile(rf"(?P<name>.+?)\s*{_OPEN}\s*{_NUM}\s*{_CLOSE}{_HALF}\s*(?:{_COLON}\s*\S.*)?")


def chinese_numeral(text: str) -> int | None:
    """The value of a Chinese numeral below 1000 (`三`, `十一`, `二十三`, `一百零五`), else None."""
    if not text:
        return None
    total = 0
    rest = text
    if "百" in rest:
        head, _, rest = rest.partition("百")
        if len(head) != 1 or head not in _DIGITS or _DIGITS[head] == 0:
            return None
        total += _DIGITS[head] * 100
        # `一百零五`: the zero only marks the empty tens place.
        if rest.startswith(("零", "〇")):
            rest = rest[1:]
            if len(rest) != 1:
                return None
    if "十" in rest:
        head, _, rest = rest.partition("十")
        if head == "":
            # `十一` means 11, but `一百十` is not how a hundred and ten is written.
            if total:
                return None
            tens = 1
        elif len(head) == 1 and head in _DIGITS and _DIGITS[head] > 0:
            tens = _DIGITS[head]
        else:
            return None
        total += tens * 10
    if rest:
        # A trailing zero (`三十零`) is not how a number is written.
        if len(rest) != 1 or rest not in _DIGITS or _DIGITS[rest] == 0:
            return None
        total += _DIGITS[rest]
    return total or None


def _part(num: str) -> int | None:
    """The part number a matched `num` group spells, or None when it is not a plausible part."""
    value = int(num) if num[0] in "0123456789０１２３４５６７８９" else chinese_numeral(num)
    if value is None or not 0 < value <= _MAX_PART:
        return None
    return value


def _series(name: str, num: str) -> Series | None:
    """A Series when the name is non-empty and the number is a plausible part."""
    name = name.strip()
    part = _part(num)
    if not name or part is None:
        return None
    return Series(name=name, part=part)


@lru_cache(maxsize=8192)
def detect_series(title: str) -> Series | None:
    """The series a title announces with an explicit part marker, or None (conservative)."""
    text = title.strip()
    match = _BRACKETED.fullmatch(text)
    if match:
        return _series(match.group("name"), match.group("num"))
    match = _COLON_NUM.fullmatch(text)
    if match:
        return _series(match.group("name"), match.group("num"))
    match = _PAREN_NUM.fullmatch(text)
    if match:
        name = match.group("name").strip()
        num = match.group("num")
        # `f(1)` or `v(2)` is a formula, not a part: with ASCII brackets and arabic digits the name must not
        # end in an ASCII letter or digit.
        ascii_brackets = text[match.end("name") :].lstrip().startswith("(")
        if num.isascii() and ascii_brackets and name[-1:].isascii() and name[-1:].isalnum():
            return None
        return _series(name, num)
    return None
