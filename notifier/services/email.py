"""The weekly email's addresses: the double opt-in sign-up, signed links and a reader's addresses."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Literal

from digest.render import Renderer
from notifier.config import Clock, Config
from notifier.mail.confirmations import ConfirmationMails
from notifier.mail.mailer import mask_address
from notifier.mail.signup import (
    EmailSignUpResult,
    EmailSignUps,
)
from notifier.mail.tokens import CONFIRM_TTL, TokenClaims, TokenSigner, signer_for
from storage.db import Database
from storage.emails import EmailAddress
from storage.uow import read_stores, unit_of_work

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EmailView:
    """One address of a reader as the reader may see it: masked, with where it stands."""

    masked: str
    status: str  # pending, confirmed or bounced
    lang: str
    confirmed_at: datetime | None


@dataclass(frozen=True, slots=True)
class EmailState:
    """The addresses a Telegram reader signed up from the bot (unsubscribed ones are gone from it)."""

    addresses: tuple[EmailView, ...]


class LinkState(Enum):
    """What a signed link (confirm, unsubscribe) points at."""

    INVALID = "invalid"  # forged, expired, or its address is gone: the web app answers 404
    PENDING = "pending"
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"


def _link_state(email: EmailAddress) -> LinkState:
    if email.status == "confirmed":
        return LinkState.CONFIRMED
    return LinkState.PENDING if email.status == "pending" else LinkState.UNSUBSCRIBED


# The sign-up limits count events of the last day; a second day covers a clock that moved back.
EVENTS_KEPT = timedelta(days=2)


class EmailService:
    """The weekly email's addresses: sign-up (double opt-in), signed links, a reader's addresses."""

    def __init__(
        self, *, config: Config, db: Database, clock: Clock, renderer: Callable[[], Renderer]
    ) -> None:
        self.config = config
        self.db = db
        self.clock = clock
        self._signer: TokenSigner | None = None
        # The double opt-in: sign-ups queue their mail, which `confirmations` sends after the answer.
        self.confirmations = ConfirmationMails(
            db=db,
            mail=config.mail,
            renderer=renderer,
            clock=clock,
            signer=self.signer,
            retry=config.mail.retry_interval,
        )
        self.signups = EmailSignUps(
            db=db,
            mail=config.mail,
            languages=lambda: renderer().translations.languages,
            clock=clock,
            queued=self.confirmations.wake,
        )

    async def signer(self) -> TokenSigner:
        """The signer of the links in mails: SECRET_KEY, else a key kept in the database."""
        if self._signer is None:
            self._signer = await signer_for(self.db, self.config.mail.secret_key)
        return self._signer

    async def sign_up(
        self, address: str, lang: str, *, telegram_user: int | None = None, ip: str | None = None
    ) -> EmailSignUpResult:
        """Start the double opt-in of `address` from the bot (`telegram_user`) or the web (`ip`); the answer
        never tells whether the address was known (notifier/mail/signup.py)."""
        return await self.signups.sign_up(address, lang, telegram_user=telegram_user, ip=ip)

    async def _linked(
        self, token: str, purpose: Literal["confirm", "unsubscribe"]
    ) -> tuple[EmailAddress, TokenClaims] | None:
        now = self.clock()
        signer = await self.signer()
        claims = signer.read(token, purpose, now, ttl=CONFIRM_TTL if purpose == "confirm" else None)
        if claims is None:
            return None
        found = await read_stores(self.db).emails.get(claims.email_id)
        if found is None or not signer.binds(claims, found.address_hash):
            return None
        return found, claims

    async def link(self, token: str, purpose: Literal["confirm", "unsubscribe"]) -> LinkState:
        """Where the address of a signed link stands (INVALID: forged, expired or gone). Changes nothing."""
        return self._state(await self._linked(token, purpose), purpose)

    async def confirm_link(self, token: str) -> tuple[LinkState, str]:
        """Where a confirmation link stands, and the address it is for (its page shows it; '' when INVALID).
        Changes nothing."""
        linked = await self._linked(token, "confirm")
        state = self._state(linked, "confirm")
        address = "" if linked is None or state is LinkState.INVALID else linked[0].address or ""
        return state, address

    def _state(
        self, linked: tuple[EmailAddress, TokenClaims] | None, purpose: Literal["confirm", "unsubscribe"]
    ) -> LinkState:
        if linked is None:
            return LinkState.INVALID
        found, claims = linked
        if purpose == "confirm":
            if found.status == "unsubscribed":
                return LinkState.INVALID
            # A link a Telegram reader asked for still has work to do until it links that reader.
            return LinkState.CONFIRMED if self.signups.done(found, claims) else LinkState.PENDING
        return _link_state(found)

    async def confirm(self, token: str) -> LinkState:
        """Confirm the address of a confirmation link (storing the consent time, linking the Telegram reader
        who asked for this link); INVALID changes nothing."""
        linked = await self._linked(token, "confirm")
        if linked is None or await self.signups.confirm(*linked) is None:
            return LinkState.INVALID
        return LinkState.CONFIRMED

    async def unsubscribe(self, token: str) -> LinkState:
        """Unsubscribe the address of an unsubscribe link (keeping only its hash); INVALID changes nothing."""
        linked = await self._linked(token, "unsubscribe")
        if linked is None:
            return LinkState.INVALID
        async with unit_of_work(self.db) as uow:
            await uow.emails.unsubscribe(linked[0].id, self.clock())
        return LinkState.UNSUBSCRIBED

    async def state(self, chat_id: int) -> EmailState:
        """The addresses this chat confirmed, and those it asked for and has not confirmed, masked."""
        views = [
            EmailView(
                mask_address(entry.email.address or ""),
                "pending"
                if not entry.linked
                else ("bounced" if entry.email.bounced_at is not None else entry.email.status),
                entry.email.lang,
                entry.email.confirmed_at if entry.linked else None,
            )
            for entry in await self.signups.of_reader(chat_id)
        ]
        return EmailState(tuple(views))

    async def off(self, chat_id: int) -> int:
        """`/email off`: unsubscribe what this chat confirmed, withdraw what it asked for. How many were
        receiving the weekly email."""
        return await self.signups.off(chat_id)

    async def forget_old_events(self) -> int:
        """Drop the sign-up events no daily limit looks at any more (older than two days); how many."""
        async with unit_of_work(self.db) as uow:
            return await uow.emails.prune_events(self.clock() - EVENTS_KEPT)
