"""Property tests: parsers return posts or raise ParseError, never anything else, never invent ids, and never
take long (a bound per case, not a benchmark). Cases per test: the "fuzz" profile of tests/conftest.py."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive import ParseError
from archive.detect import FORMATS, detect, parse
from archive.formats.capture import parse_capture
from archive.formats.content import parse_content
from archive.formats.feed import parse_feed
from archive.formats.listing import parse_listing, parse_listing_page
from archive.model import Post
from tests.support.fixtures import read_fixture

TZ = ZoneInfo("Asia/Shanghai")
FUZZ = settings.get_profile("fuzz")
# The fixture tests run once per fixture: a share of the cases each keeps their total near one test's.
FUZZ_PER_FIXTURE = settings(FUZZ, max_examples=max(10, FUZZ.max_examples // 4))
# A page of the blog parses in milliseconds; a case near this bound is a runaway regex or loop.
CASE_BOUND = 2.0
FIXTURES = [
    "feed.xml",
    "atom.xml",
    "category.html",
    "category-empty.html",
    "homepage.html",
    "content.html",
    "capture-category.txt",
    "capture-homepage.txt",
]


def _detect_only(data: bytes) -> list[Post]:
    """The detector alone: one of the formats (or ParseError); no posts."""
    assert detect(data) in FORMATS
    return []


def _listing_page(data: bytes) -> list[Post]:
    """A listing page with its next-page link, which is a string when present."""
    page = parse_listing_page(data)
    assert page.next_url is None or isinstance(page.next_url, str)
    return page.posts


PARSERS: list[Callable[[bytes], list[Post]]] = [
    _detect_only,
    lambda data: parse(data, tz=TZ),
    lambda data: parse_feed(data, tz=TZ),
    parse_listing,
    _listing_page,
    parse_content,
    parse_capture,
]
PARSER_IDS = ["detect", "parse", "feed", "listing", "listing_page", "content", "capture"]
# Pieces of every format, so generated inputs reach past the first checks of each parser.
TOKENS = [
    "<!DOCTYPE html>",
    "<html>",
    "</html>",
    "<body>",
    '<div class="Post">',
    "</div>",
    "<h2>",
    "</h2>",
    '<a href="https://kexue.fm/archives/',
    '<a href="/archives/',
    '">',
    "</a>",
    '<span class="submitted">By 苏剑林 | 2024-09-01 | 26991位读者 | 引用</span>',
    '<div id="SideBar">',
    '<ol class="page-navigator"><li class="next"><a href="/page/2/">',
    "2025年 (共60篇)",
    "12月",
    "16日: ",
    "#PostComment",
    "17 Aug",
    "By 苏剑林 | 2024-10-11 | 11871位读者 | 引用",
    "点击阅读全文...",
    "最近评论",
    "$x$",
    "$$",
    "\\begin{equation}",
    "\\end{equation}",
    '<?xml version="1.0"?>',
    '<rss version="2.0"><channel>',
    "<item><title>",
    "</title><link>https://kexue.fm/archives/",
    "</link><pubDate>Sat, 03 May 2025 20:00:00 GMT</pubDate>",
    "</item>",
    "</channel></rss>",
    "window.location.href",
    "\n",
    " ",
    "低秩近似之路（三）：CR",
    "10427",
    "7",
    "<",
    ">",
    "&amp;",
    "&#",
]


def _call(parser: Callable[[bytes], list[Post]], data: bytes) -> list[Post] | None:
    """Run a parser; None when it raised ParseError (the only exception allowed). Within CASE_BOUND."""
    started = time.monotonic()
    try:
        posts = parser(data)
    except ParseError:
        return None
    finally:
        elapsed = time.monotonic() - started
        assert elapsed < CASE_BOUND, f"{len(data)} bytes took {elapsed:.2f} s"
    assert isinstance(posts, list)
    assert all(isinstance(post, Post) for post in posts)
    return posts


def _ids_in(data: bytes) -> set[int]:
    """Every number that follows `/archives/` in the raw input."""
    return {int(m) for m in re.findall(rb"/archives/([0-9]+)", data)}


@pytest.mark.parametrize("parser", PARSERS, ids=PARSER_IDS)
@FUZZ
@given(data=st.binary(max_size=4096))
def test_arbitrary_bytes(parser: Callable[[bytes], list[Post]], data: bytes) -> None:
    _call(parser, data)


@pytest.mark.parametrize("parser", PARSERS, ids=PARSER_IDS)
@FUZZ
@given(text=st.text(max_size=2048))
def test_arbitrary_text(parser: Callable[[bytes], list[Post]], text: str) -> None:
    _call(parser, text.encode("utf-8", "surrogatepass"))


@pytest.mark.parametrize("parser", PARSERS, ids=PARSER_IDS)
@FUZZ
@given(pieces=st.lists(st.sampled_from(TOKENS), max_size=80))
def test_format_shaped_text(parser: Callable[[bytes], list[Post]], pieces: list[str]) -> None:
    data = "".join(pieces).encode("utf-8")
    posts = _call(parser, data)
    if posts:
        assert {p.id for p in posts if p.id is not None} <= _ids_in(data)


@pytest.mark.parametrize("name", FIXTURES)
@FUZZ_PER_FIXTURE
@given(cut=st.floats(min_value=0.0, max_value=1.0))
def test_truncated_fixtures_never_invent_ids(name: str, cut: float) -> None:
    whole = read_fixture(name)
    data = whole[: int(len(whole) * cut)]
    posts = _call(lambda d: parse(d, tz=TZ), data)
    if posts:
        assert {p.id for p in posts if p.id is not None} <= _ids_in(data)


@pytest.mark.parametrize("name", FIXTURES)
@FUZZ_PER_FIXTURE
@given(
    edits=st.lists(
        st.tuples(st.floats(min_value=0.0, max_value=1.0), st.binary(max_size=8), st.integers(0, 16)),
        min_size=1,
        max_size=6,
    )
)
def test_mutated_fixtures(name: str, edits: list[tuple[float, bytes, int]]) -> None:
    data = bytearray(read_fixture(name))
    for where, insert, delete in edits:
        at = int(len(data) * where)
        data[at : at + delete] = insert
    mutated = bytes(data)
    posts = _call(lambda d: parse(d, tz=TZ), mutated)
    if posts:
        assert {p.id for p in posts if p.id is not None} <= _ids_in(mutated)
