"""The weekly email over a real SMTP server on loopback: the message, the schedule, idempotency and faults."""

from __future__ import annotations

import asyncio
import itertools
import os
import sqlite3
import sys
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from notifier.mail.mailer import MailUnavailable
from notifier.mail.weekly import iso_week, previous_week, scheduled_moment, week_monday
from tests.support.mail import BASE_URL, MONDAY, TZ, MailWorld, clean_environment
from tests.support.store import reads


def parts(message: EmailMessage) -> list[str]:
    """The content types of a message's parts, in order."""
    return [part.get_content_type() for part in message.iter_parts()]


def body(message: EmailMessage, kind: str) -> str:
    """The decoded text of the `kind` ('plain' or 'html') part."""
    part = message.get_body((kind,))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


def test_weeks_and_the_scheduled_moment() -> None:
    assert iso_week(MONDAY, TZ) == "2025-W20"
    # Monday 01:00 in Beijing is Sunday in UTC: the week is the one of TIME_ZONE.
    assert iso_week(MONDAY.replace(hour=1), TZ) == "2025-W20"
    assert iso_week(MONDAY.replace(hour=1), ZoneInfo("UTC")) == "2025-W19"
    assert previous_week("2025-W01") == "2024-W52"
    assert week_monday("2025-W20").isoformat() == "2025-05-12"
    with pytest.raises(ValueError):
        week_monday("2025-20")
    moment = scheduled_moment(MONDAY + timedelta(days=3), TZ, "mon", MONDAY.time().replace(hour=8))
    assert moment.isoformat() == "2025-05-12T08:00:00+08:00"
    assert scheduled_moment(MONDAY, TZ, "sun", MONDAY.time()).date().isoformat() == "2025-05-18"


async def test_each_reader_gets_one_multipart_message_with_list_headers_and_escaped_titles(
    world: MailWorld,
) -> None:
    zh = await world.confirmed("reader@example.com", "zh")
    await world.confirmed("Other.Reader@Example.org", "en")
    report = await world.weekly().run()
    assert (report.sent, report.skipped, report.temporary, report.permanent) == (2, 0, 0, 0)
    smtp = world.smtp
    assert len(smtp.messages) == 2
    # One connection carried both; each message went to its one recipient and names only them.
    assert smtp.connections == 1
    assert sorted(tuple(m.rcpt_tos) for m in smtp.messages) == [
        ("Other.Reader@Example.org",),
        ("reader@example.com",),
    ]
    (message,) = smtp.to("reader@example.com")
    assert message["To"] == "reader@example.com"
    assert message.get_content_type() == "multipart/alternative"
    assert parts(message) == ["text/plain", "text/html"]
    assert all(part.get_content_charset() == "utf-8" for part in message.iter_parts())
    # Headers: the subject and display name travel encoded (RFC 2047) and decode to the Chinese words.
    raw = next(m.raw for m in smtp.messages if "reader@example.com" in m.rcpt_tos).decode("ascii")
    assert "=?utf-8?" in raw.split("\r\n\r\n", 1)[0].lower()
    assert message["Subject"].startswith("科学空间")
    assert message["From"].addresses[0].display_name == "科学空间 Weekly"
    assert message["Message-ID"].endswith("@example.org>")
    assert message["Date"].datetime is not None
    assert message["List-Id"] == "Scientific Spaces weekly <weekly.mail.example.org>"
    unsubscribe = message["List-Unsubscribe"]
    assert unsubscribe.startswith(f"<{BASE_URL}/unsubscribe/") and unsubscribe.endswith(">")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html, text = body(message, "html"), body(message, "plain")
    # A title holding markup arrives as text: escaped in HTML, as typed in plain text.
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; friends" in html
    assert "When <script>alert(1)</script> & friends" in text
    assert "MoE环游记：5、均匀分布的反思" in html and "MoE环游记：5、均匀分布的反思" in text
    # A visible unsubscribe link and a "view in the browser" link, in both parts.
    link = unsubscribe[1:-1]
    assert f'href="{link}"' in html and link in text
    # The browser view covers exactly the mail's period (Monday to Monday: the send day's posts included).
    view = f"{BASE_URL}/digest/2025-05-05..2025-05-12?lang=zh"
    assert f'href="{view}"' in html and view in text
    assert html.index("/digest/2025-05-05..2025-05-12") < html.index("MoE环游记") < html.index(link)
    # The English reader's mail is in English.
    (english,) = smtp.to("Other.Reader@Example.org")
    assert english["Subject"].startswith("Scientific Spaces")
    assert "Unsubscribe" in body(english, "plain")
    stored = await reads(world.app.db).emails.get(zh)
    assert stored is not None and stored.last_digest_at == MONDAY


