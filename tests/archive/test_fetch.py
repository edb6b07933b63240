"""The fetcher against a real local HTTP server standing in for the blog."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import logging
import time
import tracemalloc
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from archive import ArchiveError, FetchError
from archive.fetch import (
    DEFAULT_USER_AGENT,
    Fetcher,
    FetchResult,
    Validators,
    backoff_delay,
    redact_url,
    robots_path,
)

if TYPE_CHECKING:
    from tests.support.blog_server import BlogServer

    MakeServer = Callable[..., Awaitable[BlogServer]]

# Imported by name only here, so that pytest loads (and assertion-rewrites) the module as a plugin first.

FEED = b"<?xml version='1.0'?><rss><channel><title>kexue</title></channel></rss>"
LAST_MODIFIED = "Tue, 05 Nov 2024 08:00:00 GMT"


async def fetch(
    source: str, validators: Validators | None = None, *, timeout: float = 5.0, max_bytes: int = 1 << 20
) -> FetchResult:
    async with Fetcher(timeout=timeout, max_bytes=max_bytes) as fetcher:
        return await fetcher.fetch(source, validators)


async def test_200_returns_body_and_validators(blog_server: BlogServer) -> None:
    blog_server.set(
        "/feed", FEED, content_type="application/rss+xml", etag='"v1"', last_modified=LAST_MODIFIED
    )

    result = await fetch(blog_server.url("/feed"))

    assert result == FetchResult(
        source=blog_server.url("/feed"),
        content=FEED,
        validators=Validators(etag='"v1"', last_modified=LAST_MODIFIED),
        not_modified=False,
        status=200,
    )


async def test_conditional_get_answers_304_with_old_validators(blog_server: BlogServer) -> None:
    blog_server.set("/feed", FEED, etag='"v1"', last_modified=LAST_MODIFIED)
    async with Fetcher() as fetcher:
        first = await fetcher.fetch(blog_server.url("/feed"))
        second = await fetcher.fetch(blog_server.url("/feed"), first.validators)

    assert second.not_modified
    assert second.status == 304
    assert second.content is None
    assert second.validators == first.validators
    sent = blog_server.requests_for("/feed")[1]
    assert sent.headers["If-None-Match"] == '"v1"'
    assert sent.headers["If-Modified-Since"] == LAST_MODIFIED
    assert sent.status == 304


async def test_changed_page_is_fetched_again(blog_server: BlogServer) -> None:
    blog_server.set("/feed", FEED, etag='"v1"')
    async with Fetcher() as fetcher:
        first = await fetcher.fetch(blog_server.url("/feed"))
        blog_server.set("/feed", FEED + b"<!-- new -->", etag='"v2"')
        second = await fetcher.fetch(blog_server.url("/feed"), first.validators)

    assert not second.not_modified
    assert second.content == FEED + b"<!-- new -->"
    assert second.validators == Validators(etag='"v2"', last_modified=None)


async def test_last_modified_only(blog_server: BlogServer) -> None:
    blog_server.set("/content.html", b"<html>all posts</html>", last_modified=LAST_MODIFIED)
    async with Fetcher() as fetcher:
        first = await fetcher.fetch(blog_server.url("/content.html"))
        second = await fetcher.fetch(blog_server.url("/content.html"), first.validators)

    assert first.validators == Validators(etag=None, last_modified=LAST_MODIFIED)
    assert second.not_modified
    assert second.validators == first.validators
    sent = blog_server.requests_for("/content.html")[1].headers
    assert "If-None-Match" not in sent
    assert sent["If-Modified-Since"] == LAST_MODIFIED


async def test_cookie_challenge_is_answered_once(blog_server: BlogServer) -> None:
    blog_server.challenge = True
    blog_server.set("/feed", FEED)

    result = await fetch(blog_server.url("/feed"))

    assert result.content == FEED
    assert result.status == 200
    first, second = blog_server.requests
    assert first.status == 403
    assert "Cookie" not in first.headers
    assert second.status == 200
    name, value = blog_server.challenge_cookie
    assert f"{name}={value}" in second.headers["Cookie"]


async def test_cookie_is_kept_for_later_requests(blog_server: BlogServer) -> None:
    blog_server.challenge = True
    blog_server.set("/feed", FEED)
    async with Fetcher() as fetcher:
        await fetcher.fetch(blog_server.url("/feed"))
        await fetcher.fetch(blog_server.url("/feed"))

    assert [r.status for r in blog_server.requests] == [403, 200, 200]


async def test_plain_403_is_an_error(blog_server: BlogServer) -> None:
    blog_server.set("/feed", FEED)
    blog_server.fail("/feed", 403, body=b"<html>Forbidden</html>")

    with pytest.raises(FetchError, match=r"HTTP 403") as caught:
        await fetch(blog_server.url("/feed"))

    assert blog_server.url("/feed") in str(caught.value)
    assert len(blog_server.requests) == 1


async def test_challenge_that_keeps_failing_is_an_error(blog_server: BlogServer) -> None:
    blog_server.challenge = True
    blog_server.set("/feed", FEED)

    # A client whose requests lose their cookie answers the challenge without ever passing it.
    async def drop_cookie(request: httpx.Request) -> None:
        request.headers.pop("Cookie", None)

    client = httpx.AsyncClient(event_hooks={"request": [drop_cookie]})

    async with client, Fetcher(client=client) as fetcher:
        with pytest.raises(FetchError, match=r"HTTP 403.*cookie challenge"):
            await fetcher.fetch(blog_server.url("/feed"))

    assert len(blog_server.requests) == 2


@pytest.mark.parametrize("status", [404, 429, 500, 503])
async def test_error_statuses(blog_server: BlogServer, status: int) -> None:
    blog_server.set("/feed", FEED)
    blog_server.fail("/feed", status)

    with pytest.raises(FetchError, match=rf"^{blog_server.url('/feed')}: HTTP {status}\b") as caught:
        await fetch(blog_server.url("/feed"))

    assert isinstance(caught.value, ArchiveError)
    assert "\n" not in str(caught.value)


async def test_unknown_path_is_404(blog_server: BlogServer) -> None:
    with pytest.raises(FetchError, match=r"HTTP 404"):
        await fetch(blog_server.url("/nope"))


async def test_size_cap_by_content_length(blog_server: BlogServer) -> None:
    blog_server.set("/big", b"x" * 5000)

    with pytest.raises(FetchError, match=r"larger than 1000 bytes \(Content-Length 5000\)"):
        await fetch(blog_server.url("/big"), max_bytes=1000)


async def test_size_cap_on_streamed_body_without_content_length(blog_server: BlogServer) -> None:
    blog_server.set("/big", b"x" * 100_000, chunked=True)

    with pytest.raises(FetchError, match=r"larger than 1000 bytes \(stopped reading"):
        await fetch(blog_server.url("/big"), max_bytes=1000)

    # The same chunked page within the cap arrives whole: the cap, not the chunking, failed it.
    result = await fetch(blog_server.url("/big"), max_bytes=100_000)
    assert result.content == b"x" * 100_000


async def test_body_exactly_at_cap_is_fine(blog_server: BlogServer) -> None:
    blog_server.set("/edge", b"y" * 1000)

    result = await fetch(blog_server.url("/edge"), max_bytes=1000)

    assert result.content == b"y" * 1000


def _gzip_of_zeros(size: int) -> bytes:
    """A gzip member inflating to `size` zero bytes, built without holding `size` bytes at once."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    parts = [packer.compress(block) for _ in range(size // len(block))]
    return b"".join([*parts, packer.flush()])


