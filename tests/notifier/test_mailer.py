"""Which SMTP refusals blame the recipient's address (and count toward its bounce) and which the message."""

from __future__ import annotations

import pytest

from notifier.mail.mailer import blames_address


@pytest.mark.parametrize(
    ("code", "message", "blamed"),
    [
        (550, "5.1.1 no such user", True),
        (552, "5.2.2 mailbox full", True),
        (550, "mailbox unavailable", True),  # no enhanced code: RFC 5321's mailbox replies
        (553, "mailbox name not allowed", True),
        (554, "5.7.1 message refused as spam", False),
        (550, "5.7.1 policy: message rejected", False),  # the enhanced code says it is the message
        (554, "5.6.0 content not accepted", False),
        (554, "transaction failed", False),
    ],
)
def test_only_mailbox_refusals_blame_the_address(code: int, message: str, blamed: bool) -> None:
    assert blames_address(code, message) is blamed
