"""A real SMTP server (aiosmtpd) on loopback, in the test's own event loop, that keeps what it receives.

Faults are per recipient, as a real server's would be: `refuse[address] = (550, "no such user")` answers RCPT
with that reply; `drop[address] = n` drops the connection in the middle of the next n messages' DATA; `login`
requires AUTH with that user and password. `connections` counts the connections opened.

More faults, for the fault suites: `reject_data[address] = (451, "…")` answers DATA with that reply (key "*":
every message); `drop_after[address] = n` keeps the next n messages and then drops the connection before
answering, so the client never learns they arrived (the duplicate SMTP cannot rule out, RFC 1047).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import warnings
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

# aiosmtpd warns on every connection of a server that takes AUTH without TLS: this one does, on purpose.
logging.getLogger("mail.log").setLevel(logging.ERROR)


@dataclass
class Received:
    """One accepted message: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage


@dataclass
class SmtpServer:
    """What the server was told to do and what it received."""

    host: str = "127.0.0.1"
    port: int = 0
    messages: list[Received] = field(default_factory=list)
    refuse: dict[str, tuple[int, str]] = field(default_factory=dict)
    drop: dict[str, int] = field(default_factory=dict)
    login: tuple[str, str] | None = None
    reject_data: dict[str, tuple[int, str]] = field(default_factory=dict)
    drop_after: dict[str, int] = field(default_factory=dict)
    connections: int = 0
    delay: float = 0.0  # seconds each DATA waits before its reply: a slow server
    _server: asyncio.AbstractServer | None = None
    _protocols: list[SMTP] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def to(self, address: str) -> list[EmailMessage]:
        """The messages whose envelope went to `address`."""
        return [m.message for m in self.messages if address in m.rcpt_tos]

    async def wait_for(self, count: int, timeout: float = 20) -> None:
        """Until at least `count` messages have arrived."""

        async def wait() -> None:
            while len(self.messages) < count:
                self._arrived.clear()
                await self._arrived.wait()

        await asyncio.wait_for(wait(), timeout)

    # --- aiosmtpd handler hooks -----------------------------------------------------------------------

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        refused = self.refuse.get(address)
        if refused is not None:
            return f"{refused[0]} {refused[1]}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        for address in envelope.rcpt_tos:
            if self.drop.get(address, 0) > 0:
                self.drop[address] -= 1
                transport = server.transport
                assert isinstance(transport, asyncio.Transport)
                transport.abort()
                return "451 dropped"
        for address in [*envelope.rcpt_tos, "*"]:
            rejected = self.reject_data.get(address)
            if rejected is not None:
                return f"{rejected[0]} {rejected[1]}"
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), raw, parsed))
        self._arrived.set()
        for address in envelope.rcpt_tos:
            if self.drop_after.get(address, 0) > 0:
                # Kept, but the reply never leaves: the client sees a dropped connection.
                self.drop_after[address] -= 1
                transport = server.transport
                assert isinstance(transport, asyncio.Transport)
                transport.abort()
                return "451 dropped"
        return "250 Message accepted"

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            self.login is not None
            and isinstance(data, LoginPassword)
            and (data.login.decode(), data.password.decode()) == self.login
        )
        # handled=False: the server answers the failure itself (535).
        return AuthResult(success=ok, handled=False)

    def _protocol(self) -> SMTP:
        self.connections += 1
        with warnings.catch_warnings():
            # Plain-text AUTH is what this loopback test server is for.
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            protocol = self._smtp()
        self._protocols.append(protocol)
        return protocol

    def _smtp(self) -> SMTP:
        return SMTP(
            self,
            hostname="mail.test",
            authenticator=self._authenticate,
            auth_required=self.login is not None,
            auth_require_tls=False,
        )

    async def start(self) -> None:
        """Listen on an ephemeral loopback port."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and close every connection."""
        if self._server is not None:
            self._server.close()
            for protocol in self._protocols:
                if protocol.transport is not None:
                    protocol.transport.close()
            await self._server.wait_closed()
            self._server = None
