"""`kexue-notifier backup PATH` and `kexue-notifier doctor`: commands for the person running the service."""

from __future__ import annotations

import argparse
from typing import Any

from cli.context import CommandWords, add_common, print_json
from notifier import ops
from notifier.bootstrap import App
from notifier.errors import UsageError


def _size(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"


async def cmd_backup(args: argparse.Namespace, app: App) -> int:
    """Copy the live database to PATH and say what the copy holds."""
    try:
        copy = await ops.backup(args.db_path, args.path, force=args.force)
    except ops.OpsError as exc:
        raise UsageError(str(exc)) from exc
    if args.json:
        print_json(
            {
                "source": args.db_path,
                "path": copy.path,
                "schema_version": copy.schema_version,
                "bytes": copy.size_bytes,
                "tables": dict(copy.tables),
            }
        )
        return 0
    print(
        f"backed up {args.db_path} to {copy.path} "
        f"({_size(copy.size_bytes)}, schema version {copy.schema_version})"
    )
    print("  " + ", ".join(f"{table} {rows}" for table, rows in copy.tables))
    return 0


async def cmd_doctor(args: argparse.Namespace, app: App) -> int:
    """One line per check; exit 0 only when everything configured is ok."""
    checks = await ops.doctor(app.config, args.db_path)
    if args.json:
        print_json([{"check": c.name, "status": c.status, "detail": c.detail} for c in checks])
    else:
        for check in checks:
            print(f"{check.name:<9} {check.status:<4} {check.detail}")
    return 1 if any(check.failed for check in checks) else 0


# The path is data: `backup -odd-name.sqlite3` names a file rather than an unknown option.
WORDS = (CommandWords("backup", frozenset({"--json", "--force", "-h", "--help"}), frozenset({"--db"})),)


def register(subparsers: Any) -> None:
    """Add the `backup` and `doctor` commands."""
    help_text = "copy the live database to PATH (consistent even while the service writes)"
    parser = subparsers.add_parser("backup", help=help_text, description=help_text)
    parser.add_argument("path", metavar="PATH", help="the file to write (must not exist, unless --force)")
    parser.add_argument("--force", action="store_true", help="replace PATH if it exists")
    add_common(parser)
    # The command opens the file itself, read-only and never migrating it: the app's store is not used.
    parser.set_defaults(handler=cmd_backup, store="none")

    help_text = "check the settings, the database, the blog, the Bot API token and the SMTP login"
    parser = subparsers.add_parser("doctor", help=help_text, description=help_text)
    add_common(parser)
    # Like backup: the file is inspected as it is, never migrated.
    parser.set_defaults(handler=cmd_doctor, store="none")
