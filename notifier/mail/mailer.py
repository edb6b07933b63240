"""Sending mail over SMTP with aiosmtplib: one connection reused for many messages, at a configured rate.

Every failure is sorted into what the caller does next: `TemporaryFailure` (a 4xx, a dropped connection: try
again later), `PermanentFailure` (a 5xx for this recipient: count it towards a bounce) and `MailUnavailable`
(the server cannot be reached, or refuses our login or our sender address: stop the run; no recipient is to
blame). The messages themselves are built here too: multipart/alternative (plain text first, then HTML),
headers encoded as RFC 2047 asks.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from types import TracebackType
from typing import Self

import aiosmtplib

from digest.mail_formulas import MailImage
from notifier.config import MailConfig
from notifier.errors import NotifierError

log = logging.getLogger(__name__)

SMTP_TIMEOUT = 30.0


class MailError(NotifierError):
    """Root of the mail failures; the message is one line fit for a log."""


class MailUnavailable(MailError):
    """The server cannot be reached, or refuses the connection, our login or our sender: nothing was sent."""


class TemporaryFailure(MailError):
    """A 4xx reply or a connection dropped mid-message: the same mail may be tried again later."""


class PermanentFailure(MailError):
    """A 5xx reply for this message or recipient: trying again will not help.

    `blames_address` says whether the reply is about the mailbox (a refused RCPT, an unknown or full mailbox),
    which counts toward a bounce, or about the message (a policy or content refusal, `554 5.7.1`), which
    would refuse every reader alike and must never bounce them.
    """

    def __init__(self, detail: str, *, blames_address: bool = True) -> None:
        super().__init__(detail)
        self.blames_address = blames_address


# RFC 5321 replies about the mailbox itself (unavailable, not local, full, name not allowed).
_MAILBOX_REPLIES = frozenset({550, 551, 552, 553})


def blames_address(code: int, message: str) -> bool:
    """Whether a 5xx reply to DATA is about the recipient's mailbox (RFC 3463 5.1.x, 5.2.x) or the message."""
    enhanced = re.match(r"5\.(\d{1,3})\.\d{1,3}\b", message)
    if enhanced is not None:
        return enhanced.group(1) in {"1", "2"}
    return code in _MAILBOX_REPLIES


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to one recipient: the address it goes to and the message with every header set."""

    to: str
    message: EmailMessage


def _reply(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {exc.message}".strip()


def _connect_failure(exc: aiosmtplib.SMTPException | OSError) -> str:
    """Why a connection failed in a few words ('Connection refused'), not aiosmtplib's wrapping of it."""
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return _reply(exc)
    if isinstance(exc, aiosmtplib.SMTPConnectTimeoutError):
        return "timed out"
    # aiosmtplib's connect errors are OSErrors themselves, wrapping the socket's.
    cause = exc.__cause__ if isinstance(exc, aiosmtplib.SMTPException) else exc
    if isinstance(cause, OSError):
        # asyncio's own text for a refused connect ("Connect call failed (...)") repeats the address.
        if cause.errno is not None and cause.errno > 0:
            return os.strerror(cause.errno)
        if cause.strerror:
            return cause.strerror
    return str(exc)


