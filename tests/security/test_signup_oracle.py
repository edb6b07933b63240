"""Sign-ups nobody can hijack and that reveal nothing, against the real `kexue-notifier run` with its bot,
its web app, a local Bot API and a local SMTP server.

Hijack: a Telegram user types someone else's address into /email; the owner signs up on the web and confirms
with the link in their own mail; the Telegram user's /email off and /forget must not touch that address.
Oracle: a new, pending, confirmed and unsubscribed address get the same answer, in status, text and time,
whether the mail server is quick, slow or down; the mails wait in the database and go out once it is back.
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import time
from email.message import EmailMessage
from pathlib import Path

from tests.support.bot_api import BotApiServer, User
from tests.support.live_web import LiveWeb, confirm_link, live_web
from tests.support.service import eventually
from tests.support.smtp_server import SmtpServer

VICTIM = "victim@example.org"
RETRY = 1.0


def env(smtp: SmtpServer, bot_api: BotApiServer | None = None, **more: str) -> dict[str, str]:
    """Mail through `smtp` (retried every RETRY seconds), the bot on `bot_api`, debugging, metrics locked."""
    settings = {
        "SMTP_HOST": smtp.host,
        "SMTP_PORT": str(smtp.port),
        "SMTP_SECURITY": "none",
        "MAIL_RETRY_INTERVAL": str(RETRY),
        "LOG_LEVEL": "DEBUG",
        "METRICS_TOKEN": "scrape-me",
        **more,
    }
    if bot_api is not None:
        settings.update(TELEGRAM_BOT_TOKEN=bot_api.token, TELEGRAM_API_BASE=bot_api.base_url)
    return settings


def address_row(workdir: Path, address: str) -> tuple[str, int | None] | None:
    """(status, subscriber_id) of an address as the service's database holds it."""
    conn = sqlite3.connect(workdir / "k.sqlite3", timeout=30)
    try:
        row = conn.execute(
            "SELECT status, subscriber_id FROM email_addresses WHERE address = ?", (address,)
        ).fetchone()
    finally:
        conn.close()
    return None if row is None else (str(row[0]), None if row[1] is None else int(row[1]))


async def ask(api: BotApiServer, user: User, text: str) -> str:
    """Send `text` to the bot from `user` in their private chat; the bot's reply."""
    api.send_text(user, None, text)
    return (await api.wait_for_message(user.id, timeout=30)).plain


async def test_a_telegram_user_cannot_hijack_someone_elses_sign_up(
    tmp_path: Path, smtp: SmtpServer, bot_api: BotApiServer
) -> None:
    async with live_web(tmp_path, env(smtp, bot_api)) as web:
        await web.service.wait_for_log("long polling", timeout=60)
        attacker = bot_api.user("Mallory", language_code="en")
        assert "confirmation link is on its way" in await ask(bot_api, attacker, f"/email {VICTIM}")
        await smtp.wait_for(1)
        # The owner signs up on the web and confirms with the link of their own (web) sign-up.
        assert (await web.sign_up(VICTIM))[0] == 200
        await smtp.wait_for(2)
        web_mail, telegram_mail = _by_origin(smtp)
        assert await web.confirm(confirm_link(web_mail)) == 200
        assert address_row(tmp_path, VICTIM) == ("confirmed", None)
        # Whichever mail the owner opens: the link the attacker asked for no longer links anyone.
        assert await web.confirm(confirm_link(telegram_mail)) == 200
        assert address_row(tmp_path, VICTIM) == ("confirmed", None)
        # The attacker's chat sees only what it asked for, still waiting; /email off and /forget touch
        # nothing.
        listing = await ask(bot_api, attacker, "/email")
        assert "waiting for confirmation" in listing and ": confirmed" not in listing
        assert "No email address was receiving" in await ask(bot_api, attacker, "/email off")
        assert address_row(tmp_path, VICTIM) == ("confirmed", None)
        await _forget(bot_api, attacker, tmp_path)
        assert address_row(tmp_path, VICTIM) == ("confirmed", None)
        # The mail the attacker's /email sent says a Telegram chat asked: only its owner can link that chat.
        assert "Telegram" in str(telegram_mail.get_body(("plain",)))


async def test_a_readers_own_confirmation_links_their_chat_and_email_off_stops_it(
    tmp_path: Path, smtp: SmtpServer, bot_api: BotApiServer
) -> None:
    async with live_web(tmp_path, env(smtp, bot_api)) as web:
        await web.service.wait_for_log("long polling", timeout=60)
        reader = bot_api.user("Reader", language_code="en")
        await ask(bot_api, reader, "/email me@example.org")
        await smtp.wait_for(1)
        assert "waiting for confirmation" in await ask(bot_api, reader, "/email")
        assert await web.confirm(confirm_link(smtp.messages[0].message)) == 200
        status, linked = address_row(tmp_path, "me@example.org") or ("", None)
        assert status == "confirmed" and linked is not None
        assert ": confirmed" in await ask(bot_api, reader, "/email")
        assert "stopped for 1 address" in await ask(bot_api, reader, "/email off")
        assert address_row(tmp_path, "me@example.org") is None  # erased: only the hash is kept


