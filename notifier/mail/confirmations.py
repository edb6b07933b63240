"""Confirmation mails (double opt-in), sent from the queue in the database after the sign-up is answered.

A sign-up only queues its mail (storage/confirmations.py), so its answer is the same in status, text and
timing whatever the address's state and whether the mail server is up. `wake()` sends what is due at once,
in the background; `run()` (started by `kexue-notifier run`) also retries every `retry` seconds (a minute)
while the server is down or deferring, logging that once a minute, until the link would have expired.
The token of each mail is made when it is sent, naming the Telegram reader who asked for it (if any).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from digest.render import Renderer
from notifier.config import MailConfig
from notifier.logs import Throttle
from notifier.mail.mailer import (
    Mailer,
    MailError,
    MailUnavailable,
    Outgoing,
    PermanentFailure,
    compose,
)
from notifier.mail.tokens import CONFIRM_TTL, TokenSigner
from storage import StorageError
from storage.confirmations import ConfirmationMail
from storage.db import Database
from storage.emails import EmailAddress
from storage.uow import read_stores, unit_of_work

log = logging.getLogger(__name__)

RETRY = 60.0
BATCH = 50


class ConfirmationMails:
    """Sends the queued confirmation mails: at once when woken, and every `retry` seconds while any wait."""

    def __init__(
        self,
        *,
        db: Database,
        mail: MailConfig,
        renderer: Callable[[], Renderer],
        clock: Callable[[], datetime],
        signer: Callable[[], Awaitable[TokenSigner]],
        retry: float = RETRY,
    ) -> None:
        self.db = db
        self.mail = mail
        self.renderer = renderer
        self.clock = clock
        self.signer = signer
        self.retry = retry
        self._wake = asyncio.Event()
        self._running = False
        self._sending = asyncio.Lock()
        self._background: set[asyncio.Task[int]] = set()
        self._throttle = Throttle()

    def wake(self) -> None:
        """Send what is due now, without waiting: the running loop's turn, or a task of its own."""
        if self._running:
            self._wake.set()
            return
        task = asyncio.get_running_loop().create_task(self._send_quietly(), name="confirmation-mails")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def run(self) -> None:
        """Send due mails until cancelled: when woken, and every `retry` seconds (sooner if one is due)."""
        self._running = True
        try:
            while True:
                self._wake.clear()
                await self._send_quietly()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), await self._pause())
        finally:
            self._running = False

    async def _pause(self) -> float:
        """Seconds until the next waiting mail is due, at most `retry`."""
        due = await read_stores(self.db).confirmations.next_due()
        if due is None:
            return self.retry
        return min(self.retry, max(0.05, (due - self.clock()).total_seconds()))

    async def _send_quietly(self) -> int:
        try:
            return await self.send_due()
        except (StorageError, MailError, OSError) as exc:
            self._note("the queue could not be worked: %s", exc)
            return 0

    async def send_due(self) -> int:
        """Send every mail that is due now (one connection for the lot); how many went out."""
        async with self._sending:
            now = self.clock()
            async with unit_of_work(self.db) as uow:
                await uow.confirmations.prune(now - CONFIRM_TTL - timedelta(days=1))
            due = await read_stores(self.db).confirmations.due(now, BATCH)
            if not due:
                return 0
            sent = 0
            async with Mailer(self.mail) as mailer:
                for index, row in enumerate(due):
                    try:
                        if await self._send_one(mailer, row, now):
                            sent += 1
                    except MailUnavailable as exc:
                        # The server is down or refuses us: everything waiting waits for the next round.
                        self._note("confirmation mails wait: %s", exc)
                        await self._later([r.id for r in due[index:]], now, str(exc))
                        break
            return sent

    async def _send_one(self, mailer: Mailer, row: ConfirmationMail, now: datetime) -> bool:
        email = await read_stores(self.db).emails.get(row.email_id)
        why_not = _nothing_to_send(row, email, now)
        if why_not is not None or email is None:
            async with unit_of_work(self.db) as uow:
                await uow.confirmations.drop(row.id, why_not or "the address is gone")
            log.info("email: confirmation mail %d for address %d dropped: %s", row.id, row.email_id, why_not)
            return False
        try:
            await mailer.send(await self._message(email, row, now))
        except PermanentFailure as exc:
            async with unit_of_work(self.db) as uow:
                await uow.confirmations.drop(row.id, f"refused: {exc}")
            log.warning("email: confirmation mail to address %d refused for good: %s", email.id, exc)
            return False
        except MailUnavailable:
            raise
        except MailError as exc:
            await self._later([row.id], now, str(exc))
            self._note("a confirmation mail waits: %s", exc)
            return False
        async with unit_of_work(self.db) as uow:
            await uow.confirmations.mark_sent(row.id, self.clock())
        log.info("email: confirmation mail sent to address %d", email.id)
        return True

    async def _message(self, email: EmailAddress, row: ConfirmationMail, now: datetime) -> Outgoing:
        assert email.address is not None
        signer = await self.signer()
        token = signer.make("confirm", email.id, email.address_hash, now, asker=row.subscriber_id)
        lang = row.lang
        url = f"{self.mail.public_base_url}/confirm/{token}?lang={lang}"
        renderer = self.renderer()
        env = renderer.environment(lang)
        subject = renderer.translations.gettext(lang, "Confirm your weekly email from Scientific Spaces")
        values = {
            "confirm_url": url,
            "subject": subject,
            "days": CONFIRM_TTL.days,
            "from_telegram": row.subscriber_id is not None,
        }
        return compose(
            mail_from=self.mail.mail_from,
            to=email.address,
            subject=subject,
            text=env.get_template("email/confirm.txt").render(values).strip() + "\n",
            html=env.get_template("email/confirm.html").render(values).strip() + "\n",
            now=now,
        )

    async def _later(self, ids: list[int], now: datetime, error: str) -> None:
        when = now + timedelta(seconds=self.retry)
        async with unit_of_work(self.db) as uow:
            for mail_id in ids:
                await uow.confirmations.retry_at(mail_id, when, error)

    def _note(self, message: str, *args: object) -> None:
        """A warning at most once a minute, with how many were held back."""
        held = self._throttle.admit(message)
        if held is not None:
            more = f" ({held} more in the last minute)" if held else ""
            log.warning("email: " + message + more, *args)


def _nothing_to_send(row: ConfirmationMail, email: EmailAddress | None, now: datetime) -> str | None:
    """Why this mail should no longer go out, or None when it should."""
    if email is None or email.address is None:
        return "the address is gone"
    if now - row.created_at > CONFIRM_TTL:
        return "not sent before its link would have expired"
    linked = email.status == "confirmed" and (
        row.subscriber_id is None or row.subscriber_id == email.subscriber_id
    )
    return "already confirmed" if linked else None
