"""archive.formats._html: block-aware text of HTML fragments (feed descriptions and content)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archive.formats._html import html_fragment_paragraphs
from archive.formats._text import clean_excerpt


@pytest.mark.parametrize(
    ("fragment", "paragraphs"),
    [
        # Text first, then inline elements: the words after the first node used to be lost.
        ("甲乙 <b>bold</b> 丙丁。", ["甲乙 bold 丙丁。"]),
        ('甲乙<a href="https://kexue.fm/archives/1">链接</a>丙丁。', ["甲乙链接丙丁。"]),
        ("一<em>二<strong>三</strong></em>四<span>五</span>", ["一二三四五"]),
        ("text <br> more", ["text", "more"]),
        ("A<p>B</p>C", ["A", "B", "C"]),
        ("<p>x</p>tail", ["x", "tail"]),
        ("前言<ul><li>一</li><li>二</li></ul>后记", ["前言", "一", "二", "后记"]),
        ("<!-- note -->甲 <i>乙</i>", ["甲 乙"]),
        ("开头<h3>小节</h3>正文<blockquote>引文</blockquote>结尾", ["开头", "小节", "正文", "引文", "结尾"]),
        ("<table><tr><td>格1</td></tr><tr><td>格2</td></tr></table>表后", ["格1", "格2", "表后"]),
        # Stray document tags inside a fragment must not hide what follows them.
        ("前</body></html>后", ["前后"]),
        ("<title>题</title>正文 <b>加粗</b>", ["正文 加粗"]),
    ],
)
def test_every_node_of_a_fragment_is_read(fragment: str, paragraphs: list[str]) -> None:
    assert html_fragment_paragraphs(fragment) == paragraphs


def test_math_survives_exactly_across_inline_elements() -> None:
    fragment = (
        "设 $\\frac{a}{b}  +  c$ <b>且</b> \\(x_1  y\\) 成立，"
        "<i>于是</i>$$\\sum_{i}  x_i$$<br>\\begin{equation}a  =  b\\end{equation}"
    )
    assert html_fragment_paragraphs(fragment) == [
        "设 $\\frac{a}{b}  +  c$ 且 \\(x_1  y\\) 成立，于是$$\\sum_{i}  x_i$$",
        "\\begin{equation}a  =  b\\end{equation}",
    ]


def test_pre_keeps_code_indentation() -> None:
    fragment = (
        "代码如下：<pre><code>def f(x):\n    if x:\n        return 1\n\n    return  0\n</code></pre>之后"
    )
    paragraphs = html_fragment_paragraphs(fragment)
    assert clean_excerpt(paragraphs) == (
        "代码如下：\ndef f(x):\n    if x:\n        return 1\n    return  0\n之后"
    )


def test_pre_with_highlighting_spans_and_br() -> None:
    fragment = '<pre><span class="k">for</span> i <span>in</span> x:<br>    <b>print</b>(i)</pre>'
    assert clean_excerpt(html_fragment_paragraphs(fragment)) == "for i in x:\n    print(i)"


def test_identical_code_lines_are_kept() -> None:
    fragment = "<pre>if a:\n    pass\nif b:\n    pass\n</pre>"
    assert clean_excerpt(html_fragment_paragraphs(fragment)) == "if a:\n    pass\nif b:\n    pass"


_INLINE = ("b", "i", "em", "strong", "a", "span", "code", "sub", "sup", "u")
_BLOCK = ("p", "div", "li", "h1", "h3", "h6", "pre", "blockquote", "section")
_WORDS = st.text(alphabet="甲乙丙丁戊己庚辛壬癸abcxyz0123456789", min_size=1, max_size=6)


@st.composite
def _fragments(draw: st.DrawFn) -> tuple[str, list[str]]:
    """An HTML fragment of words in inline/block elements and bare text, with its words."""
    words: list[str] = []
    parts: list[str] = []
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        word = draw(_WORDS)
        words.append(word)
        kind = draw(st.sampled_from(("text", "inline", "block", "br")))
        if kind == "inline":
            tag = draw(st.sampled_from(_INLINE))
            parts.append(f"<{tag}>{word}</{tag}>")
        elif kind == "block":
            tag = draw(st.sampled_from(_BLOCK))
            parts.append(f"<{tag}>{word}</{tag}>")
        elif kind == "br":
            parts.append(f"{word}<br>")
        else:
            parts.append(word)
        parts.append(draw(st.sampled_from(("", " ", "\n"))))
    return "".join(parts), words


@given(_fragments())
def test_every_word_of_a_fragment_survives_in_order(case: tuple[str, list[str]]) -> None:
    fragment, words = case
    text = "\n".join(html_fragment_paragraphs(fragment))
    position = 0
    for word in words:
        found = text.find(word, position)
        assert found >= 0, (fragment, text, word)
        position = found + len(word)
