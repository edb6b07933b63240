"""Small leaks: an address guessable from its token, a Message-ID with the clock and pid, raw-IP domains,
a password over plaintext SMTP without a word."""

from __future__ import annotations

import base64
import logging
import os
import re
import time
from datetime import UTC, datetime

import pytest

from notifier.config import MailConfig
from notifier.mail.mailer import Mailer, check_address, compose
from notifier.mail.tokens import TokenSigner
from storage.textnorm import address_hash
from tests.support.smtp_server import SmtpServer

NOW = datetime(2025, 5, 12, 1, 0, tzinfo=UTC)
VICTIM = "victim@example.org"


def payload(token: str) -> bytes:
    """The packed part of a token, before its MAC."""
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))[:25]


def test_a_token_holds_no_plain_hash_of_its_address() -> None:
    signer = TokenSigner("secret")
    token = signer.make("unsubscribe", 7, address_hash(VICTIM), NOW)
    # A guess of the address, hashed, is nowhere in the token.
    assert bytes.fromhex(address_hash(VICTIM)[:16]) not in payload(token)
    claims = signer.read(token, "unsubscribe", NOW)
    assert claims is not None
    assert signer.binds(claims, address_hash(VICTIM))
    assert not signer.binds(claims, address_hash("someone.else@example.org"))
    # Another key tags the same address differently: the tag is keyed.
    other = TokenSigner("another secret")
    assert payload(other.make("unsubscribe", 7, address_hash(VICTIM), NOW)) != payload(token)


def test_a_message_id_is_random() -> None:
    ids = [
        str(
            compose(
                mail_from="Weekly <weekly@example.org>",
                to=VICTIM,
                subject="s",
                text="t",
                html="<p>h</p>",
                now=NOW,
            ).message["Message-ID"]
        )
        for _ in range(2)
    ]
    assert ids[0] != ids[1]
    for found in ids:
        assert re.fullmatch(r"<[0-9a-f]{32}@example\.org>", found), found
        assert str(os.getpid()) not in found and str(int(time.time()))[:6] not in found


@pytest.mark.parametrize(
    "address", ["x@127.0.0.1", "x@[127.0.0.1]", "x@10.0.0.1", "x@[::1]", "x@example.123"]
)
def test_raw_ip_domains_are_refused(address: str) -> None:
    assert check_address(address) is None


def test_ordinary_addresses_still_pass() -> None:
    assert check_address(" reader@mail.example.org ") == "reader@mail.example.org"
    assert check_address("a@b2.example.io") == "a@b2.example.io"


async def test_a_login_over_plaintext_smtp_is_warned_about(
    smtp: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    smtp.login = ("weekly", "pa55")
    config = MailConfig(
        smtp_host=smtp.host,
        smtp_port=smtp.port,
        smtp_user="weekly",
        smtp_password="pa55",
        smtp_security="none",
        mail_from="weekly@example.org",
    )
    message = compose(mail_from="weekly@example.org", to=VICTIM, subject="s", text="t", html="h", now=NOW)
    with caplog.at_level(logging.WARNING, logger="notifier.mail.mailer"):
        async with Mailer(config) as mailer:
            await mailer.send(message)
    warnings = [r.getMessage() for r in caplog.records if "plaintext" in r.getMessage()]
    assert len(warnings) == 1 and "pa55" not in warnings[0]
    assert len(smtp.messages) == 1


def test_the_log_masks_an_address_quoted_in_a_reply_or_an_error() -> None:
    from notifier.logs import Scrubber

    scrub = Scrubber()
    line = scrub("confirmation mail refused for good: 550 5.1.1 <victim.reader@example.org>: no such user")
    assert "victim.reader" not in line and "v***@example.org" in line
    assert scrub("https://reader:pw@kexue.fm/feed") == "https://reader:***@kexue.fm/feed"
