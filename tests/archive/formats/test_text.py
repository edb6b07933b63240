"""archive.formats._text: input guards and excerpt clean-up."""

from __future__ import annotations

import pytest

from archive import ParseError
from archive.formats._text import MAX_PAGE_BYTES, clean_excerpt, decode_page, normalize_inline


def test_decode_page_rejects_oversized_input() -> None:
    with pytest.raises(ParseError, match="page too large"):
        decode_page(b" " * (MAX_PAGE_BYTES + 1))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"   \n\t ", "empty"),
        (b"\xff\xfe\xfa\x00garbage", "undecodable|binary"),
        (b"\xc3\x28 not utf-8", "undecodable"),
        (b"<html>\x00\x01\x02</html>", "binary"),
    ],
)
def test_decode_page_rejects_non_text(data: bytes, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        decode_page(data)


def test_decode_page_handles_boms() -> None:
    assert decode_page("\ufeff<html>".encode()) == "<html>"
    assert decode_page("<html>科学</html>".encode("utf-16")) == "<html>科学</html>"


def test_excerpt_keeps_latex_exactly() -> None:
    equation = (
        "\\begin{equation}\\left\\{\\begin{aligned}&a  =  b\\\\\n   &c = d\n"
        "\\end{aligned}\\right.\\end{equation}"
    )
    text = f"设  $x  +  y$  与 $$\\sum_{{i}}  x_i$$ 满足\n{equation}\n结束"
    assert clean_excerpt([text]) == f"设 $x  +  y$ 与 $$\\sum_{{i}}  x_i$$ 满足\n{equation}\n结束"


def test_excerpt_drops_read_more_and_repeated_captions() -> None:
    lines = ["正文第一段", "示意图", "", "示意图", "正文第二段", "点击阅读全文...", "点击阅读全文…"]
    assert clean_excerpt(["\n".join(lines)]) == "正文第一段\n示意图\n正文第二段"


def test_excerpt_keeps_repeated_equations() -> None:
    assert clean_excerpt(["$$a=b$$\n$$a=b$$"]) == "$$a=b$$\n$$a=b$$"


def test_a_lone_dollar_does_not_swallow_paragraphs() -> None:
    assert clean_excerpt(["价格 $5   左右\n\n下一段   文字"]) == "价格 $5 左右\n下一段 文字"


def test_normalize_inline_joins_wrapped_chinese_without_a_space() -> None:
    assert normalize_inline("第一行，\n   第二行 and\n  English") == "第一行，第二行 and English"