async def test_the_week_goes_once_whatever_reruns(world: MailWorld) -> None:
    await world.confirmed("a@example.com")
    await world.confirmed("b@example.com")
    first = await world.weekly().run()
    world.clock.now += timedelta(minutes=30)
    again = await world.weekly().run()
    forced = await world.weekly().run(force=True)
    assert first.sent == 2 and again.sent == 0 and forced.sent == 0
    assert again.already == 2 and forced.already == 2
    assert len(world.smtp.messages) == 2
    # Next week is a new week; with nothing new since the last mail, nothing goes, and that is recorded.
    world.clock.now += timedelta(days=7)
    next_week = await world.weekly().run()
    assert (next_week.week, next_week.sent, next_week.skipped) == ("2025-W21", 0, 2)
    assert len(world.smtp.messages) == 2
    counts = await reads(world.app.db).mail_ledger.week_counts("2025-W21")
    assert counts == {"skipped": 2}


async def test_a_service_down_at_send_time_sends_later_in_the_week_once(world: MailWorld) -> None:
    await world.confirmed("a@example.com")
    world.clock.now = MONDAY.replace(hour=7)
    early = await world.weekly().run()
    assert not early.due and world.smtp.messages == []
    # Started again on Wednesday: the week's mail is still owed, and goes once.
    world.clock.now = MONDAY + timedelta(days=2)
    assert (await world.weekly().run()).sent == 1
    world.clock.now += timedelta(minutes=10)
    assert (await world.weekly().run()).sent == 0
    assert len(world.smtp.messages) == 1


async def test_an_address_confirmed_after_the_send_time_waits_for_next_week_unless_sent_by_hand(
    world: MailWorld,
) -> None:
    await world.confirmed("new@example.com", days_ago=0)
    world.clock.now = MONDAY + timedelta(hours=1)
    assert (await world.weekly().run()).sent == 0
    assert (await world.weekly().run(force=True)).sent == 1


async def test_nothing_new_sends_nothing_unless_configured(world: MailWorld) -> None:
    world.clock.now = MONDAY + timedelta(days=28)
    await world.confirmed("quiet@example.com")
    report = await world.weekly().run()
    assert (report.sent, report.skipped) == (0, 1) and world.smtp.messages == []
    await world.confirmed("eager@example.com")
    report = await world.weekly(send_empty_weeks=True).run()
    assert report.sent == 1
    (message,) = world.smtp.to("eager@example.com")
    assert "Unsubscribe" in body(message, "plain") or "退订" in body(message, "plain")


async def test_faults_lose_nothing_and_double_nothing(world: MailWorld) -> None:
    for name in ("refused", "busy", "dropped", "fine"):
        await world.confirmed(f"{name}@example.com")
    world.smtp.refuse["refused@example.com"] = (550, "5.1.1 no such user")
    world.smtp.refuse["busy@example.com"] = (451, "4.3.0 try again later")
    world.smtp.drop["dropped@example.com"] = 1
    report = await world.weekly().run()
    assert (report.sent, report.temporary, report.permanent) == (2, 1, 1)
    assert {a for m in world.smtp.messages for a in m.rcpt_tos} == {"dropped@example.com", "fine@example.com"}
    # A later run tries the temporary failure again, not the permanent one nor those already sent.
    world.smtp.refuse.pop("busy@example.com")
    world.clock.now += timedelta(minutes=10)
    report = await world.weekly().run()
    assert (report.sent, report.temporary, report.permanent, report.already) == (1, 0, 0, 3)
    delivered = [a for m in world.smtp.messages for a in m.rcpt_tos]
    assert sorted(delivered) == ["busy@example.com", "dropped@example.com", "fine@example.com"]
    entry = await reads(world.app.db).mail_ledger.get(1, "2025-W20")
    assert (
        entry is not None
        and entry.status == "failed"
        and (entry.last_error or "").startswith("permanent: 550")
    )


async def test_temporary_failures_are_tried_a_bounded_number_of_times_spread_over_hours(
    world: MailWorld,
) -> None:
    await world.confirmed("busy@example.com")
    world.smtp.refuse["busy@example.com"] = (421, "4.7.0 slow down")
    job = world.weekly()
    tried: list[int] = []
    # The service's catch-up job, every 10 minutes for a day.
    for minute in range(0, 24 * 60, 10):
        world.clock.now = MONDAY + timedelta(minutes=minute)
        if (await job.run()).temporary:
            tried.append(minute)
    assert len(tried) == job.max_attempts and world.smtp.messages == []
    # Each retry waits twice as long as the one before, so an hour-long 4xx does not use up the tries.
    assert [b - a for a, b in itertools.pairwise(tried)] == [10 * 2**n for n in range(7)]


async def test_a_refused_connection_sends_nothing_and_a_later_run_sends_everything(world: MailWorld) -> None:
    await world.confirmed("a@example.com")
    await world.confirmed("b@example.com")
    port = world.smtp.port
    await world.smtp.stop()
    report = await world.weekly().run()
    assert report.unavailable is not None and "cannot connect" in report.unavailable
    assert report.sent == 0
    entry = await reads(world.app.db).mail_ledger.get(1, "2025-W20")
    # The address was never tried: the failure does not count against it.
    assert entry is not None and entry.status == "failed" and entry.attempts == 0
    world.smtp.port = port
    await world.smtp.start()
    world.clock.now += timedelta(minutes=10)
    assert (await world.weekly().run()).sent == 2
    assert sorted(a for m in world.smtp.messages for a in m.rcpt_tos) == ["a@example.com", "b@example.com"]