async def test_gzip_bomb_is_stopped_at_the_cap_while_inflating(blog_server: BlogServer) -> None:
    cap = 10 * 1024 * 1024
    bomb = _gzip_of_zeros(64 * 1024 * 1024)
    assert len(bomb) < 100_000  # tiny on the wire, so no Content-Length check can catch it
    blog_server.set("/bomb", bomb, headers={"Content-Encoding": "gzip"})

    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match=rf"larger than {cap} bytes"):
            await fetch(blog_server.url("/bomb"), max_bytes=cap)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # Inflating the whole bomb would hold 64 MiB at once; stopping at the cap holds about the cap.
    assert peak < 2 * cap, peak


@pytest.mark.parametrize(
    ("encoding", "pack"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data, wbits=-zlib.MAX_WBITS)),
        ("GZIP", lambda data: gzip.compress(data[:5000]) + gzip.compress(data[5000:])),
        ("identity", lambda data: data),
        # Applied in the order listed, undone in reverse.
        ("gzip, deflate", lambda data: zlib.compress(gzip.compress(data))),
    ],
)
async def test_compressed_pages_arrive_whole(
    blog_server: BlogServer, encoding: str, pack: Callable[[bytes], bytes]
) -> None:
    page = "".join(f"<p>第{i}段 $x_{i}$</p>\n" for i in range(2000)).encode()
    blog_server.set("/page", pack(page), headers={"Content-Encoding": encoding}, chunked=True)

    result = await fetch(blog_server.url("/page"), max_bytes=len(page))

    assert result.content == page
    with pytest.raises(FetchError, match=rf"larger than {len(page) - 1} bytes"):
        await fetch(blog_server.url("/page"), max_bytes=len(page) - 1)


