"""Finding a series by what a reader types: any part of its name, spaced or punctuated any way, or misspelt.

Pure functions over names; the service layer hands them the stored series. A typed name is first folded
(`fold`): NFKC (full-width `ＭｕＰ` and half-width agree), case folded, with every space, punctuation mark and
symbol dropped, so `MuP 之上`, `Transformer升级之路：` and `“闭门造车”` read as the names they are part of.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

# Dropped by `fold`: separators (Z*), punctuation (P*) and symbols (S*): spacing, colons, quotes, brackets.
_DROPPED = ("Z", "P", "S")
# The most suggestions a reader is offered for a name that matches nothing.
MAX_SUGGESTIONS = 3
# Typos are looked for in names typed with this many characters (folded): fewer than 4 would suggest any name
# sharing a letter; more than 64 is no name, and the comparison grows with the product of the lengths.
TYPO_CHARS = range(4, 65)


def fold(text: str) -> str:
    """`text` as names are compared: NFKC, case folded, without spaces, punctuation or symbols."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(c for c in folded if unicodedata.category(c)[0] not in _DROPPED)


def typo_budget(typed: str) -> int:
    """How many edits a typed name may be off by: one per four characters, at least one, at most three."""
    return max(1, min(3, len(typed) // 4))


def substring_distance(typed: str, name: str) -> int:
    """The fewest edits (insert, delete, replace) that turn `typed` into some part of `name` (Sellers)."""
    if not typed:
        return 0
    previous = [0] * (len(name) + 1)  # a match may start anywhere in the name: row 0 costs nothing
    for i, wanted in enumerate(typed, start=1):
        current = [i] + [0] * len(name)
        for j, seen in enumerate(name, start=1):
            current[j] = min(
                previous[j] + 1,
                current[j - 1] + 1,
                previous[j - 1] + (wanted != seen),
            )
        previous = current
    return min(previous)


@dataclass(frozen=True, slots=True)
class NameMatches:
    """Which names a typed name matches (`indexes` into the names given, best first), and how.

    `how` is "exact", "prefix", "part" (anywhere in the name), "typo" (within the typo budget: suggestions,
    never acted on without the reader's press) or "none"."""

    how: str
    indexes: tuple[int, ...] = ()


def match_names(typed: str, names: Sequence[str]) -> NameMatches:
    """The names `typed` matches: exactly, by the start, by any part, or else the closest within a typo."""
    wanted = fold(typed)
    if not wanted:
        return NameMatches("none")
    keys = [fold(name) for name in names]
    for how, test in (
        ("exact", lambda key: key == wanted),
        ("prefix", lambda key: key.startswith(wanted)),
        ("part", lambda key: wanted in key),
    ):
        found = tuple(i for i, key in enumerate(keys) if test(key))
        if found:
            return NameMatches(how, found)
    if len(wanted) not in TYPO_CHARS:
        return NameMatches("none")
    budget = typo_budget(wanted)
    scored = sorted(
        (distance, len(keys[i]), i)
        for i in range(len(keys))
        if (distance := substring_distance(wanted, keys[i])) <= budget
    )
    if not scored:
        return NameMatches("none")
    # Only the closest: a name one edit away hides those two or three away.
    best = scored[0][0]
    return NameMatches("typo", tuple(i for distance, _, i in scored[:MAX_SUGGESTIONS] if distance == best))
