"""archive.formats.capture: plain-text captures of listing pages."""

from __future__ import annotations

import pytest

from archive import ParseError
from archive.formats.capture import parse_capture
from archive.identity import title_key
from archive.model import Post, PostDate, Series
from tests.support.fixtures import read_fixture


def test_category_capture_entries() -> None:
    posts = parse_capture(read_fixture("capture-category.txt"))
    assert [(p.title, p.date.iso(), p.readers) for p in posts] == [
        ("低秩近似之路(四):ID", "2024-10-30", 7530),
        ("低秩近似之路(三):CR", "2024-10-11", 11871),
        ("Decoder-only的LLM为什么需要位置编码?", "2024-09-01", 26991),
        ("训练1000层的Transformer究竟有什么困难?", "2022-03-09", 74564),
        ("“闭门造车”之多模态思路浅谈(一):无损输入", "2024-02-21", 142431),
    ]
    assert all(p.id is None and not p.title_is_live for p in posts)
    assert posts[1].series == Series("低秩近似之路", 3)
    assert title_key(posts[1].title) == title_key("低秩近似之路（三）：CR")


def test_first_excerpt_line_is_glued_to_the_byline() -> None:
    post = parse_capture(read_fixture("capture-category.txt"))[0]
    assert post.excerpt.startswith("本文介绍插值分解(ID)")
    assert "引用" not in post.excerpt
    equation = "\\begin{equation}\\boldsymbol{M}\\approx\\boldsymbol{M}_{[:,S]}\\boldsymbol{Z},"
    assert post.excerpt.endswith(equation + "\\quad |S|=r\\end{equation}")


def test_footer_and_following_junk_are_ignored() -> None:
    last = parse_capture(read_fixture("capture-category.txt"))[-1]
    assert last.excerpt.endswith("所谓“无损”,是指输入端不对图像做离散化。")
    assert "最近评论" not in last.excerpt and "读者甲" not in last.excerpt


def test_caption_lines_are_deduplicated() -> None:
    cr = parse_capture(read_fixture("capture-category.txt"))[1]
    assert cr.excerpt.split("\n")[1:2] == ["CR近似示意图"]
    assert cr.excerpt.count("CR近似示意图") == 1


def test_homepage_capture_entries() -> None:
    posts = parse_capture(read_fixture("capture-homepage.txt"))
    assert [(p.title, p.date) for p in posts] == [
        ("MuP之上:1. 好模型的三个特征", PostDate(None, 10, 21)),
        ("流形上的最速下降:1. SGD + 超球面", PostDate(None, 8, 1)),
        ("Transformer升级之路:20、MLA好在哪里?(上)", PostDate(None, 5, 4)),
        ("MoE环游记:1、从几何意义出发", PostDate(None, 2, 8)),
    ]
    assert all(p.readers is None and p.id is None for p in posts)
    assert posts[0].excerpt.count("三个特征示意图") == 1
    assert all("点击阅读全文" not in p.excerpt for p in posts)


def test_multiline_equation_is_kept_exactly() -> None:
    post = parse_capture(read_fixture("capture-homepage.txt"))[1]
    assert (
        "\\begin{equation}\\left\\{\\begin{aligned}&\\boldsymbol{\\Phi} = \\boldsymbol{g} - "
        "\\langle\\boldsymbol{g},\\boldsymbol{w}\\rangle\\boldsymbol{w}\\\\\n&\\boldsymbol{w}_{t+1}"
    ) in post.excerpt
    assert "\n\\end{aligned}\\right.\\end{equation}\n其中" in post.excerpt


@pytest.mark.parametrize(
    "text",
    [
        "just some text\nwithout any structure\n",
        "<html><body>By x | 2024-01-01 | 3位读者</body></html>",
        "By 苏剑林 | 2024-01-01 | 3位读者 | 引用正文\n",
        "17 Aug\n\n\n",
        "标题\nBy 苏剑林 | 2024-02-30 | 3位读者 | 引用正文\n",
    ],
)
def test_unusable_captures_raise(text: str) -> None:
    with pytest.raises(ParseError):
        parse_capture(text.encode())


def _category() -> str:
    return read_fixture("capture-category.txt").decode("utf-8")


def _homepage() -> str:
    return read_fixture("capture-homepage.txt").decode("utf-8")


def _before_footer(text: str) -> str:
    """The capture up to (not including) its `最近评论` footer."""
    return text[: text.index("最近评论")]


