"""Attacks on the web app of the real `kexue-notifier run`: slow clients, private endpoints, headers, links.

Each test starts the process (LOG_LEVEL=DEBUG, METRICS_TOKEN set, as the acceptance check does) and attacks
it over a real socket. WEB_READ_TIMEOUT is 2 s here so that a slow client's fate shows in seconds; its
default (20 s, at most 30) is checked by the settings.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from notifier.settings import Settings
from tests.support.live_web import LiveWeb, live_web
from tests.support.service import eventually

TOKEN = "metrics-bearer-for-the-attack-tests"
READ_TIMEOUT = 2.0
ATTACKED = {"LOG_LEVEL": "DEBUG", "METRICS_TOKEN": TOKEN, "WEB_READ_TIMEOUT": str(READ_TIMEOUT)}
SECURITY = ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy")


async def closed_after(reader: asyncio.StreamReader, *, within: float) -> float:
    """Seconds until the server closes the connection (EOF or reset); fails after `within`."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(within):
            while await reader.read(4096):
                pass
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def host_port(web: LiveWeb) -> tuple[str, int]:
    """Where the web app listens."""
    host, _, port = web.url.removeprefix("http://").rpartition(":")
    return host, int(port)


async def dribble(writer: asyncio.StreamWriter, data: bytes, every: float = 0.25) -> None:
    """Send `data` a byte at a time, `every` seconds apart, until the server hangs up."""
    try:
        for byte in data:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(every)
    except ConnectionError:
        return


def test_the_read_timeout_is_at_most_thirty_seconds_by_default() -> None:
    field = Settings.model_fields["web_read_timeout"]
    assert field.default <= 30


async def test_a_dribbled_request_line_headers_or_body_is_closed_within_the_read_timeout(
    tmp_path: Path,
) -> None:
    async with live_web(tmp_path, ATTACKED) as web:
        host, port = host_port(web)
        head = b"POST /subscribe HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        attacks = {
            "silent": b"",
            "line": b"GET /healthz HTTP/1.1\r\n" + b"X" * 400,
            "headers": head + b"X-Padding: " + b"a" * 400,
            "body": head + b"Content-Length: 400\r\n\r\n" + b"address=" + b"a" * 390,
        }
        tasks = []
        for name, data in attacks.items():
            reader, writer = await asyncio.open_connection(host, port)
            if name == "body":
                writer.write(data[: len(head) + 24])
                data = data[len(head) + 24 :]
            tasks.append((name, reader, writer, asyncio.create_task(dribble(writer, data))))
        for name, reader, writer, task in tasks:
            held = await closed_after(reader, within=READ_TIMEOUT + 10)
            assert held < READ_TIMEOUT + 3, (name, held)
            task.cancel()
            writer.close()
        # The process goes on answering.
        async with aiohttp.ClientSession() as session, session.get(web.url + "/healthz") as answer:
            assert answer.status == 200
        assert "Traceback" not in web.service.log()


async def test_hundreds_of_idle_connections_neither_starve_the_service_nor_flood_the_log(
    tmp_path: Path,
) -> None:
    # 256 open files at most, as a small LimitNOFILE: 300 silent clients would take them all.
    async with live_web(tmp_path, ATTACKED, open_files=256) as web:
        host, port = host_port(web)
        idle: list[asyncio.StreamWriter] = []
        for _ in range(300):
            try:
                _, writer = await asyncio.open_connection(host, port)
            except OSError:
                continue
            writer.write(b"GET / HTTP/1.1\r\n")
            idle.append(writer)
        started = time.monotonic()
        async with aiohttp.ClientSession() as session:

            async def healthy() -> bool:
                try:
                    async with session.get(web.url + "/healthz", timeout=aiohttp.ClientTimeout(total=2)) as r:
                        return r.status == 200
                except (aiohttp.ClientError, TimeoutError):
                    return False

            await eventually(healthy, timeout=READ_TIMEOUT + 10, what="/healthz under 300 idle clients")
        assert time.monotonic() - started < READ_TIMEOUT + 10
        for writer in idle:
            writer.close()
        log = web.service.log()
        assert log.count("out of system resource") <= 2
        assert log.count("closed a connection") <= 6, log[-3000:]
        assert "Traceback" not in log


async def test_metrics_need_the_bearer_token_and_healthz_says_only_ok(tmp_path: Path) -> None:
    async with live_web(tmp_path, ATTACKED) as web, aiohttp.ClientSession() as session:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            async with session.get(web.url + "/metrics", headers=headers) as answer:
                assert answer.status == 401 and "kexue_" not in await answer.text()
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        async with session.get(web.url + "/metrics", headers=bearer) as answer:
            assert answer.status == 200 and "kexue_posts" in await answer.text()
        async with session.get(web.url + "/healthz") as answer:
            assert answer.status == 200 and await answer.json() == {"status": "ok"}
        assert TOKEN not in web.service.log()
    (tmp_path / "unset").mkdir()
    async with (
        live_web(tmp_path / "unset") as plain,
        aiohttp.ClientSession() as session,
        session.get(plain.url + "/metrics") as answer,
    ):
        assert answer.status == 404 and "kexue_" not in await answer.text()


async def test_the_404_page_links_only_to_itself(tmp_path: Path) -> None:
    host_path = "//evil.example/phish"
    async with live_web(tmp_path, ATTACKED) as web:
        host, port = host_port(web)
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(f"GET {host_path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        page = (await asyncio.wait_for(reader.read(), 10)).decode()
        writer.close()
    assert page.startswith("HTTP/1.1 404")
    assert "evil.example" not in page
    assert 'href="?lang=zh"' in page and 'href="?lang=en"' in page


async def test_every_answer_has_the_security_headers_and_no_server_version(tmp_path: Path) -> None:
    async with live_web(tmp_path, ATTACKED) as web:
        host, port = host_port(web)
        raw = {
            "page": b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "token page": b"GET /confirm/" + b"A" * 56 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "aiohttp 400": b"GET /\x01bad HTTP/1.1\r\nHost: x\r\n\r\n",
            "line too long": b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            "aiohttp 413": b"POST /subscribe HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-"
            b"urlencoded\r\nContent-Length: 70000\r\nConnection: close\r\n\r\n" + b"a" * 70000,
        }
        for name, request in raw.items():
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(request)
            try:
                answer = (await asyncio.wait_for(reader.read(), 10)).decode("latin-1")
            except ConnectionResetError:
                raise AssertionError(f"{name}: connection reset") from None
            finally:
                writer.close()
            head = answer.split("\r\n\r\n", 1)[0]
            status = head.split(" ", 2)[1]
            headers = {
                line.partition(":")[0].lower(): line.partition(":")[2].strip()
                for line in head.split("\r\n")[1:]
            }
            assert status in {"page": "200", "token page": "404", "aiohttp 413": "413"}.get(name, "400"), (
                name,
                head,
            )
            for header in SECURITY:
                assert header.lower() in headers, (name, header, head)
            assert headers.get("cache-control") == "no-store", (name, head)
            assert headers.get("server") == "kexue-notifier", (name, head)
