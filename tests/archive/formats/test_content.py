"""archive.formats.content: the full archive page /content.html."""

from __future__ import annotations

import pytest

from archive import ParseError
from archive.formats.content import parse_content
from archive.model import PostDate
from tests.support.fixtures import content_entries, make_content_html, read_fixture


def test_fixture_has_every_post_in_page_order() -> None:
    posts = parse_content(read_fixture("content.html"))
    assert len(posts) == 40
    assert (posts[0].id, posts[0].date) == (11480, PostDate(2025, 12, 16))
    assert (posts[-1].id, posts[-1].title) == (3913, "【中文分词系列】 2. 基于切分的新词发现")
    ids = [p.id for p in posts]
    assert len(set(ids)) == len(ids)
    assert all(p.excerpt == "" and p.readers is None and p.title_is_live for p in posts)


def test_titles_with_years_and_entities_stay_titles() -> None:
    posts = {p.id: p for p in parse_content(read_fixture("content.html"))}
    assert posts[10620].title == "2024年的最后一篇：写在岁末"
    assert posts[10620].date == PostDate(2024, 12, 31)
    assert posts[11060].title == "Adam & SGD：从“等效学习率”说起"
    assert posts[11060].date == posts[11066].date == PostDate(2025, 6, 9)


LINE = '{d}日: <a href="https://kexue.fm/archives/{i}">{t}</a> ( <a href="https://kexue.fm/archives/{i}#PostComment">0</a>)'


@pytest.mark.parametrize(
    "layout",
    [
        # Flat headings and paragraphs.
        "<h2>2025年 (共2篇)</h2><h4>12月</h4><p>{a}</p><p>{b}</p>"
        "<h2>2024年 (共1篇)</h2><h4>9月</h4><p>{c}</p>",
        # Everything in one text block separated by <br>.
        "<div>2025年（共2篇）<br>12月<br>{a}<br>{b}<br>2024年 (共1篇)<br>9月<br>{c}</div>",
        # Deeply nested lists with the year inside a span.
        "<ul><li><span>2025年</span> <em>(共2篇)</em><ul><li>12月<ul><li>{a}</li><li>{b}</li></ul></li></ul>"
        "</li><li>2024年 (共1篇)<ul><li>9月<ul><li>{c}</li></ul></li></ul></li></ul>",
    ],
)
def test_any_nesting_in_text_order(layout: str) -> None:
    body = layout.format(
        a=LINE.format(d=16, i=11480, t="甲"),
        b=LINE.format(d=5, i=11452, t="乙"),
        c=LINE.format(d=1, i=10347, t="丙"),
    )
    page = f"<!DOCTYPE html><html><body>{body}</body></html>".encode()
    assert [(p.id, p.title, p.date.iso()) for p in parse_content(page)] == [
        (11480, "甲", "2025-12-16"),
        (11452, "乙", "2025-12-05"),
        (10347, "丙", "2024-09-01"),
    ]


def test_invalid_dates_are_skipped_not_guessed() -> None:
    body = "2025年 (共2篇) 2月 " + LINE.format(d=30, i=1, t="x") + " " + LINE.format(d=28, i=2, t="y")
    page = f"<html><body><p>{body}</p></body></html>".encode()
    assert [(p.id, p.date.iso()) for p in parse_content(page)] == [(2, "2025-02-28")]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("broken-challenge.html", "cookie challenge"),
        ("broken-nginx-502.html", "502"),
        ("category.html", "not the archive page"),
        ("feed.xml", "not an HTML page"),
    ],
)
def test_other_pages_are_rejected(name: str, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_content(read_fixture(name))


def test_truncated_archive_page_is_rejected() -> None:
    data = read_fixture("content.html")
    with pytest.raises(ParseError, match="truncated"):
        parse_content(data[: len(data) * 2 // 3])


@pytest.mark.parametrize("n", [1, 37, 1330])
def test_synthetic_pages_round_trip(n: int) -> None:
    posts = parse_content(make_content_html(n, seed=n))
    assert [(p.id, p.title, p.date.iso()) for p in posts] == [
        (ident, title, day.isoformat()) for ident, title, day in content_entries(n, seed=n)
    ]


def test_year_headings_without_counts_are_accepted() -> None:
    page = (
        "<html><body><h3>2024年</h3><ul><li>9月<ul><li>1日: "
        '<a href="https://kexue.fm/archives/10347">标题</a> ( <a href="#">0</a>)'
        "</li></ul></li></ul></body></html>"
    )
    assert [(p.id, p.date.iso()) for p in parse_content(page.encode())] == [(10347, "2024-09-01")]
