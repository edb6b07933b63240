"""`kexue-notifier`: the command line. Errors a user can cause print one line and exit non-zero."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from pydantic import ValidationError

from archive import ArchiveError
from notifier.commands import archive_cmds, digest, search
from notifier.context import Context, Handler, UsageError, options_first
from notifier.settings import DEFAULT_DB, Settings
from storage import StorageError

log = logging.getLogger(__name__)

# Each module registers its subcommands (and declares in WORDS how their words are read); add a module
# here to add commands.
COMMAND_MODULES = [archive_cmds, digest, search]


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage mistake in one line, like every other user error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = _Parser(
        prog="kexue-notifier",
        description="New posts, archive search and digests for 科学空间 | Scientific Spaces (kexue.fm).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def _settings_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "settings"
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"invalid setting {where.upper()}: {message}"


def _db_path(args: argparse.Namespace, settings: Settings) -> str:
    """`--db`, else KEXUE_DB; the default `var/` directory is created, any other must exist."""
    path: str = args.db or settings.kexue_db
    if path == DEFAULT_DB and args.command != "parse":
        # A fresh clone has no var/ yet; a directory the user names is never created on a guess.
        Path(DEFAULT_DB).parent.mkdir(exist_ok=True)
    return path


def _configure_logging(level: str, *, service: bool) -> None:
    chosen = getattr(logging, level.upper(), logging.INFO)
    if not service:
        # A one-shot command reports its own errors in one line each; its log stays quiet unless debugging.
        chosen = chosen if chosen <= logging.DEBUG else logging.ERROR
    logging.basicConfig(
        level=chosen,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # httpx logs every request URL at INFO; a URL may carry a token, so keep it quiet.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # APScheduler narrates every job run at INFO; our jobs log what they did themselves.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    for module in COMMAND_MODULES:
        for command_words in module.WORDS:
            words = options_first(words, command_words)
    args = parser.parse_args(words)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"kexue-notifier: {_settings_error(exc)}", file=sys.stderr)
        return 2
    _configure_logging(settings.log_level, service=args.command == "run")
    try:
        db_path = _db_path(args, settings)
    except OSError as exc:
        print(f"kexue-notifier {args.command}: cannot create {DEFAULT_DB}: {exc.strerror}", file=sys.stderr)
        return 1
    context = Context(
        settings=settings,
        db_path=db_path,
        tz=settings.tz,
        link_host=settings.link_host,
        now=settings.now(),
    )
    handler: Handler = args.handler
    try:
        return asyncio.run(handler(args, context))
    except UsageError as exc:
        print(f"kexue-notifier {args.command}: {exc}", file=sys.stderr)
        return 1
    except (ArchiveError, StorageError) as exc:
        print(f"kexue-notifier {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
