"""archive.formats.capture: plain-text captures of listing pages."""

from __future__ import annotations

import pytest

from archive import ParseError
from archive.formats.capture import parse_capture
from archive.identity import title_key
from archive.model import PostDate, Series
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
