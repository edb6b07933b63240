"""archive.detect: format recognition and dispatch."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from archive import ParseError
from archive.detect import FORMATS, detect, parse
from tests.support.fixtures import make_content_html, read_fixture

TZ = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("feed.xml", "feed"),
        ("atom.xml", "feed"),
        ("category.html", "listing"),
        ("category-empty.html", "listing"),
        ("homepage.html", "listing"),
        ("broken-truncated.html", "listing"),
        ("content.html", "content"),
        ("capture-category.txt", "capture"),
        ("capture-homepage.txt", "capture"),
    ],
)
def test_detect_fixture_formats(name: str, kind: str) -> None:
    assert detect(read_fixture(name)) == kind
    assert kind in FORMATS


def test_synthetic_archive_page_is_content() -> None:
    assert detect(make_content_html(5)) == "content"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("broken-truncated.html", "truncated"),
        ("broken-challenge.html", "cookie challenge"),
        ("broken-nginx-502.html", "502 Bad Gateway"),
        ("broken-404.html", "页面没找到"),
        ("broken-random.bin", "undecodable|binary"),
    ],
)
def test_parse_broken_pages_raise_clear_errors(name: str, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse(read_fixture(name), tz=TZ)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"hello world", "unrecognised input"),
        (b"<html><body><p>someone else's site</p></body></html>", "unrecognised HTML"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "unrecognised HTML"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "undecodable|binary"),
        (b"x" * (10 * 1024 * 1024 + 1), "page too large"),
    ],
)
def test_unrecognised_inputs(data: bytes, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        detect(data)
    with pytest.raises(ParseError, match=reason):
        parse(data, tz=TZ)


def test_parse_dispatches_to_each_parser() -> None:
    assert len(parse(read_fixture("feed.xml"), tz=TZ)) == 10
    assert len(parse(read_fixture("content.html"), tz=TZ)) == 40
    assert len(parse(read_fixture("category.html"), tz=TZ)) == 6
    assert len(parse(read_fixture("capture-homepage.txt"), tz=TZ)) == 4
    assert parse(read_fixture("category-empty.html"), tz=TZ) == []


def test_str_input_is_accepted() -> None:
    text = read_fixture("category.html").decode("utf-8")
    assert detect(text) == "listing"
    assert [p.id for p in parse(text, tz=TZ)][:2] == [10501, 10427]