async def test_broken_or_unasked_encodings_are_fetch_errors(blog_server: BlogServer) -> None:
    blog_server.set("/bad", b"not gzip at all", headers={"Content-Encoding": "gzip"})
    cut = gzip.compress(bytes(range(256)) * 400)[:-100]
    blog_server.set("/cut", cut, headers={"Content-Encoding": "gzip"})
    blog_server.set("/br", b"\x0b\x02\x80hello\x03", headers={"Content-Encoding": "br"})

    with pytest.raises(FetchError, match="cannot decode the gzip body"):
        await fetch(blog_server.url("/bad"))
    with pytest.raises(FetchError, match="ends before its compressed stream"):
        await fetch(blog_server.url("/cut"))
    with pytest.raises(FetchError, match="unsupported Content-Encoding 'br'"):
        await fetch(blog_server.url("/br"))
    # Only codings that can be inflated a bounded step at a time are asked for.
    assert blog_server.requests[0].headers["Accept-Encoding"] == "gzip, deflate"


async def test_timeout(blog_server: BlogServer) -> None:
    blog_server.set("/slow", FEED, delay=2.0)

    started = time.monotonic()
    with pytest.raises(FetchError, match=r"timed out after 0\.2s"):
        await fetch(blog_server.url("/slow"), timeout=0.2)

    assert time.monotonic() - started < 1.5


async def test_connection_refused(make_blog_server: MakeServer) -> None:
    server = await make_blog_server()
    url = server.url("/feed")
    await server.stop()

    with pytest.raises(FetchError, match=r"^http://127\.0\.0\.1:\d+/feed: ConnectError"):
        await fetch(url)


@pytest.mark.parametrize("path", ["/search/", "/search/attention/", "/%73earch/x", "//search/x"])
async def test_search_paths_are_never_requested(blog_server: BlogServer, path: str) -> None:
    blog_server.set("/search/", b"results")

    with pytest.raises(FetchError, match=r"robots\.txt"):
        await fetch(blog_server.url(path))

    assert blog_server.requests == []


async def test_redirect_to_search_is_refused(blog_server: BlogServer) -> None:
    blog_server.redirect("/find", "/search/attention/")
    blog_server.set("/search/attention/", b"results")

    with pytest.raises(FetchError, match=r"redirected to .*/search/attention/.*robots\.txt disallows"):
        await fetch(blog_server.url("/find"))

    assert [r.path for r in blog_server.requests] == ["/find"]


async def test_redirects_are_followed(blog_server: BlogServer) -> None:
    blog_server.redirect("/feed", "/feed/", status=301)
    blog_server.set("/feed/", FEED, etag='"v1"')

    result = await fetch(blog_server.url("/feed"))

    assert result.content == FEED
    assert result.validators.etag == '"v1"'
    assert [r.path for r in blog_server.requests] == ["/feed", "/feed/"]


async def test_redirect_loop_stops(blog_server: BlogServer) -> None:
    blog_server.redirect("/a", "/b")
    blog_server.redirect("/b", "/a")

    with pytest.raises(FetchError, match=r"more than 5 redirects"):
        await fetch(blog_server.url("/a"))

    assert len(blog_server.requests) == 6


async def test_size_cap_applies_after_redirect(blog_server: BlogServer) -> None:
    blog_server.redirect("/feed", "/huge")
    blog_server.set("/huge", b"z" * 5000, chunked=True)

    with pytest.raises(FetchError, match=r"larger than 1000 bytes"):
        await fetch(blog_server.url("/feed"), max_bytes=1000)


async def test_file_path_and_file_url(tmp_path: Path) -> None:
    page = tmp_path / "archive page.html"
    page.write_bytes(b"<html>archive</html>")

    by_path = await fetch(str(page))
    by_url = await fetch(page.as_uri())

    for result in (by_path, by_url):
        assert result.content == b"<html>archive</html>"
        assert not result.not_modified
        assert result.status == 200
    assert by_path.validators == by_url.validators
    assert by_url.source == page.as_uri()


