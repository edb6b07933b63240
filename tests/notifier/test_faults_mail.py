"""SMTP faults against the real process (issue 12): nothing lost, nothing doubled.

`kexue-notifier send-weekly` runs as a subprocess, and once `kexue-notifier run` with its weekly job due,
over a real SQLite file of confirmed addresses, against the loopback aiosmtpd server of smtp_server.py. The
process reads its clock from KEXUE_NOW; each later run moves it on, as the week's reruns would.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from storage.emails import EmailAddress
from tests.support.mail import BASE_URL, MONDAY, MailWorld
from tests.support.service import Service, clean_environment
from tests.support.smtp_server import SmtpServer
from tests.support.store import reads

WEEK = "2025-W20"


@dataclass(frozen=True)
class Finished:
    """How one `send-weekly` process ended."""

    code: int
    out: str
    err: str


def mail_env(workdir: Path, smtp: SmtpServer, now: datetime, **more: str) -> dict[str, str]:
    """The settings of a process mailing through `smtp`, its clock at `now`."""
    return {
        "KEXUE_DB": str(workdir / "k.sqlite3"),
        "KEXUE_NOW": now.isoformat(),
        "SMTP_HOST": smtp.host,
        "SMTP_PORT": str(smtp.port),
        "SMTP_SECURITY": "none",
        "MAIL_FROM": "科学空间 Weekly <weekly@example.org>",
        "MAIL_RATE": "200",
        "SECRET_KEY": "k",
        "PUBLIC_BASE_URL": BASE_URL,
        **more,
    }


async def send_weekly(world: MailWorld, workdir: Path, now: datetime, **more: str) -> Finished:
    """One `kexue-notifier send-weekly` process, run to its end; it never shows a traceback."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        "send-weekly",
        cwd=workdir,
        env=clean_environment(**mail_env(workdir, world.smtp, now, **more)),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    finished = Finished(proc.returncode, out.decode(), err.decode())
    assert "Traceback" not in finished.err, finished.err
    return finished


def copies(smtp: SmtpServer) -> Counter[str]:
    """How many messages the server accepted for each address."""
    return Counter(address for message in smtp.messages for address in message.rcpt_tos)


async def stored(world: MailWorld, email_id: int) -> EmailAddress:
    """The address row as the database holds it now."""
    found = await reads(world.app.db).emails.get(email_id)
    assert found is not None
    return found


async def ledger_error(world: MailWorld, email_id: int) -> str:
    """The week's ledger row of an address as 'status: last error'."""
    entry = await reads(world.app.db).mail_ledger.get(email_id, WEEK)
    assert entry is not None
    return f"{entry.status}: {entry.last_error}"


async def test_a_refused_connection_fails_in_one_line_and_the_next_run_sends_one_copy_each(
    world: MailWorld, tmp_path: Path
) -> None:
    ids = [await world.confirmed(f"{name}@example.com") for name in ("a", "b", "c")]
    port = world.smtp.port
    await world.smtp.stop()  # nothing listens on the port now

    down = await send_weekly(world, tmp_path, MONDAY)
    assert down.code == 1
    (line,) = down.err.splitlines()
    expected = f"cannot connect to SMTP server 127.0.0.1:{port}: Connection refused"
    assert line == f"kexue-notifier send-weekly: stopped: {expected}"
    assert "0 sent" in down.out
    assert "sent" not in await reads(world.app.db).mail_ledger.week_counts(WEEK)
    # The address whose turn it was was never tried: the failure counts against nobody.
    first = await reads(world.app.db).mail_ledger.get(ids[0], WEEK)
    assert first is not None and first.status == "failed" and first.attempts == 0

    world.smtp.port = port
    await world.smtp.start()
    up = await send_weekly(world, tmp_path, MONDAY + timedelta(minutes=10))
    assert (up.code, up.err) == (0, "") and "3 sent" in up.out
    assert copies(world.smtp) == {"a@example.com": 1, "b@example.com": 1, "c@example.com": 1}
    assert await reads(world.app.db).mail_ledger.week_counts(WEEK) == {"sent": 3}


async def test_a_4xx_is_retried_later_never_counted_as_a_bounce_and_delivered_once(
    world: MailWorld, tmp_path: Path
) -> None:
    ids = [await world.confirmed(f"{name}@example.com") for name in ("a", "b", "c")]
    # First a 451 at DATA for every message, then a 451 at RCPT for b alone (greylisting), then nothing.
    world.smtp.reject_data["*"] = (451, "4.3.0 try again later")
    everyone = await send_weekly(world, tmp_path, MONDAY)
    assert everyone.code == 0 and "0 sent" in everyone.out and "3 to retry" in everyone.out
    assert world.smtp.messages == []
    assert (await ledger_error(world, ids[1])).startswith("failed: temporary: 451 4.3.0")

    world.smtp.reject_data.clear()
    world.smtp.refuse["b@example.com"] = (451, "4.7.1 greylisted, come back later")
    one = await send_weekly(world, tmp_path, MONDAY + timedelta(minutes=10))
    assert "2 sent" in one.out and "1 to retry" in one.out
    assert copies(world.smtp) == {"a@example.com": 1, "c@example.com": 1}

    world.smtp.refuse.clear()
    last = await send_weekly(world, tmp_path, MONDAY + timedelta(minutes=20))
    assert "1 sent" in last.out and "0 to retry" in last.out
    assert copies(world.smtp) == {"a@example.com": 1, "b@example.com": 1, "c@example.com": 1}
    for email_id in ids:
        row = await stored(world, email_id)
        assert (row.failed_weeks, row.bounced_at) == (0, None)