def _by_origin(smtp: SmtpServer) -> tuple[EmailMessage, EmailMessage]:
    """(the web sign-up's mail, the Telegram sign-up's mail): the Telegram one was waited for first."""
    assert len(smtp.messages) == 2, [str(m.message["Subject"]) for m in smtp.messages]
    return smtp.messages[1].message, smtp.messages[0].message


async def _forget(api: BotApiServer, user: User, workdir: Path) -> None:
    api.send_text(user, None, "/forget")
    ask_message = await api.wait_for_message(user.id, timeout=30)
    yes = ask_message.callback_data[0]
    api.press_button(user, ask_message, yes)

    def forgotten() -> bool:
        conn = sqlite3.connect(workdir / "k.sqlite3", timeout=30)
        try:
            row = conn.execute("SELECT count(*) FROM subscribers WHERE chat_id = ?", (user.id,)).fetchone()
            return int(row[0]) == 0
        finally:
            conn.close()

    await eventually(forgotten, timeout=30, what="the chat forgotten")


async def _states(web: LiveWeb, smtp: SmtpServer, workdir: Path) -> dict[str, str]:
    """One address in each state: new (never seen), pending, confirmed, unsubscribed."""
    for address in ("pending@example.org", "confirmed@example.org", "gone@example.org"):
        assert (await web.sign_up(address, via=f"198.51.100.{len(address)}"))[0] == 200
    await smtp.wait_for(3)
    for message in smtp.messages:
        if message.rcpt_tos[0] != "pending@example.org":
            assert await web.confirm(confirm_link(message.message)) == 200
    conn = sqlite3.connect(workdir / "k.sqlite3", timeout=30)
    with conn:
        conn.execute(
            "UPDATE email_addresses SET status = 'unsubscribed', address = NULL WHERE address = ?",
            ("gone@example.org",),
        )
    conn.close()
    return {
        "new": "new@example.org",
        "pending": "pending@example.org",
        "confirmed": "confirmed@example.org",
        "unsubscribed": "gone@example.org",
    }


Answers = dict[str, list[tuple[int, str, float]]]


async def _answers(web: LiveWeb, states: dict[str, str], rounds: int, *, tag: str = "") -> Answers:
    """Each state's answers (status, text, seconds), interleaved round by round, each from its own IP."""
    seen: Answers = {state: [] for state in states}
    for n in range(rounds):
        for index, (state, address) in enumerate(states.items()):
            spelled = address if state != "new" else f"{tag}new{n}@example.org"
            started = time.perf_counter()
            status, page = await web.sign_up(spelled, via=f"2001:db8:{tag and 'f'}{n}:{index}::1")
            seen[state].append((status, page, time.perf_counter() - started))
    return seen


async def test_sign_up_answers_are_the_same_for_every_address_state_smtp_slow_or_down(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    async with live_web(tmp_path, env(smtp, SIGNUPS_PER_DAY_TOTAL="1000")) as web:
        states = await _states(web, smtp, tmp_path)
        # A slow server: a mail sent inside the request would show in its time.
        smtp.delay = 1.0
        slow = await _answers(web, states, rounds=4)
        smtp.delay = 0.0
        answers = {(status, page) for results in slow.values() for status, page, _ in results}
        assert len(answers) == 1 and next(iter(answers))[0] == 200
        medians = {state: statistics.median(t for *_, t in results) for state, results in slow.items()}
        # A second of SMTP inside a request would show; shared CPUs get generous bounds.
        assert max(medians.values()) < 0.8, medians
        assert max(medians.values()) - min(medians.values()) < 0.4, medians
        # The server down: the same answer still, and the mails wait in the database.
        port = smtp.port
        await smtp.stop()
        before = len(smtp.messages)
        down = await _answers(web, states, rounds=1, tag="down")
        assert {(status, page) for results in down.values() for status, page, _ in results} == answers
        await asyncio.sleep(RETRY * 2)
        smtp.port = port
        await smtp.start()
        # Back: the waiting mails go out at the next retry, each once (the confirmed address gets none; the
        # others only within their three mails a day).
        await smtp.wait_for(before + 1, timeout=30)
        await asyncio.sleep(RETRY * 3)
        late = [m.rcpt_tos[0] for m in smtp.messages[before:]]
        assert "downnew0@example.org" in late and len(late) == len(set(late)), late
        assert "confirmed@example.org" not in late
        log = web.service.log()
    assert log.count("confirmation mails wait") <= 2