async def test_file_is_never_not_modified(tmp_path: Path) -> None:
    page = tmp_path / "feed.xml"
    page.write_bytes(FEED)
    async with Fetcher() as fetcher:
        first = await fetcher.fetch(str(page))
        second = await fetcher.fetch(str(page), first.validators)

    assert not second.not_modified
    assert second.content == FEED


async def test_file_errors(tmp_path: Path) -> None:
    big = tmp_path / "big.html"
    big.write_bytes(b"x" * 2000)

    with pytest.raises(FetchError, match=r"larger than 1000 bytes"):
        await fetch(str(big), max_bytes=1000)
    with pytest.raises(FetchError, match=r"missing\.html: cannot read file"):
        await fetch(str(tmp_path / "missing.html"))
    with pytest.raises(FetchError, match=r"not a regular file|cannot read file"):
        await fetch(str(tmp_path))


async def test_unsupported_scheme() -> None:
    with pytest.raises(FetchError, match=r"unsupported URL scheme"):
        await fetch("ftp://kexue.fm/feed")


async def test_min_interval_spaces_request_starts(blog_server: BlogServer) -> None:
    interval = 0.2
    blog_server.set("/feed", FEED)
    starts: list[float] = []

    async def on_request(request: httpx.Request) -> None:
        # The robots.txt read once before the first page is no page request: it is not paced.
        if request.url.path != "/robots.txt":
            starts.append(time.monotonic())

    client = httpx.AsyncClient(event_hooks={"request": [on_request]})
    async with client, Fetcher(client=client, min_interval=interval) as fetcher:
        for _ in range(4):
            await fetcher.fetch(blog_server.url("/feed"))

    assert len(starts) == 4 and len(blog_server.robots_requests) == 1
    # The pacer spaces the moments it releases requests; where they are observed (the client's hook, the
    # server) a loaded machine may delay one observation and not the next. Half the interval still tells
    # paced requests (0.2 s apart) from unpaced ones (a millisecond apart) on any machine.
    assert all(b - a >= interval / 2 for a, b in itertools.pairwise(starts))
    seen = [r.at for r in blog_server.requests]
    assert all(b - a >= interval / 2 for a, b in itertools.pairwise(seen))


async def test_min_interval_holds_for_concurrent_fetches(blog_server: BlogServer) -> None:
    interval = 0.15
    blog_server.set("/a", b"a")
    blog_server.set("/b", b"b")
    blog_server.set("/c", b"c")
    starts: list[float] = []

    async def on_request(request: httpx.Request) -> None:
        if request.url.path != "/robots.txt":
            starts.append(time.monotonic())

    client = httpx.AsyncClient(event_hooks={"request": [on_request]})
    async with client, Fetcher(client=client, min_interval=interval) as fetcher:
        await asyncio.gather(*(fetcher.fetch(blog_server.url(p)) for p in ("/a", "/b", "/c")))

    assert len(starts) == 3
    # See test_min_interval_spaces_request_starts for why half the interval.
    assert all(b - a >= interval / 2 for a, b in itertools.pairwise(starts))


async def test_user_agent_is_sent(blog_server: BlogServer) -> None:
    blog_server.set("/feed", FEED)

    await fetch(blog_server.url("/feed"))

    sent = blog_server.requests[0].headers["User-Agent"]
    assert sent == DEFAULT_USER_AGENT
    assert sent.startswith("kexue-notifier/")
    assert "polite" in sent


async def test_user_agent_is_sent_with_a_client_passed_in(blog_server: BlogServer) -> None:
    blog_server.set("/feed", FEED)

    async with httpx.AsyncClient() as client, Fetcher(client=client, user_agent="test-agent/1") as fetcher:
        await fetcher.fetch(blog_server.url("/feed"))

    assert blog_server.requests[0].headers["User-Agent"] == "test-agent/1"


async def test_error_messages_never_carry_a_password(
    blog_server: BlogServer, caplog: pytest.LogCaptureFixture
) -> None:
    blog_server.fail("/feed", 500)
    url = f"http://reader:s3cr3t-pw@127.0.0.1:{blog_server.port}/feed?token=tok-123&page=2"

    with caplog.at_level(logging.DEBUG), pytest.raises(FetchError) as caught:
        await fetch(url)

    # httpx logs every request URL at INFO; ours and its lines must both stay clean.
    assert caplog.records
    assert "s3cr3t-pw" not in caplog.text

    message = str(caught.value)
    assert "s3cr3t-pw" not in message
    assert "tok-123" not in message
    assert "reader" not in message
    assert f"127.0.0.1:{blog_server.port}/feed" in message
    assert "page=2" in message
    # The credentials still reach the origin they were written for, as Basic auth.
    assert blog_server.requests[0].headers["Authorization"].startswith("Basic ")