def _assert_only_complete_posts(text: str, whole: list[Post]) -> list[Post]:
    """Parsing `text` raises ParseError or gives posts of the whole capture, each exactly as there."""
    try:
        posts = parse_capture(text)
    except ParseError:
        return []
    by_title = {post.title: post for post in whole}
    for post in posts:
        assert post == by_title.get(post.title), (text[-80:], post)
    return posts


@pytest.mark.parametrize(
    "cut",
    [
        "By 苏剑林 | 2024-10-11 | 11871",
        "By 苏剑林 | 2024-10-11 | 11871位",
        "By 苏剑林 | 2024-10-11 |",
        "By 苏剑林 | 2024-10-1",
        "By 苏剑林 | 2024",
        "By 苏剑林 |",
        "By 苏剑林",
        "By 苏",
    ],
)
def test_capture_cut_inside_a_byline_never_corrupts_the_previous_excerpt(cut: str) -> None:
    text = _category()
    whole = parse_capture(text)
    truncated = text[: text.index("By 苏剑林 | 2024-10-11")] + cut
    posts = _assert_only_complete_posts(truncated, whole)
    assert all("低秩近似之路(三)" not in p.excerpt and "By 苏" not in p.excerpt for p in posts)
    # The post before the cut byline is whole: its end is the cut entry's title.
    assert [p.title for p in posts] == ["低秩近似之路(四):ID"]


def test_capture_cut_inside_a_byline_then_footer_drops_the_cut_entry() -> None:
    text = _category()
    truncated = text[: text.index("By 苏剑林 | 2024-10-11")] + "By 苏剑林 | 2024-10-11 | 11871\n最近评论\n"
    posts = _assert_only_complete_posts(truncated, parse_capture(text))
    assert [p.title for p in posts] == ["低秩近似之路(四):ID"]


def test_a_damaged_byline_between_entries_is_an_error() -> None:
    byline = "By 苏剑林 | 2024-10-11 | 11871"
    text = _category().replace(byline + "位读者 | 引用", byline)
    with pytest.raises(ParseError, match="byline"):
        parse_capture(text)


def test_a_title_without_its_byline_at_the_end_is_not_excerpt_text() -> None:
    text = _before_footer(_category()) + "浅谈Transformer的初始化、参数化与标准化\n"
    posts = _assert_only_complete_posts(text, parse_capture(_category()))
    assert all("浅谈Transformer" not in p.excerpt for p in posts)


@pytest.mark.parametrize("name", ["capture-category.txt", "capture-homepage.txt"])
def test_every_truncation_gives_an_error_or_only_complete_posts(name: str) -> None:
    text = read_fixture(name).decode("utf-8")
    whole = parse_capture(text)
    kept = [len(_assert_only_complete_posts(text[:end], whole)) for end in range(len(text))]
    # A cut loses the entry it falls in, not the entries before it.
    assert len(whole) - 1 in kept


@pytest.mark.parametrize(
    "furniture",
    [
        "1 2 3 … 下一页\n",
        "« 上一页 1 2 3 4 5 ... 20 下一页 »\n",
        "1\n2\n3\n»\n",
        "上一页\n下一页\n",
    ],
)
def test_pagination_before_the_footer_is_not_excerpt_text(furniture: str) -> None:
    text = _category()
    footer = text.index("最近评论")
    posts = parse_capture(text[:footer] + furniture + text[footer:])
    assert posts == parse_capture(text)


def test_pagination_after_a_homepage_entry_without_read_more() -> None:
    text = "21 Oct\n\n标题甲\n\n正文甲。\n\n1 2 3 … 下一页\n\n最近评论\n读者: 评论\n"
    [post] = parse_capture(text)
    assert post.excerpt == "正文甲。"


def test_homepage_capture_cut_inside_the_last_entry_drops_it() -> None:
    text = _homepage()
    last = text.rindex("点击阅读全文")
    posts = _assert_only_complete_posts(text[:last], parse_capture(text))
    assert len(posts) == len(parse_capture(text)) - 1


def test_a_signature_line_before_the_footer_stays_excerpt_text() -> None:
    text = _category()
    footer = text.index("最近评论")
    posts = parse_capture(text[:footer] + "By Alice\n" + text[footer:])
    assert posts[-1].excerpt == parse_capture(text)[-1].excerpt + "\nBy Alice"
