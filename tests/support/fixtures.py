"""Builders of synthetic blog pages for tests and benchmarks: archive page, RSS feed, listing pages."""

from __future__ import annotations

import html
import random
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from archive.model import Post

__all__ = [
    "ARCHIVE_FIXTURES",
    "content_entries",
    "make_content_html",
    "make_feed_xml",
    "make_homepage_html",
    "make_listing_html",
    "read_fixture",
]

# Hand-written sample pages of every format (tests/fixtures/archive), with golden parses under golden/.
ARCHIVE_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "archive"


def read_fixture(name: str) -> bytes:
    """The bytes of one file of tests/fixtures/archive."""
    return (ARCHIVE_FIXTURES / name).read_bytes()


_TOPICS = (
    "Transformer",
    "注意力机制",
    "低秩近似",
    "优化器",
    "位置编码",
    "扩散模型",
    "变分自编码器",
    "矩阵分解",
    "概率分布",
    "梯度下降",
    "信息论",
    "MoE",
)
_PATTERNS = (
    "浅谈{t}的{x}",
    "{t}升级之路：{n}、{x}",
    "重温{t}（{cn}）：{x}",
    "从{x}看{t}",
    "{t}与{x}：一个简单的推导",
    "为什么{t}需要{x}？",
)
_ASPECTS = ("初始化", "归一化", "稳定性", "几何意义", "收敛速度", "泛化", "尺度定律", "采样", "正交性")
_CN = "一二三四五六七八九十"
_END = date(2025, 12, 16)
_START = date(2009, 1, 1)


def content_entries(n: int, *, seed: int = 0) -> list[tuple[int, str, date]]:
    """`n` synthetic posts `(id, title, date)`, newest first: ids and dates strictly/weakly decreasing."""
    rng = random.Random(seed)
    span = (_END - _START).days
    ident = max(11480, 16 * n + 16)
    entries: list[tuple[int, str, date]] = []
    for index in range(n):
        day = _END - timedelta(days=index * span // max(n, 1))
        title = rng.choice(_PATTERNS).format(
            t=rng.choice(_TOPICS),
            x=rng.choice(_ASPECTS),
            n=rng.randint(1, 30),
            cn=rng.choice(_CN),
        )
        entries.append((ident, title, day))
        ident -= rng.randint(1, 16)
    return entries


def make_content_html(n: int, *, seed: int = 0, host: str = "kexue.fm") -> bytes:
    """A `/content.html` page with `n` synthetic posts (see `content_entries`) under year/month headings."""
    entries = content_entries(n, seed=seed)
    by_year: dict[int, list[tuple[int, str, date]]] = {}
    for entry in entries:
        by_year.setdefault(entry[2].year, []).append(entry)
    out = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="UTF-8" />',
        "<title>存档 - 科学空间|Scientific Spaces</title></head>",
        '<body><div id="MainBody"><div id="PostBody"><div class="Post"><h2>存档</h2>',
        '<div class="PostContent"><div id="archives">',
    ]
    for year, posts in by_year.items():
        out.append(f'<h3 class="al_year">{year}年 (共{len(posts)}篇)</h3>\n<ul class="al_mon_list">')
        month: int | None = None
        for ident, title, day in posts:
            if day.month != month:
                if month is not None:
                    out.append("</ul></li>")
                month = day.month
                out.append(f'<li><span class="al_mon">{month}月</span><ul class="al_post_list">')
            link = f"https://{host}/archives/{ident}"
            out.append(
                f'<li>{day.day}日: <a href="{link}">{html.escape(title, quote=False)}</a>'
                f' ( <a href="{link}#PostComment">{ident % 7}</a>)</li>'
            )
        out.append("</ul></li></ul>")
    out.append("</div></div></div></div></div></body></html>\n")
    return "\n".join(out).encode("utf-8")


