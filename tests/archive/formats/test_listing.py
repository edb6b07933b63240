"""archive.formats.listing: category/tag/search pages and the homepage."""

from __future__ import annotations

import pytest

from archive import ParseError
from archive.formats.listing import ListingPage, parse_listing, parse_listing_page
from archive.model import Post, PostDate
from tests.support.fixtures import make_homepage_html, make_listing_html, read_fixture


def _page(body: str) -> bytes:
    """A minimal page of the blog's layout around `body`."""
    return (
        '<!DOCTYPE html><html><head><title>科学空间|Scientific Spaces</title></head><body><div id="PostBody">'
        f'{body}</div><div id="SideBar"></div></body></html>'
    ).encode()


def test_category_page_entries_and_next_link() -> None:
    page = parse_listing_page(read_fixture("category.html"))
    assert isinstance(page, ListingPage)
    assert [p.id for p in page.posts] == [10501, 10427, 10366, 10347, 9984, 3913]
    assert page.next_url == "https://kexue.fm/category/Big-Data/2/"
    first = page.posts[0]
    assert (first.date, first.readers) == (PostDate(2024, 10, 30), 7530)
    assert "引用" not in first.excerpt and "苏剑林" not in first.excerpt


def test_the_sidebar_is_never_parsed() -> None:
    page = parse_listing_page(read_fixture("category.html"))
    assert 10907 not in [p.id for p in page.posts]
    assert all("..." not in p.title for p in page.posts)


def test_repeated_image_caption_is_dropped() -> None:
    cr = parse_listing(read_fixture("category.html"))[1]
    assert cr.excerpt.count("CR近似示意图") == 1


def test_homepage_badges_have_no_year() -> None:
    page = parse_listing_page(read_fixture("homepage.html"))
    assert [p.date for p in page.posts] == [
        PostDate(None, 10, 21),
        PostDate(None, 8, 1),
        PostDate(None, 5, 4),
        PostDate(None, 2, 21),
        PostDate(None, 2, 8),
    ]
    assert page.next_url == "https://kexue.fm/page/2/"
    assert all("点击阅读全文" not in p.excerpt for p in page.posts)