async def test_email_off_refuses_to_run_but_a_dry_run_shows_the_mail(world: MailWorld) -> None:
    await world.confirmed("a@example.com")
    with pytest.raises(MailUnavailable, match="SMTP_HOST"):
        await world.weekly(smtp_host=None).run()
    report = await world.weekly(smtp_host=None).run(dry_run=True)
    (preview,) = report.previews
    assert preview.address == "a@example.com" and "MoE环游记" in preview.text
    assert world.smtp.messages == []
    assert await reads(world.app.db).mail_ledger.get(1, "2025-W20") is None


async def test_a_permanent_failure_three_weeks_in_a_row_marks_the_address_bounced(world: MailWorld) -> None:
    email_id = await world.confirmed("gone@example.com")
    world.smtp.refuse["gone@example.com"] = (550, "5.1.1 mailbox gone")
    bounced = 0
    for _ in range(3):
        bounced += (await world.weekly(send_empty_weeks=True).run()).bounced
        world.clock.now += timedelta(days=7)
    stored = await reads(world.app.db).emails.get(email_id)
    assert bounced == 1 and stored is not None and stored.bounced_at is not None
    # A bounced address is no longer mailed.
    world.smtp.refuse.clear()
    assert (await world.weekly(send_empty_weeks=True).run()).sent == 0


async def test_a_claim_left_by_a_crashed_sender_is_taken_over_only_once_stale(world: MailWorld) -> None:
    email_id = await world.confirmed("a@example.com")
    async with world.app.uow() as uow:
        claim = await uow.mail_ledger.claim(
            email_id,
            "2025-W20",
            MONDAY - timedelta(minutes=2),
            stale_after=timedelta(minutes=10),
            max_attempts=6,
        )
    assert claim is not None
    assert (await world.weekly().run()).already == 1 and world.smtp.messages == []
    world.clock.now += timedelta(minutes=15)
    assert (await world.weekly().run()).sent == 1


async def test_smtp_login(world: MailWorld) -> None:
    await world.confirmed("a@example.com")
    world.smtp.login = ("mailer", "s3cret")
    with_wrong = await world.weekly(smtp_user="mailer", smtp_password="wrong").run()
    assert with_wrong.unavailable is not None and "login refused" in with_wrong.unavailable
    world.clock.now += timedelta(minutes=10)
    assert (await world.weekly(smtp_user="mailer", smtp_password="s3cret").run()).sent == 1


async def test_a_refused_sender_stops_the_run_and_counts_against_no_recipient(world: MailWorld) -> None:
    ids = [await world.confirmed(f"{name}@example.com") for name in ("a", "b")]
    # The server wants a login the settings lack: MAIL FROM gets a 530, which no recipient is to blame for.
    world.smtp.login = ("mailer", "s3cret")
    report = await world.weekly().run()
    assert "refuses the sender weekly@example.org: 530" in (report.unavailable or "")
    assert (report.sent, report.permanent, world.smtp.messages) == (0, 0, [])
    for email_id in ids:
        stored = await reads(world.app.db).emails.get(email_id)
        assert stored is not None and stored.failed_weeks == 0
    world.clock.now += timedelta(minutes=10)
    assert (await world.weekly(smtp_user="mailer", smtp_password="s3cret").run()).sent == 2


async def test_two_send_weekly_processes_at_once_mail_each_address_once(
    world: MailWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    addresses = [f"reader{i}@example.com" for i in range(8)]
    for address in addresses:
        await world.confirmed(address)
    clean_environment(monkeypatch)
    env = {
        **os.environ,
        "KEXUE_DB": str(tmp_path / "k.sqlite3"),
        "KEXUE_NOW": MONDAY.isoformat(),
        "SMTP_HOST": world.smtp.host,
        "SMTP_PORT": str(world.smtp.port),
        "SMTP_SECURITY": "none",
        "MAIL_RATE": "50",
        "SECRET_KEY": "k",
        "PUBLIC_BASE_URL": BASE_URL,
    }

    async def send_weekly() -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cli.main",
            "send-weekly",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        assert proc.returncode is not None
        return proc.returncode, out.decode() + err.decode()

    results = await asyncio.gather(send_weekly(), send_weekly())
    assert [code for code, _ in results] == [0, 0], results
    delivered = sorted(a for m in world.smtp.messages for a in m.rcpt_tos)
    assert delivered == sorted(addresses)
    with sqlite3.connect(tmp_path / "k.sqlite3") as conn:
        rows = conn.execute("SELECT status, count(*) FROM deliveries WHERE channel = 'email' GROUP BY 1")
        assert rows.fetchall() == [("sent", 8)]
    assert all("week 2025-W20:" in output for _, output in results)
