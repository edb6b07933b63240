"""The double opt-in of the weekly email: sign-ups that reveal nothing and links nobody can hijack.

- A sign-up answers the same (status, text, time) for every state of the address: it records the limits'
  events, starts or restarts the opt-in in the database and queues the confirmation mail, which goes out
  after the answer (notifier/mail/confirmations.py). Nothing about sending happens inside the request.
- An address is linked to a Telegram reader only when the confirmation link mailed for that reader's own
  `/email` is used; a sign-up never links, a web sign-up voids the links readers asked for before it, and a
  web confirmation never takes a link away.
- What a reader sees and stops (`/email`, `/email off`) is what that reader asked for and confirmed.

Limits: SIGNUPS_PER_DAY sign-ups per Telegram user and per IP (an IPv6 /64), SIGNUPS_PER_DAY_TOTAL for
everyone together, CONFIRMATION_MAILS_PER_DAY confirmation mails per address.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from notifier.config import MailConfig
from notifier.mail.mailer import check_address
from notifier.mail.signups import ip_limit_key
from notifier.mail.tokens import CONFIRM_TTL, TokenClaims
from storage.db import Database
from storage.emails import EmailAddress, SignupKind, SignUpOutcome
from storage.uow import read_stores, unit_of_work

log = logging.getLogger(__name__)

CONFIRMATION_MAILS_PER_DAY = 3
SIGNUPS_PER_DAY = 5


class EmailSignUpStatus(Enum):
    """What a front end may tell the person signing up. Never whether the address was already known."""

    # "If the address can receive mail, a confirmation link is on its way": said whether a mail was queued,
    # the address was already confirmed, or its confirmation mails for the day were used up.
    ACCEPTED = "accepted"
    INVALID = "invalid"  # not an address we can mail
    LIMITED = "limited"  # this Telegram user or IP address (or everyone together) started too many today
    EMAIL_OFF = "email_off"  # this service sends no mail (SMTP_HOST is not set)
    # Kept for front ends that still name it: a sign-up no longer waits for the mail server, so never said.
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class EmailSignUpResult:
    """The answer to a sign-up (see EmailSignUpStatus for what each status lets a front end say)."""

    status: EmailSignUpStatus


@dataclass(frozen=True, slots=True)
class ReaderAddress:
    """An address as one reader's `/email` lists it: confirmed by that reader's link, or asked for."""

    email: EmailAddress
    linked: bool  # False: this reader asked for it and has not confirmed it (whatever others did)


class EmailSignUps:
    """Sign-ups, confirmations and a reader's own addresses, over one database."""

    def __init__(
        self,
        *,
        db: Database,
        mail: MailConfig,
        languages: Callable[[], Sequence[str]],
        clock: Callable[[], datetime],
        queued: Callable[[], None],
    ) -> None:
        self.db = db
        self.mail = mail
        self.languages = languages
        self.clock = clock
        self.queued = queued

    async def sign_up(
        self, address: str, lang: str, *, telegram_user: int | None = None, ip: str | None = None
    ) -> EmailSignUpResult:
        """Start the double opt-in of `address` from the bot (`telegram_user`) or the web (`ip`)."""
        spelled = check_address(address)
        if spelled is None:
            return EmailSignUpResult(EmailSignUpStatus.INVALID)
        if not self.mail.enabled:
            return EmailSignUpResult(EmailSignUpStatus.EMAIL_OFF)
        lang = lang if lang in self.languages() else "zh"
        now = self.clock()
        day_ago = now - timedelta(days=1)
        limits: list[tuple[SignupKind, str]] = []
        if telegram_user is not None:
            limits.append(("signup_telegram", str(telegram_user)))
        if ip is not None:
            limits.append(("signup_ip", ip_limit_key(ip)))
        async with unit_of_work(self.db) as uow:
            # Each client's limit first: one client at its limit spends nothing of everyone's budget.
            for kind, key in limits:
                if await uow.emails.count_events(kind, key, day_ago) >= SIGNUPS_PER_DAY:
                    log.info("email: sign-up refused: %s limit reached", kind)
                    return EmailSignUpResult(EmailSignUpStatus.LIMITED)
            if await uow.emails.count_events("signup_all", "", day_ago) >= self.mail.signups_per_day_total:
                log.warning("email: sign-up refused: SIGNUPS_PER_DAY_TOTAL reached")
                return EmailSignUpResult(EmailSignUpStatus.LIMITED)
            for kind, key in [*limits, ("signup_all", "")]:
                await uow.emails.record_event(kind, key, now)
            asker = None
            if telegram_user is not None:
                reader = await uow.subscribers.get(telegram_user)
                if reader is None:
                    started = await uow.subscribers.start(
                        telegram_user, chat_type="private", lang=lang, now=now
                    )
                    reader = started.subscriber
                asker = reader.id
            signed = await uow.emails.sign_up(spelled, lang=lang, now=now)
            if asker is None:
                # A web sign-up is the owner's own: a link a Telegram reader asked for earlier no longer
                # links that reader (whichever mail the owner then opens).
                await uow.confirmations.void_chat_requests(signed.email.id)
            # A confirmed address needs no mail, unless a reader asks to link it to their chat.
            wanted = signed.outcome is not SignUpOutcome.CONFIRMED or (
                asker is not None and signed.email.subscriber_id != asker
            )
            queued = False
            if wanted and (
                await uow.emails.count_events("confirmation_mail", spelled, day_ago)
                < CONFIRMATION_MAILS_PER_DAY
            ):
                queued = await uow.confirmations.enqueue(signed.email.id, asker, lang, now)
                if queued:
                    await uow.emails.record_event("confirmation_mail", spelled, now)
            elif wanted and asker is not None:
                # Listed for the reader all the same: what /email shows must not tell who else asked.
                await uow.confirmations.record_unsent(signed.email.id, asker, lang, now, "daily mail limit")
        if queued:
            self.queued()
        return EmailSignUpResult(EmailSignUpStatus.ACCEPTED)

    async def confirm(self, email: EmailAddress, claims: TokenClaims) -> EmailAddress | None:
        """Confirm the address of a genuine link, linking it to the reader who asked for that link (if any
        and still there); None when the address is unsubscribed since (the link confirms nothing)."""
        now = self.clock()
        async with unit_of_work(self.db) as uow:
            asker = claims.asker
            if asker is not None and not await uow.confirmations.asked(asker, email.id):
                # The reader has forgotten us, withdrawn with /email off, or the request expired.
                asker = None
            confirmed = await uow.emails.confirm(email.id, now, subscriber_id=asker)
            if confirmed is not None and asker is not None:
                await uow.confirmations.withdraw(asker, email.id)
        if confirmed is not None:
            how = "for a Telegram reader" if asker is not None else "from the web"
            log.info("email: address %d confirmed %s", email.id, how)
        return confirmed

    @staticmethod
    def done(email: EmailAddress, claims: TokenClaims) -> bool:
        """Whether using this confirmation link would change nothing (confirmed, and linked if it asks to)."""
        if email.status != "confirmed":
            return False
        return claims.asker is None or claims.asker == email.subscriber_id

    async def of_reader(self, chat_id: int) -> list[ReaderAddress]:
        """What this chat's `/email` lists: the addresses its own links confirmed, then those it asked for
        in the last CONFIRM_TTL and has not confirmed (listed as waiting, whatever became of them)."""
        reads = read_stores(self.db)
        reader = await reads.subscribers.get(chat_id)
        if reader is None:
            return []
        linked = [e for e in await reads.emails.by_subscriber(reader.id) if e.address is not None]
        shown = {e.id for e in linked}
        asked: list[ReaderAddress] = []
        for email_id in await reads.confirmations.asked_by(reader.id, self.clock() - CONFIRM_TTL):
            email = await reads.emails.get(email_id)
            if email is not None and email.address is not None and email_id not in shown:
                asked.append(ReaderAddress(email, linked=False))
        return [*(ReaderAddress(e, linked=True) for e in linked), *asked]

    async def off(self, chat_id: int) -> int:
        """`/email off`: unsubscribe what this chat confirmed, withdraw what it asked for. How many were
        receiving the weekly email."""
        now = self.clock()
        count = 0
        async with unit_of_work(self.db) as uow:
            reader = await uow.subscribers.get(chat_id)
            if reader is None:
                return 0
            for email in await uow.emails.by_subscriber(reader.id):
                count += await uow.emails.unsubscribe(email.id, now)
            withdrawn = await uow.confirmations.withdraw(reader.id)
        log.info("chat %d: email off (%d addresses, %d requests withdrawn)", chat_id, count, withdrawn)
        return count
