"""archive.formats.feed: RSS 2.0 and Atom."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from archive import ParseError
from archive.formats.feed import parse_feed
from archive.model import PostDate, Series
from tests.support.fixtures import make_feed_xml, read_fixture

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_rss_fixture_has_the_ten_items_with_ids_and_local_dates() -> None:
    posts = parse_feed(read_fixture("feed.xml"), tz=SHANGHAI)
    assert [p.id for p in posts] == [11340, 11196, 10907, 10735, 10699, 10662, 10592, 10501, 10427, 10366]
    assert all(p.title_is_live and p.readers is None for p in posts)
    # 2025-05-03T20:00Z is already the 4th in Beijing.
    assert posts[2].date == PostDate(2025, 5, 4)
    assert posts[2].series == Series("Transformer升级之路", 20)


def test_content_encoded_becomes_plain_content() -> None:
    posts = parse_feed(read_fixture("feed.xml"), tz=SHANGHAI)
    assert posts[0].content is not None and "<p>" not in posts[0].content
    assert (
        "$$\\mathcal{L}(\\boldsymbol{\\theta}) = \\mathbb{E}_x[\\ell(x;\\boldsymbol{\\theta})]$$"
        in posts[0].content
    )
    assert posts[1].content is None


def test_atom_fixture_skips_pages_and_reads_text_summaries() -> None:
    posts = parse_feed(read_fixture("atom.xml"), tz=SHANGHAI)
    assert [p.id for p in posts] == [11340, 10907, 9984]
    assert posts[1].date == PostDate(2025, 5, 4)
    assert posts[2].excerpt.endswith("直接进入模型 <不做离散化>。")


def test_the_zone_decides_the_calendar_day() -> None:
    data = make_feed_xml([(11480, "标题", datetime(2025, 12, 15, 20, 30, tzinfo=UTC), "摘要 $x$")])
    assert parse_feed(data, tz=SHANGHAI)[0].date == PostDate(2025, 12, 16)
    assert parse_feed(data, tz=ZoneInfo("UTC"))[0].date == PostDate(2025, 12, 15)


def test_make_feed_xml_round_trips() -> None:
    beijing = timezone(timedelta(hours=8))
    items = [
        (
            11500,
            "新文章（一）：开篇 & <引子>",
            datetime(2026, 1, 2, 9, 0, tzinfo=beijing),
            "公式 $a<b$ 与 \\(c\\)",
        ),
        (11490, "旧文章", datetime(2025, 12, 20, 23, 59, tzinfo=beijing), "第一段\n第二段"),
    ]
    posts = parse_feed(make_feed_xml(items, host="127.0.0.1:8080"), tz=SHANGHAI)
    assert [(p.id, p.title, p.date.iso(), p.excerpt) for p in posts] == [
        (11500, "新文章（一）：开篇 & <引子>", "2026-01-02", "公式 $a<b$ 与 \\(c\\)"),
        (11490, "旧文章", "2025-12-20", "第一段\n第二段"),
    ]
    assert posts[0].series == Series("新文章", 1)


def test_truncated_feed_is_an_error() -> None:
    data = read_fixture("feed.xml")
    with pytest.raises(ParseError, match="malformed feed"):
        parse_feed(data[: len(data) // 2], tz=SHANGHAI)


def test_an_item_without_a_date_is_an_error_not_a_guess() -> None:
    data = make_feed_xml([(11480, "标题", datetime(2025, 12, 15, tzinfo=UTC), "x")])
    data = data.replace(b"<pubDate>Mon, 15 Dec 2025 00:00:00 +0000</pubDate>", b"")
    with pytest.raises(ParseError, match="no usable publication date"):
        parse_feed(data, tz=SHANGHAI)


@pytest.mark.parametrize(
    "data", [b"<html><body>hi</body></html>", b"just text", b"<?xml version='1.0'?><x/>"]
)
def test_non_feeds_are_rejected(data: bytes) -> None:
    with pytest.raises(ParseError):
        parse_feed(data, tz=SHANGHAI)


def test_a_file_name_is_not_opened() -> None:
    # feedparser opens a str/bytes argument as a path or URL: the parser must never hand it one.
    with pytest.raises(ParseError):
        parse_feed(b"/etc/hostname", tz=SHANGHAI)


def _feed_with_html(description: str, content: str) -> bytes:
    """A one-item RSS feed whose description and content:encoded hold the given HTML as written."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>科学空间|Scientific Spaces</title><link>https://kexue.fm/</link>
<item><title>测试</title><link>https://kexue.fm/archives/11480</link>
<pubDate>Tue, 16 Dec 2025 10:00:00 +0800</pubDate>
<description><![CDATA[{description}]]></description>
<content:encoded><![CDATA[{content}]]></content:encoded>
</item></channel></rss>""".encode()


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("甲乙 <b>bold</b> 丙丁。", "甲乙 bold 丙丁。"),
        ("text <br> more", "text\nmore"),
        ('甲乙<a href="https://kexue.fm/archives/1">链接</a>丙丁。', "甲乙链接丙丁。"),
        ("A<p>B</p>C", "A\nB\nC"),
        (
            "设 $a+b$ <em>与</em> \\(c\\) 相等<p>下一段 $$x  =  y$$</p>尾",
            "设 $a+b$ 与 \\(c\\) 相等\n下一段 $$x  =  y$$\n尾",
        ),
    ],
)
def test_every_word_of_description_and_content_survives(html: str, text: str) -> None:
    [post] = parse_feed(_feed_with_html(html, "全文：" + html), tz=SHANGHAI)
    assert post.excerpt == text
    assert post.content == "全文：" + text


def test_code_indentation_survives_in_excerpt_and_content() -> None:
    code = "<pre><code>def f(x):\n    if x:\n        return 1\n    return 0</code></pre>"
    [post] = parse_feed(_feed_with_html("代码：" + code, code + "完"), tz=SHANGHAI)
    assert post.excerpt == "代码：\ndef f(x):\n    if x:\n        return 1\n    return 0"
    assert post.content == "def f(x):\n    if x:\n        return 1\n    return 0\n完"