async def test_password_not_in_connection_error(make_blog_server: MakeServer) -> None:
    server = await make_blog_server()
    port = server.port
    await server.stop()

    with pytest.raises(FetchError) as caught:
        await fetch(f"http://user:hunter2-pw@127.0.0.1:{port}/feed")

    assert "hunter2-pw" not in str(caught.value)


async def test_credentials_do_not_follow_a_redirect_to_another_origin(
    blog_server: BlogServer, make_blog_server: MakeServer
) -> None:
    other = await make_blog_server()
    other.set("/feed", FEED)
    blog_server.redirect("/feed", other.url("/feed"))

    result = await fetch(f"http://user:pw-xyz@127.0.0.1:{blog_server.port}/feed")

    assert result.content == FEED
    assert "Authorization" in blog_server.requests[0].headers
    assert "Authorization" not in other.requests[0].headers


def test_redact_url() -> None:
    assert redact_url("http://u:p@kexue.fm:8080/feed?api_key=abc&page=2#x") == (
        "http://kexue.fm:8080/feed?api_key=***&page=2"
    )
    assert redact_url("https://kexue.fm/archives/10000") == "https://kexue.fm/archives/10000"


def test_robots_path_reads_escapes_and_folds_slashes() -> None:
    assert robots_path("/%73earch/x") == robots_path("//search/x") == "/search/x"
    assert robots_path("/archives/search/") == "/archives/search/"


@pytest.mark.parametrize(
    ("failures", "expected"),
    [
        (-1, 0.0),
        (0, 0.0),
        (1, 60.0),
        (2, 120.0),
        (3, 240.0),
        (4, 480.0),
        (5, 900.0),
        (6, 900.0),
        (10_000, 900.0),
    ],
)
def test_backoff_delay(failures: int, expected: float) -> None:
    assert backoff_delay(failures, base=60.0, cap=900.0) == expected


async def test_the_hosts_own_robots_txt_decides_and_is_named_in_one_line(blog_server: BlogServer) -> None:
    rules = "User-agent: *\nDisallow: /private/\nAllow: /\n"
    blog_server.set("/robots.txt", rules, content_type="text/plain")
    blog_server.set("/private/feed", FEED)
    blog_server.set("/feed", FEED)
    async with Fetcher() as fetcher:
        with pytest.raises(FetchError) as refused:
            await fetcher.fetch(blog_server.url("/private/feed"))
        assert (await fetcher.fetch(blog_server.url("/feed"))).content == FEED
        # /search/ is no rule of ours: this host allows it.
        blog_server.set("/search/x", FEED)
        assert (await fetcher.fetch(blog_server.url("/search/x"))).content == FEED
    message = str(refused.value)
    assert "robots.txt disallows /private/feed" in message and "\n" not in message
    assert [r.path for r in blog_server.requests] == ["/feed", "/search/x"]
    # Read once for the three fetches.
    assert len(blog_server.robots_requests) == 1


async def test_crawl_delay_spaces_the_requests_to_that_host(blog_server: BlogServer) -> None:
    blog_server.set("/robots.txt", "User-agent: *\nCrawl-delay: 1\n", content_type="text/plain")
    blog_server.set("/feed", FEED)
    async with Fetcher() as fetcher:
        for _ in range(3):
            await fetcher.fetch(blog_server.url("/feed"))
    seen = [r.at for r in blog_server.requests]
    assert len(seen) == 3 and all(b - a >= 0.5 for a, b in itertools.pairwise(seen))


@pytest.mark.parametrize("status", [404, 410, 503])
async def test_a_missing_or_failing_robots_txt_never_stops_a_fetch(
    blog_server: BlogServer, status: int
) -> None:
    blog_server.fail("/robots.txt", status)
    blog_server.set("/feed", FEED)
    async with Fetcher() as fetcher:
        for _ in range(2):
            assert (await fetcher.fetch(blog_server.url("/feed"))).content == FEED
    # A missing one is remembered; one that failed is asked for again.
    assert len(blog_server.robots_requests) == (1 if status < 500 else 2)
