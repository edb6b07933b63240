"""The Atom builder: a valid RFC 4287 document that feedparser reads back whole."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone

import feedparser
import pytest

from digest import DigestError
from digest.atom import ATOM_NS, AtomEntry, AtomFeed, build_atom
from tests.digest.atom_check import atom_problems

A = f"{{{ATOM_NS}}}"
NOW = datetime(2025, 3, 1, 8, 30, tzinfo=timezone(timedelta(hours=8)))


def _feed(entries: list[AtomEntry]) -> AtomFeed:
    return AtomFeed(
        id="https://notify.example/feed.atom",
        title="科学空间 & friends",
        self_url="https://notify.example/feed.atom",
        alternate_url="https://notify.example/series",
        updated=NOW,
        author="苏剑林",
        entries=entries,
        subtitle="公式 <b>drawn</b>",
        lang="zh",
    )


def test_a_feed_round_trips_through_feedparser_with_html_content_escaped() -> None:
    entry = AtomEntry(
        id="https://kexue.fm/archives/10001",
        title="低秩近似之路（五）：<CUR>",
        link="https://kexue.fm/archives/10001",
        updated=NOW,
        published=NOW - timedelta(days=1),
        content_html='<p>设 <img src="https://notify.example/formula/ab.png" alt="x²"> & 完毕。</p>',
        categories=("低秩近似之路",),
    )
    body = build_atom(_feed([entry]))
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    assert atom_problems(body) == []
    parsed = feedparser.parse(body)
    assert not parsed.bozo
    assert parsed.version == "atom10"
    assert parsed.feed.title == "科学空间 & friends" and parsed.feed.author == "苏剑林"
    (got,) = parsed.entries
    assert got.title == "低秩近似之路（五）：<CUR>" and got.link == "https://kexue.fm/archives/10001"
    assert got.content[0].type == "text/html"
    assert 'alt="x²"' in got.content[0].value and "完毕" in got.content[0].value
    assert got.tags[0].term == "低秩近似之路"
    assert got.updated_parsed[:6] == NOW.astimezone(UTC).timetuple()[:6]


def test_characters_xml_forbids_are_dropped_not_fatal() -> None:
    entry = AtomEntry(
        id="urn:x:1", title="a\x00b\x1fc", link="https://e/1", updated=NOW, content_html="x\x08y"
    )
    root = ET.fromstring(build_atom(_feed([entry])))
    assert root.findtext(f"{A}entry/{A}title") == "abc" and root.findtext(f"{A}entry/{A}content") == "xy"


def test_an_empty_feed_is_valid_and_a_naive_time_is_refused() -> None:
    assert atom_problems(build_atom(_feed([]))) == []
    with pytest.raises(DigestError):
        build_atom(
            _feed([AtomEntry(id="u", title="t", link="l", updated=datetime(2025, 1, 1), content_html="")])
        )
