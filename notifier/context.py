"""What every command handler receives: the settings' plain values and an open store."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from notifier.settings import Settings


class UsageError(Exception):
    """A user mistake: reported as one line on stderr with exit status 1, never a traceback."""


@dataclass(frozen=True, slots=True)
class Context:
    """Plain values from the settings, resolved once at the composition root."""

    settings: Settings
    db_path: str
    tz: ZoneInfo
    link_host: str
    now: datetime


Handler = Callable[[argparse.Namespace, Context], Coroutine[Any, Any, int]]


def whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number no smaller than `minimum`, refused in one plain line."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            # argparse would otherwise name this function in its message.
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}")
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