def test_empty_category_is_an_empty_list() -> None:
    assert parse_listing_page(read_fixture("category-empty.html")) == ListingPage(posts=[], next_url=None)


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
def test_broken_pages_raise_parse_error(name: str, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_listing_page(read_fixture(name))


def test_entry_without_a_post_link_is_skipped_never_invented() -> None:
    body = (
        '<div class="Post"><h2>公告</h2><span class="submitted">By 苏剑林 | 2024-01-01 | 5位读者</span></div>'
        '<div class="Post"><h2><a href="https://kexue.fm/links.html">友情链接</a></h2>'
        '<span class="submitted">By 苏剑林 | 2024-01-01 | 5位读者</span></div>'
        '<div class="Post"><h2><a href="/archives/9984">相对链接</a></h2>'
        '<span class="submitted">By 苏剑林 | 2024-02-21 | 1,234位读者 | 引用</span><p>正文</p></div>'
    )
    posts = parse_listing(_page(body))
    assert [(p.id, p.title, p.readers, p.excerpt) for p in posts] == [(9984, "相对链接", 1234, "正文")]


def test_entry_without_any_date_is_an_error() -> None:
    body = '<div class="Post"><h2><a href="/archives/9984">标题</a></h2><p>正文</p></div>'
    with pytest.raises(ParseError, match="no recognisable date"):
        parse_listing(_page(body))


@pytest.mark.parametrize(
    "badge",
    [
        '<div class="date"><span>17</span><span>Aug</span></div>',
        '<span class="PostTime">AUG<br>17</span>',
        "<p>17 Aug</p>",
    ],
)
def test_badge_variants(badge: str) -> None:
    body = f'<div class="Post">{badge}<h2><a href="/archives/8620">标题</a></h2><p>正文 17 Sep</p></div>'
    assert parse_listing(_page(body))[0].date == PostDate(None, 8, 17)


def test_badge_beside_the_entry() -> None:
    body = '<div class="badge">8 Mar</div><div class="Post"><h2><a href="/archives/8231">标题</a></h2></div>'
    assert parse_listing(_page(body))[0].date == PostDate(None, 3, 8)


def test_relative_next_link_is_returned_as_written() -> None:
    body = (
        '<div class="Post"><h2><a href="/archives/1">a</a></h2>'
        '<span class="submitted">By x | 2010-01-01</span></div>'
        '<ol class="page-navigator"><li class="next"><a href="/page/3/">»</a></li></ol>'
    )
    assert parse_listing_page(_page(body)).next_url == "/page/3/"


def test_builders_round_trip() -> None:
    posts = [
        Post(
            11480, "标题（二）：副标题", PostDate(2025, 12, 16), readers=12, excerpt="第一段 $a < b$\n第二段"
        ),
        Post(11470, "另一篇", PostDate(2025, 12, 1), readers=3400, excerpt="只有一段"),
    ]
    parsed = parse_listing(make_listing_html(posts))
    assert [(p.id, p.title, p.date, p.readers, p.excerpt) for p in parsed] == [
        (p.id, p.title, p.date, p.readers, p.excerpt) for p in posts
    ]
    homepage = parse_listing(make_homepage_html(posts))
    assert [(p.id, p.date) for p in homepage] == [
        (11480, PostDate(None, 12, 16)),
        (11470, PostDate(None, 12, 1)),
    ]
    assert homepage[0].excerpt == posts[0].excerpt


@pytest.mark.parametrize(
    "byline",
    [
        # The quote link inside the byline, as the site writes it.
        '<span class="submitted">By 苏剑林 | 2024-09-01 | 26991位读者 | <a href="#Quote">引用</a></span>',
        # The quote link after the byline element.
        '<span class="submitted">By 苏剑林 | 2024-09-01 | 26991位读者 | </span><a href="#Quote">引用</a>',
        # The quote as bare text after the byline element.
        '<span class="submitted">By 苏剑林 | 2024-09-01 | 26991位读者 | </span>引用',
        # Another element than a span carries the class.
        '<div class="submitted">By 苏剑林 | 2024-09-01 | 26,991位读者 | 引用</div>',
        # No `.submitted` at all: the byline is the first paragraph, glued to the excerpt as in captures.
        "<p>By 苏剑林 | 2024-09-01 | 26991位读者 | 引用</p>",
        "<div>By 苏剑林 | 2024-09-01 | 26991位读者 | 引用众所周知，主流的LLM</div>",
    ],
)
def test_the_quote_link_and_byline_never_reach_the_excerpt(byline: str) -> None:
    glued = byline.endswith("LLM</div>")
    body = (
        '<div class="Post"><h2><a href="https://kexue.fm/archives/10347">Decoder-only的LLM为什么需要位置编码？</a>'
        f"</h2>{byline}{'' if glued else '<p>众所周知，主流的LLM</p>'}<p>第二段 $x$。</p></div>"
    )
    [entry] = parse_listing(_page(body))
    assert (entry.date, entry.readers) == (PostDate(2024, 9, 1), 26991)
    assert entry.excerpt == "众所周知，主流的LLM\n第二段 $x$。"


def test_an_excerpt_that_starts_with_the_word_quote_keeps_it() -> None:
    body = (
        '<div class="Post"><h2><a href="/archives/10000">标题</a></h2>'
        '<span class="submitted">By 苏剑林 | 2024-03-01 | 5位读者 | <a href="#Quote">引用</a></span>'
        "<p>引用一句老话开头。</p></div>"
    )
    assert parse_listing(_page(body))[0].excerpt == "引用一句老话开头。"


def _entry(content: str, ident: int = 10000) -> str:
    """One category-layout entry with `content` as its PostContent."""
    return (
        f'<div class="Post"><h2><a href="/archives/{ident}">标题{ident}</a></h2>'
        '<span class="submitted">By 苏剑林 | 2024-03-01 | 5位读者 | <a href="#Quote">引用</a></span>'
        f'<div class="PostContent">{content}</div></div>'
    )


def test_inline_and_block_text_of_an_excerpt_all_survive() -> None:
    content = '甲乙 <b>bold</b> 丙丁。<br>text <a href="/x">链接</a> more<p>B $a  +  b$</p>C'
    excerpt = parse_listing(_page(_entry(content)))[0].excerpt
    assert excerpt == "甲乙 bold 丙丁。\ntext 链接 more\nB $a  +  b$\nC"


def test_code_indentation_survives_in_a_listing_excerpt() -> None:
    content = "<p>代码：</p><pre><code>for i in x:\n    if i:\n        print(i)\n</code></pre><p>完</p>"
    excerpt = parse_listing(_page(_entry(content)))[0].excerpt
    assert excerpt == "代码：\nfor i in x:\n    if i:\n        print(i)\n完"


# Text that only page furniture carries: the navigator, the sidebar, the footer, bylines of other entries.
_FURNITURE = ("»", "最新文章", "最近评论", "读者甲", "Copyright", "By 苏剑林", "点击阅读全文", "MLA...")
_RESUME_AT = ('<ol class="page-navigator">', '<div id="SideBar">', '<div id="Footer">', '<div class="Post">')


def _gaps(text: str) -> list[tuple[int, int]]:
    """(cut, resume) pairs: a cut inside an entry's excerpt, resuming at later furniture or entries."""
    cuts = [m + len('<div class="PostContent">') + 20 for m in _positions(text, '<div class="PostContent">')]
    pairs = []
    for cut in cuts:
        for marker in _RESUME_AT:
            later = [p for p in _positions(text, marker) if p > cut]
            if later:
                pairs.append((cut, later[0]))
    return pairs


def _positions(text: str, marker: str) -> list[int]:
    found, at = [], text.find(marker)
    while at >= 0:
        found.append(at)
        at = text.find(marker, at + 1)
    return found


@pytest.mark.parametrize("name", ["category.html", "homepage.html"])
def test_an_entry_cut_short_never_swallows_the_page_furniture(name: str) -> None:
    text = read_fixture(name).decode("utf-8")
    whole = {p.id: p for p in parse_listing(text)}
    pairs = _gaps(text)
    assert len(pairs) >= 10
    for cut, resume in pairs:
        try:
            posts = parse_listing(text[:cut] + text[resume:])
        except ParseError:
            continue
        for post in posts:
            assert not any(mark in post.excerpt for mark in _FURNITURE), (cut, resume, post.excerpt)
            assert not any(other.title in post.excerpt for other in whole.values()), (cut, resume)


def test_an_entry_that_holds_the_sidebar_is_an_error() -> None:
    text = read_fixture("category.html").decode("utf-8")
    cut = text.index("伪逆 $") + 5
    with pytest.raises(ParseError, match="not closed"):
        parse_listing(text[:cut] + text[text.index('<div id="SideBar">') :])
