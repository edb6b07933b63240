"""What the command modules share: how their words are read, common options, JSON output, user errors."""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from notifier.bootstrap import App


Handler = Callable[[argparse.Namespace, "App"], Coroutine[Any, Any, int]]


@dataclass(frozen=True, slots=True)
class CommandWords:
    """How one command's words are read: its own options, and the rest as its data."""

    command: str
    flags: frozenset[str]
    valued: frozenset[str]
    # The data is one value (a query typed as several words), where even `-x` is data; otherwise a list
    # (sources), where an unknown `-x` is a mistyped option for argparse to report.
    join: bool = False

    def is_option(self, token: str) -> bool:
        """Whether `token` is one of this command's options (`--db=PATH` and `-n5` included)."""
        if token in self.flags or token.split("=", 1)[0] in self.valued:
            return True
        return not token.startswith("--") and token[:2] in self.valued and token[2:].isdigit()


def options_first(argv: Sequence[str], words: CommandWords) -> list[str]:
    """`argv` with the command's options first and its data after `--`, for argparse to read as written.

    argparse takes a word that starts with `-` for an option and stops filling a list at the first option;
    so `search -秩` failed and `poll a.xml --db X b.xml` lost `b.xml`. Other commands pass through.
    """
    if not argv or argv[0] != words.command:
        return list(argv)
    options: list[str] = []
    data: list[str] = []
    rest = iter(argv[1:])
    for token in rest:
        if token == "--":
            data.extend(rest)
        elif token in words.valued:
            options.append(token)
            options.extend(itertools.islice(rest, 1))
        elif words.is_option(token) or (not words.join and token.startswith("-")):
            options.append(token)
        else:
            data.append(token)
    if not data:
        return [words.command, *options]
    return [words.command, *options, "--", *([" ".join(data)] if words.join else data)]


def whole_number(minimum: int, maximum: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `minimum` to `maximum`, refused in one plain line."""

    def parse(text: str) -> int:
        try:
            # A thousand digits is far beyond any bound; int() of a huge string is slow and may refuse.
            value = int(text) if len(text) <= 100 else maximum + 1
        except ValueError:
            # argparse would otherwise name this function in its message.
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"must be a whole number from {minimum} to {maximum}")
        return value

    return parse


def add_common(parser: argparse.ArgumentParser, *, json_flag: bool = True) -> None:
    """`--db PATH` on every command and `--json` where a command prints data."""
    parser.add_argument("--db", metavar="PATH", help="SQLite file (default: KEXUE_DB)")
    if json_flag:
        parser.add_argument("--json", action="store_true", help="print JSON to stdout")


def print_json(value: Any) -> None:
    """JSON on stdout, UTF-8 as is (Chinese stays readable)."""
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")
