"""`kexue-notifier`: the command line. Errors a user can cause print one line and exit non-zero."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import SecretStr, ValidationError

from cli.commands import archive_cmds, digest, email, ops, search
from cli.context import Handler, options_first
from notifier.bootstrap import config_from, open_app
from notifier.errors import EXPECTED_FAILURES, UsageError
from notifier.logs import LibraryDebugFilter, LogFormat, formatter, hold_libraries_at_info
from notifier.settings import Settings

log = logging.getLogger(__name__)

# Each module registers its subcommands (and declares in WORDS how their words are read); add a module
# here to add commands.
COMMAND_MODULES = [archive_cmds, digest, search, email, ops]


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


def _secrets(settings: Settings) -> list[str | None]:
    """Every secret the settings hold, for the log to mask (the SMTP and web ones once those exist)."""
    found: list[str | None] = []
    for name in ("telegram_bot_token", "smtp_password", "secret_key", "metrics_token", "webhook_secret"):
        value = getattr(settings, name, None)
        found.append(value.get_secret_value() if isinstance(value, SecretStr) else value)
    for url in [*settings.kexue_sources, settings.telegram_api_base]:
        try:
            found.append(urlsplit(url).password)
        except ValueError:
            continue
    return found


def _configure_logging(
    level: str,
    tz: ZoneInfo,
    *,
    service: bool,
    fmt: LogFormat = "text",
    secrets: list[str | None] | None = None,
) -> None:
    chosen = getattr(logging, level.upper(), logging.INFO)
    if not service:
        # A one-shot command reports its own errors in one line each; its log stays quiet unless debugging.
        chosen = chosen if chosen <= logging.DEBUG else logging.ERROR
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt, tz, secrets or ()))
    handler.addFilter(LibraryDebugFilter())
    logging.basicConfig(level=chosen, handlers=[handler], force=True)
    hold_libraries_at_info()
    # httpx logs every request URL at INFO; a URL may carry a token, so keep it quiet.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # aiogram's requests go through aiohttp with the bot token in the URL: never at INFO or DEBUG.
    for name in ("aiohttp", "aiogram.client", "aiogram.middlewares"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # APScheduler narrates every job run at INFO, aiogram's dispatcher its polling's start and end (after the
    # service's own last line): our jobs and the bot log what they did themselves.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("aiogram.dispatcher").setLevel(logging.WARNING)


def _read_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise UsageError(_settings_error(exc)) from None
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"cannot read .env: it is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the settings: {exc}") from None


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    store: str = args.store
    # The configured file, for commands that open it themselves without migrating it (backup, doctor).
    args.db_path = config_from(settings, db_path=getattr(args, "db", None)).db_path
    db_path = ":memory:" if store == "none" else args.db
    async with open_app(settings, db_path=db_path, create=store != "read") as app:
        handler: Handler = args.handler
        return await handler(args, app)


def _quiet_stdout() -> None:
    """The reader of our output went away (`| head`): drop what is left instead of failing at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    for module in COMMAND_MODULES:
        for command_words in module.WORDS:
            words = options_first(words, command_words)
    args = parser.parse_args(words)
    # Whatever a command writes (the database, its -wal and -shm, backups, var/) is its owner's alone.
    os.umask(0o077)
    try:
        settings = _read_settings()
    except UsageError as exc:
        print(f"kexue-notifier: {exc}", file=sys.stderr)
        return 2
    _configure_logging(
        settings.log_level,
        settings.tz,
        service=args.command == "run",
        fmt=settings.log_format,
        secrets=_secrets(settings),
    )
    try:
        return asyncio.run(_run(args, settings))
    except BrokenPipeError:
        _quiet_stdout()
        return 0
    except EXPECTED_FAILURES as exc:
        print(f"kexue-notifier {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
