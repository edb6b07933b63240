"""Attacks on the weekly email's sign-up, against the real `kexue-notifier run` and a loopback SMTP server.

The test client stands behind the trusted loopback proxy, so X-Forwarded-For names the client it plays.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from tests.support.live_web import live_web
from tests.support.smtp_server import SmtpServer


def mail_env(smtp: SmtpServer, **more: str) -> dict[str, str]:
    """The settings of a service mailing through `smtp`, debugging, metrics behind a token."""
    return {
        "SMTP_HOST": smtp.host,
        "SMTP_PORT": str(smtp.port),
        "SMTP_SECURITY": "none",
        "LOG_LEVEL": "DEBUG",
        "METRICS_TOKEN": "t0ken-for-metrics",
        **more,
    }


async def test_ipv6_sign_ups_are_limited_per_64_and_everyone_together_per_day(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    async with live_web(tmp_path, mail_env(smtp, SIGNUPS_PER_DAY_TOTAL="7")) as web:
        statuses = [
            (await web.sign_up(f"reader{n}@example.org", via=f"2001:db8::{n}"))[0] for n in range(1, 8)
        ]
        assert statuses == [200] * 5 + [429] * 2
        # Another /64 has its own budget; an IPv4-mapped address is its IPv4 address.
        assert (await web.sign_up("other@example.org", via="2001:db8:0:1::1"))[0] == 200
        assert (await web.sign_up("v4@example.org", via="::ffff:192.0.2.7"))[0] == 200
        # Seven accepted today (the refused ones spent nothing): the eighth, from anywhere, is refused.
        assert (await web.sign_up("late@example.org", via="198.51.100.9"))[0] == 429


async def test_a_9_kb_url_never_logs_a_whole_token(tmp_path: Path, smtp: SmtpServer) -> None:
    async with live_web(tmp_path, mail_env(smtp)) as web:
        assert (await web.sign_up("reader@example.org"))[0] == 200
        await smtp.wait_for(1)
        body = smtp.messages[0].message.get_body(("plain",))
        assert body is not None
        found = re.search(r"/confirm/([A-Za-z0-9_-]+)", str(body.get_content()))
        assert found is not None
        token = found[1]
        host, _, port = web.url.removeprefix("http://").rpartition(":")
        for padded in (f"/confirm/{token}" + "A" * 9000, f"/confirm/{token}?pad=" + "B" * 9000):
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(f"GET {padded} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            answer = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            assert re.match(rb"HTTP/1\.[01] 4", answer), answer[:100]
        await asyncio.sleep(0.5)
        log = web.service.log()
    assert "malformed request" in log
    assert token not in log and token[:24] not in log
    assert "A" * 300 not in log and "B" * 300 not in log
