"""archive.identity: title/series keys and archive ids from URLs."""

from __future__ import annotations

import pytest

from archive.identity import archive_id_from_url, quoted_lead, series_key, series_lookup_key, title_key


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://kexue.fm/archives/11480", 11480),
        ("https://spaces.ac.cn/archives/11480", 11480),
        ("http://kexue.fm/archives/11480", 11480),
        ("https://kexue.fm/archives/11480#PostComment", 11480),
        ("https://kexue.fm/archives/11480/", 11480),
        ("https://kexue.fm/archives/11480?replyTo=3", 11480),
        ("https://kexue.fm/archives/11480/comment-page-2#comments", 11480),
        ("/archives/11480", 11480),
        ("//kexue.fm/archives/4", 4),
        ("http://127.0.0.1:8765/archives/10907", 10907),
        ("https://kexue.fm/index.php/archives/9984", 9984),
        ("  https://kexue.fm/archives/10427  ", 10427),
    ],
)
def test_archive_id_from_url_accepts_post_links(url: str, expected: int) -> None:
    assert archive_id_from_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "",
        "https://kexue.fm/",
        "https://kexue.fm/content.html",
        "https://kexue.fm/archives/",
        "https://kexue.fm/archives/abc",
        "https://kexue.fm/archives/0",
        "https://kexue.fm/archives/-5",
        "https://kexue.fm/archives/12/extra",
        "https://kexue.fm/category/archives/12",
        "archives/12",
        "mailto:someone@kexue.fm",
        "javascript:void(0)",
        "ftp://kexue.fm/archives/12",
        "https://kexue.fm/archives/１２",
        "https://kexue.fm/archives/99999999999",
        "http://[::1/archives/1",
    ],
)
def test_archive_id_from_url_rejects_other_links(url: str) -> None:
    assert archive_id_from_url(url) is None


def test_title_key_folds_full_and_half_width_spellings() -> None:
    assert title_key("低秩近似之路(三):CR") == title_key("低秩近似之路（三）：CR")
    assert title_key("Transformer升级之路：20、MLA好在哪里?（上）") == title_key(
        "Transformer升级之路:20、MLA好在哪里？(上)"
    )


def test_title_key_collapses_whitespace_and_casefolds() -> None:
    assert title_key("  Naive  Bayes\tis all\u3000you NEED ?\n") == "naive bayes is all you need ?"
    assert title_key("ＣｏＳＥＮＴ") == title_key("cosent")


def test_series_key_matches_spellings_and_brackets() -> None:
    assert series_key("低秩近似之路") == series_key(" 低秩近似之路 ")
    assert series_key("【中文分词系列】") == series_key("中文分词系列")
    assert series_key("MoE环游记") == series_key("ＭｏＥ环游记")
    assert series_key("“闭门造车”之多模态思路浅谈") != series_key("闭门造车之多模态思路浅谈")


STORED = "“闭门造车”之多模态思路浅谈"


@pytest.mark.parametrize(
    "typed",
    [
        "闭门造车",
        '"闭门造车"',
        "“闭门造车”",
        "「闭门造车」",
        "『闭门造车』",
        "《闭门造车》",
        "【闭门造车】",
        "〈闭门造车〉",
        "(闭门造车)",
        "（闭门造车）",
        "[闭门造车]",
        "'闭门造车'",
        "‘闭门造车’",
        " ＂闭门造车＂ ",
    ],
)
def test_a_typed_series_name_in_any_quotes_or_brackets_folds_to_a_prefix_of_the_stored_one(
    typed: str,
) -> None:
    assert series_lookup_key(typed) == "闭门造车"
    assert series_lookup_key(STORED).startswith(series_lookup_key(typed))


def test_series_lookup_key_folds_stored_and_typed_names_alike() -> None:
    # Typographic quotes inside a name agree with the ASCII ones a reader types.
    assert series_lookup_key('"闭门造车"之多模态') == series_lookup_key("“闭门造车”之多模态")
    assert series_lookup_key(STORED) == '闭门造车"之多模态思路浅谈'
    assert series_lookup_key(series_lookup_key(STORED)) == series_lookup_key(STORED)
    assert series_lookup_key(series_key(STORED)) == series_lookup_key(STORED)
    assert series_lookup_key("ＭｏＥ环游记") == series_lookup_key("moe环游记") == "moe环游记"
    # Brackets inside a name are content: only the edges are folded.
    assert series_lookup_key("重温SSM（一）") == "重温ssm(一"
    assert series_lookup_key("“”") == ""


def test_quoted_lead_is_the_phrase_a_name_opens_with_in_quotes() -> None:
    assert quoted_lead(STORED) == "闭门造车"
    assert quoted_lead("《三体》读后感") == "三体"
    assert quoted_lead("【中文分词系列】") is None  # the phrase is the whole name
    assert quoted_lead("低秩近似之路") is None
    assert quoted_lead("“未闭合之路") is None