class Mailer:
    """An SMTP client for a run: `async with Mailer(config) as mailer: await mailer.send(outgoing)`.

    It connects at the first message, keeps the connection for the next ones (reconnecting once if the server
    dropped it between messages) and waits so that at most `mail_rate` messages leave per second.
    """

    def __init__(self, config: MailConfig, *, timeout: float = SMTP_TIMEOUT) -> None:
        if not config.smtp_host:
            raise MailUnavailable("email is off: SMTP_HOST is not set")
        self.config = config
        self.timeout = timeout
        self._smtp: aiosmtplib.SMTP | None = None
        self._interval = 1.0 / config.mail_rate
        self._last_sent = -float("inf")
        self.sent = 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def _client(self) -> aiosmtplib.SMTP:
        security = self.config.smtp_security
        return aiosmtplib.SMTP(
            hostname=self.config.smtp_host,
            port=self.config.smtp_port,
            username=self.config.smtp_user or None,
            password=self.config.smtp_password if self.config.smtp_user else None,
            use_tls=security == "tls",
            # False, not None: with `none` a server offering STARTTLS must not be upgraded to behind our back.
            start_tls=security == "starttls",
            timeout=self.timeout,
        )

    async def _connect(self) -> aiosmtplib.SMTP:
        if self._smtp is not None and self._smtp.is_connected:
            return self._smtp
        smtp = self._client()
        where = f"{self.config.smtp_host}:{self.config.smtp_port or 'default port'}"
        if self.config.smtp_user and self.config.smtp_security == "none" and where not in _PLAINTEXT_WARNED:
            _PLAINTEXT_WARNED.add(where)
            log.warning(
                "mail: SMTP_USER's password goes to %s over a plaintext connection (SMTP_SECURITY=none): "
                "anyone on the way can read it; use starttls or tls",
                where,
            )
        try:
            await smtp.connect()
        except aiosmtplib.SMTPAuthenticationError as exc:
            smtp.close()
            raise MailUnavailable(f"SMTP login refused by {where}: {_reply(exc)}") from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            smtp.close()
            raise MailUnavailable(f"cannot connect to SMTP server {where}: {_connect_failure(exc)}") from None
        self._smtp = smtp
        log.debug("mail: connected to %s", where)
        return smtp

    async def _pace(self) -> None:
        wait = self._last_sent + self._interval - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_sent = time.monotonic()

    async def send(self, outgoing: Outgoing) -> None:
        """Send one message to its one recipient, or raise one of the MailError kinds."""
        await self._pace()
        smtp = await self._connect()
        try:
            await self._send_on(smtp, outgoing)
        except aiosmtplib.SMTPServerDisconnected:
            # A server may close an idle connection between two messages; one fresh connection is normal.
            self._drop()
            smtp = await self._connect()
            try:
                await self._send_on(smtp, outgoing)
            except aiosmtplib.SMTPServerDisconnected as exc:
                self._drop()
                raise TemporaryFailure(f"connection dropped: {exc}") from None
        self.sent += 1

    async def _send_on(self, smtp: aiosmtplib.SMTP, outgoing: Outgoing) -> None:
        sender = parseaddr(self.config.mail_from)[1]
        try:
            await smtp.send_message(outgoing.message, sender=sender, recipients=[outgoing.to])
        except aiosmtplib.SMTPServerDisconnected:
            raise
        except aiosmtplib.SMTPRecipientsRefused as exc:
            worst = max((refused.code for refused in exc.recipients), default=0)
            detail = "; ".join(_reply(refused) for refused in exc.recipients)
            await self._reset()
            raise (PermanentFailure if worst >= 500 else TemporaryFailure)(detail) from None
        except aiosmtplib.SMTPSenderRefused as exc:
            await self._reset()
            if exc.code >= 500:
                # MAIL FROM refused (a 530 "authentication required", a sender not allowed): no recipient is
                # to blame, so it must not count towards anyone's bounce; nothing goes out until it is fixed.
                raise MailUnavailable(f"SMTP server refuses the sender {exc.sender}: {_reply(exc)}") from None
            raise TemporaryFailure(_reply(exc)) from None
        except aiosmtplib.SMTPResponseException as exc:
            await self._reset()
            if exc.code >= 500:
                raise PermanentFailure(
                    _reply(exc), blames_address=blames_address(exc.code, exc.message)
                ) from None
            raise TemporaryFailure(_reply(exc)) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            self._drop()
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from None

    async def _reset(self) -> None:
        """After a refusal, the next message starts a fresh transaction (or a fresh connection)."""
        if self._smtp is None or not self._smtp.is_connected:
            return
        try:
            await self._smtp.rset()
        except (aiosmtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    async def close(self) -> None:
        """Say QUIT (politely, but never waiting long) and close the connection."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            if smtp.is_connected:
                await asyncio.wait_for(smtp.quit(), timeout=5)
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            pass
        finally:
            smtp.close()


def sender_domain(mail_from: str) -> str:
    """The domain of MAIL_FROM, for Message-ID (`localhost` when it has none)."""
    return parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"


def compose(
    *,
    mail_from: str,
    to: str,
    subject: str,
    text: str,
    html: str,
    now: datetime,
    headers: dict[str, str] | None = None,
    images: Sequence[MailImage] = (),
) -> Outgoing:
    """A multipart/alternative message (text, then HTML) to one recipient, with Date and Message-ID.

    With `images`, the HTML part is a multipart/related holding the HTML and one `image/png` part per image,
    each with the Content-ID its `<img src="cid:…">` names.

    Display names and the subject may hold any Unicode: the SMTP policy encodes them (RFC 2047), and both
    parts are UTF-8.
    """
    message = EmailMessage(policy=SMTP)
    name, address = parseaddr(mail_from)
    message["From"] = Address(display_name=name, addr_spec=address) if name else address
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    # Random: make_msgid's would carry the clock and the process id.
    message["Message-ID"] = f"<{secrets.token_hex(16)}@{sender_domain(mail_from)}>"
    message["MIME-Version"] = "1.0"
    for key, value in (headers or {}).items():
        message[key] = value
    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")
    html_part = message.get_body(("html",)) if images else None
    if html_part is not None:
        for image in images:
            html_part.add_related(
                image.drawing.png, maintype="image", subtype="png", cid=f"<{image.cid}>", disposition="inline"
            )
    return Outgoing(to, message)


# SMTP servers already warned about (once a process): a login over a connection without TLS.
_PLAINTEXT_WARNED: set[str] = set()

_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"{_LOCAL}@{_LABEL}(?:\.{_LABEL})+")


def check_address(text: str) -> str | None:
    """`text` stripped if it is a plain deliverable address (ASCII, `local@domain.tld`), else None.

    Stricter than RFC 5322 on purpose: no quoted local parts, comments or raw IPs, nothing that could smuggle
    a second recipient or a header line.
    """
    address = text.strip()
    if len(address) > 254 or len(address.partition("@")[0]) > 64 or not _ADDRESS.fullmatch(address):
        return None
    # A numeric last label is no top-level domain: `x@127.0.0.1` is a raw IP in disguise.
    if address.rpartition(".")[2].isdigit():
        return None
    return address


def mask_address(address: str) -> str:
    """`address` with most of its local part hidden (`y***@example.com`), to show in a chat."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"
