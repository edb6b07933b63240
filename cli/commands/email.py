"""`kexue-notifier send-weekly [--dry-run]`: this week's mail, now, to each confirmed address not yet mailed.

It works beside a running service on the same database: the ledger's claims keep the two from both mailing
an address.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cli.context import CommandWords, add_common
from notifier.bootstrap import App
from notifier.errors import UsageError
from notifier.mail.mailer import MailUnavailable
from notifier.mail.weekly import WeeklyMail


async def cmd_send_weekly(args: argparse.Namespace, app: App) -> int:
    """Send (or, with --dry-run, show) this ISO week's mail; exit 1 when the mail server is unavailable."""
    job = WeeklyMail(db=app.db, config=app.config, renderer=app.renderer, clock=app.clock)
    try:
        report = await job.run(dry_run=args.dry_run, force=True)
    except MailUnavailable as exc:
        raise UsageError(str(exc)) from None
    if args.dry_run:
        for index, preview in enumerate(report.previews):
            print(f"would send to {preview.address} ({preview.lang}): {preview.subject}")
            if index == 0:
                print("\n" + preview.text.rstrip("\n") + "\n")
        print(
            f"week {report.week}: {len(report.previews)} to send, {report.skipped} with nothing new, "
            f"{report.already} already sent (dry run: nothing sent)"
        )
        return 0
    print(
        f"week {report.week}: {report.sent} sent, {report.skipped} with nothing new, "
        f"{report.already} already sent or being sent, {report.temporary} to retry, "
        f"{report.permanent} refused ({report.bounced} bounced)"
    )
    if report.unavailable is not None:
        print(f"kexue-notifier send-weekly: stopped: {report.unavailable}", file=sys.stderr)
        return 1
    return 0


# Options only: nothing to reorder.
WORDS: tuple[CommandWords, ...] = ()


def register(subparsers: Any) -> None:
    """Add the `send-weekly` subcommand."""
    help_text = "send this week's email now to every confirmed address that has not had it"
    parser = subparsers.add_parser("send-weekly", help=help_text, description=help_text)
    add_common(parser, json_flag=False)
    parser.add_argument("--dry-run", action="store_true", help="show who would get what; send nothing")
    parser.set_defaults(handler=cmd_send_weekly, store="write")