def make_feed_xml(items: list[tuple[int, str, datetime, str]], host: str = "kexue.fm") -> bytes:
    """An RSS 2.0 feed like the blog's `/feed`; items are `(id, title, aware pubDate, excerpt)`.

    Each line of an excerpt becomes one paragraph, so the parsed excerpt equals the one given (for
    excerpts already in normal form: no repeated lines, single spaces outside LaTeX).
    """
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:slash="http://purl.org/rss/1.0/modules/slash/">',
        "<channel>",
        "<title>科学空间|Scientific Spaces</title>",
        f"<link>https://{host}/</link>",
        "<description>渴望成为一个小飞侠</description>",
    ]
    for ident, title, published, excerpt in items:
        if published.tzinfo is None:
            raise ValueError("pubDate must be timezone-aware")
        link = f"https://{host}/archives/{ident}"
        # The description holds HTML, itself escaped into XML, as Typecho writes it.
        description = _paragraphs(excerpt)
        parts += [
            "<item>",
            f"<title>{xml_escape(title)}</title>",
            f"<link>{link}</link>",
            f"<guid>{link}</guid>",
            f"<pubDate>{format_datetime(published)}</pubDate>",
            "<dc:creator>苏剑林</dc:creator>",
            f"<description>{xml_escape(description)}</description>",
            "<slash:comments>0</slash:comments>",
            "</item>",
        ]
    parts += ["</channel>", "</rss>", ""]
    return "\n".join(parts).encode("utf-8")


def _page(entries: list[str], next_url: str | None) -> bytes:
    """A full page of the blog's layout around the given `div.Post` entries."""
    nav = ""
    if next_url is not None:
        link = html.escape(next_url)
        nav = f'<ol class="page-navigator"><li class="next"><a href="{link}">&raquo;</a></li></ol>'
    body = "\n".join(entries)
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="UTF-8" />'
        '<title>科学空间|Scientific Spaces</title></head>\n<body><div id="MainBody"><div id="PostBody">\n'
        f"{body}\n{nav}\n</div>\n"
        '<div id="SideBar"><h3>最新文章</h3><ul></ul></div>\n'
        "</div></body>\n</html>\n"
    ).encode()


def _paragraphs(excerpt: str) -> str:
    """Excerpt lines as HTML paragraphs."""
    return "".join(f"<p>{html.escape(line, quote=False)}</p>" for line in excerpt.split("\n") if line)


def make_listing_html(posts: Sequence[Post], *, next_url: str | None = None, host: str = "kexue.fm") -> bytes:
    """A category-layout listing page (`span.submitted` bylines); posts need an id and a full date."""
    entries = []
    for post in posts:
        if post.id is None or post.date.year is None:
            raise ValueError("listing posts need an id and a dated year")
        link = f"https://{host}/archives/{post.id}"
        readers = f" | {post.readers}位读者" if post.readers is not None else ""
        entries.append(
            f'<div class="Post"><h2><a href="{link}">{html.escape(post.title, quote=False)}</a></h2>'
            f'<span class="submitted">By 苏剑林 | {post.date.iso()}{readers} | '
            f'<a href="{link}#Quote">引用</a></span>'
            f'<div class="PostContent">{_paragraphs(post.excerpt)}</div></div>'
        )
    return _page(entries, next_url)


_MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def make_homepage_html(
    posts: Sequence[Post], *, next_url: str | None = None, host: str = "kexue.fm"
) -> bytes:
    """A homepage-layout listing page (yearless `17 Aug` badges); posts need an id."""
    entries = []
    for post in posts:
        if post.id is None:
            raise ValueError("homepage posts need an id")
        link = f"https://{host}/archives/{post.id}"
        entries.append(
            f'<div class="Post"><div class="PostDate"><span class="day">{post.date.day}</span>'
            f'<span class="month">{_MONTH_ABBR[post.date.month - 1]}</span></div>'
            f'<h2><a href="{link}">{html.escape(post.title, quote=False)}</a></h2>'
            f'<div class="PostContent">{_paragraphs(post.excerpt)}'
            f'<p class="more"><a href="{link}#more">点击阅读全文...</a></p></div></div>'
        )
    return _page(entries, next_url)
