"""`kexue-notifier digest`: print the digest of the posts since a date, in one language and format."""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta
from typing import Any

from cli.context import CommandWords, add_common
from digest import DigestError
from digest.model import LANGS, check_lang
from digest.render import FORMATS, Format
from digest.selection import FIRST_DIGEST_DAYS
from notifier.bootstrap import App
from notifier.errors import UsageError

# The blog began in 2009; a day outside these keeps the date arithmetic of a digest inside the calendar.
EARLIEST, LATEST = date(2000, 1, 1), date(9000, 12, 31)


def _date(text: str) -> date:
    try:
        value = date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc
    if not EARLIEST <= value <= LATEST:
        raise argparse.ArgumentTypeError(f"{text} is outside {EARLIEST} to {LATEST}")
    return value


def _format(value: str) -> Format:
    for fmt in FORMATS:
        if fmt == value:
            return fmt
    raise UsageError(f"unknown format {value!r}")


async def cmd_digest(args: argparse.Namespace, app: App) -> int:
    """Print the digest (Telegram messages separated by a marked line); nothing new prints nothing."""
    now = app.clock()
    since: date = args.since or (now - timedelta(days=FIRST_DIGEST_DAYS)).astimezone(app.config.tz).date()
    lang = check_lang(args.lang)
    fmt = _format(args.format)
    digest = await app.services.pages.digest_for_period(since, now)
    if digest.empty:
        print(f"no new posts since {since.isoformat()}: no digest", file=sys.stderr)
        return 0
    try:
        parts = app.renderer.render(digest, lang, fmt)
    except DigestError as exc:
        raise UsageError(str(exc)) from exc
    for index, part in enumerate(parts, start=1):
        if len(parts) > 1:
            if index > 1:
                sys.stdout.write("\n")
            sys.stdout.write(f"----- message {index}/{len(parts)} -----\n")
        sys.stdout.write(part.rstrip("\n") + "\n")
    return 0


# Options and their values only: nothing to reorder.
WORDS: tuple[CommandWords, ...] = ()


def register(subparsers: Any) -> None:
    """Add the `digest` subcommand."""
    help_text = "print the digest of new posts (default: the last seven days, zh, telegram)"
    parser = subparsers.add_parser("digest", help=help_text, description=help_text)
    add_common(parser, json_flag=False)
    parser.add_argument("--since", type=_date, metavar="DATE", help="first day covered (default: 7 days ago)")
    parser.add_argument("--lang", choices=LANGS, default="zh", help="zh or en (default zh)")
    parser.add_argument("--format", choices=FORMATS, default="telegram", help="default telegram")
    parser.set_defaults(handler=cmd_digest, store="read")
