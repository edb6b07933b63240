"""`kexue-notifier run`: the scheduler polls, survives an unreachable blog, and stops cleanly on a signal."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cli.run import Jobs
from notifier.bootstrap import open_app
from notifier.settings import Settings
from tests.support.blog_server import BlogServer
from tests.support.fixtures import make_feed_xml

TZ = ZoneInfo("Asia/Shanghai")


async def start_service(workdir: Path, **env: str) -> asyncio.subprocess.Process:
    """`kexue-notifier run` in `workdir` with the given settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KEXUE_", "POLL_"))}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        "run",
        cwd=workdir,
        env={**clean, "KEXUE_DB": str(workdir / "k.sqlite3"), "CRAWL_DELAY": "0", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def read_until(stream: asyncio.StreamReader, needle: str, seen: list[str], timeout: float = 30) -> None:
    """Collect log lines until one contains `needle`."""

    async def scan() -> None:
        while True:
            line = (await stream.readline()).decode()
            if not line:
                raise AssertionError(f"service exited before logging {needle!r}: {''.join(seen)}")
            seen.append(line)
            if needle in line:
                return

    await asyncio.wait_for(scan(), timeout)


async def stop(proc: asyncio.subprocess.Process, seen: list[str]) -> int:
    """SIGTERM, then the exit status and the rest of the log."""
    proc.send_signal(signal.SIGTERM)
    _, rest = await asyncio.wait_for(proc.communicate(), timeout=20)
    seen.append(rest.decode())
    assert proc.returncode is not None
    return proc.returncode


async def test_an_unreachable_blog_logs_one_line_per_failure_and_never_crashes(tmp_path: Path) -> None:
    proc = await start_service(tmp_path, KEXUE_SOURCES="http://127.0.0.1:9/feed", POLL_INTERVAL="10")
    assert proc.stderr is not None
    seen: list[str] = []
    await read_until(proc.stderr, "poll failed: http://127.0.0.1:9/feed", seen)
    assert await stop(proc, seen) == 0
    log = "".join(seen)
    assert "Traceback" not in log
    assert "failure 1, next try in" in log
    assert "stopped" in log


async def test_the_service_polls_on_start_and_stops_on_sigterm(
    tmp_path: Path, blog_server: BlogServer
) -> None:
    items = [
        (10907, "Transformer升级之路：20、MLA好在哪里?（上）", datetime(2025, 5, 4, 9, tzinfo=TZ), "摘要")
    ]
    blog_server.set("/feed", make_feed_xml(items), content_type="application/rss+xml")
    proc = await start_service(tmp_path, KEXUE_SOURCES=blog_server.url("/feed"), POLL_INTERVAL="60")
    assert proc.stderr is not None
    seen: list[str] = []
    await read_until(proc.stderr, "(baseline)", seen)
    assert await stop(proc, seen) == 0
    assert "Traceback" not in "".join(seen)
    with sqlite3.connect(tmp_path / "k.sqlite3") as conn:
        assert conn.execute("SELECT archive_id FROM posts").fetchall() == [(10907,)]


async def test_with_kexue_now_a_failing_source_is_retried_later_and_sigint_stops_it(tmp_path: Path) -> None:
    proc = await start_service(
        tmp_path,
        KEXUE_SOURCES="http://reader:s3cret@127.0.0.1:9/feed",
        POLL_INTERVAL="1",
        KEXUE_NOW="2025-05-10T12:00:00+08:00",
    )
    assert proc.stderr is not None
    seen: list[str] = []
    # The replaced clock runs on: the backoff ends and the source is asked again.
    await read_until(proc.stderr, "(failure 2, next try in 2 s)", seen)
    proc.send_signal(signal.SIGINT)
    _, rest = await asyncio.wait_for(proc.communicate(), timeout=20)
    log = "".join(seen) + rest.decode()
    assert proc.returncode == 0
    assert "Traceback" not in log and "s3cret" not in log
    failures = [line for line in log.splitlines() if "poll failed" in line]
    # One line per failed poll, naming the source once (without its password).
    assert len(failures) >= 2 and all(line.count("http://127.0.0.1:9/feed") == 1 for line in failures)
    assert "stopped" in log


async def test_a_database_that_refuses_the_write_is_one_log_line_without_traceback(
    tmp_path: Path, blog_server: BlogServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    items = [
        (10907, "Transformer升级之路：20、MLA好在哪里?（上）", datetime(2025, 5, 4, 9, tzinfo=TZ), "摘要")
    ]
    blog_server.set("/feed", make_feed_xml(items), content_type="application/rss+xml")
    monkeypatch.setenv("KEXUE_SOURCES", blog_server.url("/feed"))
    # No crawl either: the store was never prepared for a backfill and reader refreshes are off.
    monkeypatch.setenv("READERS_REFRESH_DAYS", "0")
    settings = Settings()
    async with open_app(settings, db_path=str(tmp_path / "k.sqlite3")) as app:
        jobs = Jobs(app)
        async with app.db.transaction() as conn:
            # A temporary trigger lives on the connection that writes: every insert of a post now fails.
            await conn.execute(
                "CREATE TEMP TRIGGER refuse BEFORE INSERT ON posts "
                "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
        with caplog.at_level(logging.INFO):
            await jobs.poll()
        failures = [r for r in caplog.records if r.getMessage().startswith("poll failed")]
        assert len(failures) == 1 and failures[0].exc_info is None
        assert "disk full" in failures[0].getMessage()
        async with app.db.transaction() as conn:
            await conn.execute("DROP TRIGGER refuse")
        await jobs.poll()
        assert await app.services.archive.post_count() == 1


async def test_sigint_while_a_request_is_in_flight_stops_quietly(
    tmp_path: Path, blog_server: BlogServer
) -> None:
    # The blog takes far longer to answer than the test waits: the stop lands mid-request.
    blog_server.set("/feed", make_feed_xml([]), content_type="application/rss+xml", delay=30)
    proc = await start_service(tmp_path, KEXUE_SOURCES=blog_server.url("/feed"), POLL_INTERVAL="60")
    assert proc.stderr is not None
    seen: list[str] = []
    await read_until(proc.stderr, "running:", seen)
    for _ in range(200):
        if blog_server.requests_for("/feed"):
            break
        await asyncio.sleep(0.05)
    assert blog_server.requests_for("/feed") or any("/feed" in str(r.path) for r in blog_server.requests)
    proc.send_signal(signal.SIGINT)
    _, rest = await asyncio.wait_for(proc.communicate(), timeout=20)
    log = "".join(seen) + rest.decode()
    assert proc.returncode == 0
    assert "Traceback" not in log and "CancelledError" not in log
    assert "poll interrupted by stop" in log and log.rstrip().endswith("stopped")
    # One zone everywhere a person reads a time: TIME_ZONE (Asia/Shanghai by default).
    assert all("+08:00 " in line[:40] for line in log.splitlines() if line.strip())


async def test_a_slow_crawl_never_delays_or_skips_polls(tmp_path: Path, blog_server: BlogServer) -> None:
    items = [
        (10907, "Transformer升级之路：20、MLA好在哪里?（上）", datetime(2025, 5, 4, 9, tzinfo=TZ), "摘要")
    ]
    blog_server.set("/feed", make_feed_xml(items), content_type="application/rss+xml")
    # An empty store asks for a backfill, which starts with /content.html: the blog takes 30 s to answer it,
    # as a crawl at CRAWL_DELAY takes minutes on the real site.
    blog_server.set("/content.html", b"<html></html>", delay=30)
    proc = await start_service(tmp_path, KEXUE_SOURCES=blog_server.url("/feed"), POLL_INTERVAL="1")
    assert proc.stderr is not None
    seen: list[str] = []
    for _ in range(3):
        await read_until(proc.stderr, "stored without announcement", seen, timeout=15)
    crawl_started = blog_server.requests_for("/content.html")
    assert await stop(proc, seen) == 0
    log = "".join(seen)
    # Three polls ran while the crawl waited on its first page.
    assert crawl_started and "(baseline)" in log
    assert "maximum number of running instances" not in log and "skipped" not in log
    assert "Traceback" not in log


async def test_maintenance_forgets_the_sign_up_events_no_limit_counts_any_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEXUE_SOURCES", "")
    monkeypatch.setenv("READERS_REFRESH_DAYS", "0")
    async with open_app(Settings(), db_path=str(tmp_path / "k.sqlite3")) as app:
        now = app.clock()
        async with app.uow() as uow:
            await uow.meta.put("backfill_completed_at", now.isoformat())
            await uow.emails.record_event("signup_ip", "203.0.113.9", now - timedelta(days=3))
            await uow.emails.record_event("signup_ip", "203.0.113.9", now - timedelta(hours=1))
        await Jobs(app).maintenance()
        reads = app.reads.emails
        assert await reads.count_events("signup_ip", "203.0.113.9", now - timedelta(days=30)) == 1


async def test_an_offline_try_out_on_local_files_asks_for_no_crawl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_bytes(make_feed_xml([]))
    monkeypatch.setenv("KEXUE_SOURCES", str(feed))
    async with open_app(Settings(), db_path=str(tmp_path / "k.sqlite3")) as app:
        assert app.config.crawl_root is None
        assert not await app.services.blog.want_backfill_if_empty()
        assert await app.services.blog.maintain() is None