async def test_a_5xx_for_one_recipient_counts_toward_its_bounce_and_the_others_get_one_copy_in_the_run(
    world: MailWorld, tmp_path: Path
) -> None:
    names = ("a", "gone", "b", "full", "rejected", "c")
    ids = dict(zip(names, [await world.confirmed(f"{name}@example.com") for name in names], strict=True))
    world.smtp.refuse["gone@example.com"] = (550, "5.1.1 no such user")
    world.smtp.reject_data["full@example.com"] = (552, "5.2.2 mailbox full")
    # A refusal of the message (policy, content) is not the address's fault: no bounce is counted for it.
    world.smtp.reject_data["rejected@example.com"] = (554, "5.7.1 message refused")

    run = await send_weekly(world, tmp_path, MONDAY, SEND_EMPTY_WEEKS="true")
    assert run.code == 0 and "3 sent" in run.out and "3 refused (0 bounced)" in run.out
    assert copies(world.smtp) == {"a@example.com": 1, "b@example.com": 1, "c@example.com": 1}
    for name, counted in (("gone", 1), ("full", 1), ("rejected", 0)):
        assert (await stored(world, ids[name])).failed_weeks == counted, name
        assert (await ledger_error(world, ids[name])).startswith("failed: permanent: 55")

    # The same week again: nobody is mailed twice, and a refusal is neither retried nor counted twice.
    again = await send_weekly(world, tmp_path, MONDAY + timedelta(hours=1), SEND_EMPTY_WEEKS="true")
    assert "0 sent" in again.out and "6 already sent" in again.out
    assert len(world.smtp.messages) == 3 and (await stored(world, ids["gone"])).failed_weeks == 1
    # (The third such week in a row marks it bounced: test_weekly.py runs the weeks in-process.)


async def test_a_disconnect_mid_message_is_resent_and_nobody_accepted_gets_a_second_copy(
    world: MailWorld, tmp_path: Path
) -> None:
    """The bound: a message whose DATA was cut off is sent again, on a fresh connection in the same run
    (once), else by the next run; a message the server acknowledged is never sent again. The one copy too
    many SMTP allows is a message the server kept but whose reply was lost with the connection (RFC 1047):
    each such lost reply adds at most one copy."""
    names = ("once", "twice", "lost-reply", "fine")
    for name in names:
        await world.confirmed(f"{name}@example.com")
    world.smtp.drop["once@example.com"] = 1  # dropped once: the reconnect delivers it in the same run
    world.smtp.drop["twice@example.com"] = 2  # dropped on the reconnect too: the next run delivers it
    world.smtp.drop_after["lost-reply@example.com"] = 1  # kept, then dropped before the reply
    first = await send_weekly(world, tmp_path, MONDAY)
    assert first.code == 0 and "3 sent" in first.out and "1 to retry" in first.out
    assert copies(world.smtp) == {"once@example.com": 1, "lost-reply@example.com": 2, "fine@example.com": 1}

    second = await send_weekly(world, tmp_path, MONDAY + timedelta(minutes=10))
    assert "1 sent" in second.out and "3 already sent" in second.out
    assert copies(world.smtp) == {
        "once@example.com": 1,
        "twice@example.com": 1,
        "lost-reply@example.com": 2,
        "fine@example.com": 1,
    }


async def test_the_run_service_survives_an_smtp_outage_and_its_next_weekly_run_mails_each_once(
    world: MailWorld, tmp_path: Path
) -> None:
    ids = {name: await world.confirmed(f"{name}@example.com") for name in ("a", "gone", "busy", "b")}
    port = world.smtp.port
    await world.smtp.stop()
    service_env = {"KEXUE_SOURCES": "http://127.0.0.1:9/feed", "POLL_INTERVAL": "3600", "WEB_PORT": "0"}

    env = mail_env(tmp_path, world.smtp, MONDAY, **service_env)
    async with Service(tmp_path, name="down", command=("run",), **env) as service:
        # Due since 08:00: the weekly job runs a few seconds after the start, and finds no server.
        await service.wait_for_log(f"weekly mail {WEEK} stopped: cannot connect to SMTP server", timeout=60)
        assert service.running
        assert await service.stop() == 0
    assert "Connection refused; it goes on at the next run" in service.log()

    world.smtp.port = port
    await world.smtp.start()
    world.smtp.refuse["gone@example.com"] = (550, "5.1.1 no such user")
    world.smtp.refuse["busy@example.com"] = (451, "4.7.1 greylisted")
    env = mail_env(tmp_path, world.smtp, MONDAY + timedelta(minutes=15), **service_env)
    async with Service(tmp_path, name="up", command=("run",), **env) as service:
        await service.wait_for_log(f"weekly mail {WEEK}: 2 sent", timeout=60)
        assert await service.stop() == 0
    assert "1 to retry, 1 refused" in service.log() and "Traceback" not in service.log()
    assert copies(world.smtp) == {"a@example.com": 1, "b@example.com": 1}
    assert (await stored(world, ids["gone"])).failed_weeks == 1
    assert (await stored(world, ids["busy"])).failed_weeks == 0

    # The greylisted one goes at a later run (here one by hand); nobody else is mailed again.
    world.smtp.refuse.pop("busy@example.com")
    later = await send_weekly(world, tmp_path, MONDAY + timedelta(minutes=30))
    assert "1 sent" in later.out
    assert copies(world.smtp) == {"a@example.com": 1, "b@example.com": 1, "busy@example.com": 1}
