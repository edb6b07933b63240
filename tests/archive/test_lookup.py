"""A series found by any part of its name, spaced or punctuated any way, or suggested after a typo."""

from __future__ import annotations

from archive.lookup import fold, match_names, substring_distance

NAMES = [
    "流形上的最速下降",
    "MuP之上",
    "Transformer升级之路",
    "低秩近似之路",
    "“闭门造车”之多模态思路浅谈",
    "重温SSM",
    "从谱范数梯度到新式权重衰减",
]


def names(typed: str) -> tuple[str, list[str]]:
    found = match_names(typed, NAMES)
    return found.how, [NAMES[i] for i in found.indexes]


def test_fold_ignores_spacing_punctuation_case_and_width() -> None:
    assert fold("ＭｕＰ 之上") == fold("mup之上") == "mup之上"
    assert fold("Transformer升级之路：") == fold("transformer 升级之路")
    assert fold("《“闭门造车”》") == "闭门造车"


def test_any_part_of_a_name_finds_it() -> None:
    assert names("最速下降") == ("part", ["流形上的最速下降"])
    assert names("SSM") == ("part", ["重温SSM"])
    assert names("多模态") == ("part", ["“闭门造车”之多模态思路浅谈"])
    assert names("MuP 之上") == ("exact", ["MuP之上"])
    assert names("Transformer升级之路：") == ("exact", ["Transformer升级之路"])
    assert names("之路") == ("part", ["Transformer升级之路", "低秩近似之路"])


def test_a_typo_is_only_a_suggestion() -> None:
    assert names("流形上的最速下将") == ("typo", ["流形上的最速下降"])
    assert names("低秩近拟之路") == ("typo", ["低秩近似之路"])
    assert names("Transfomer升级") == ("typo", ["Transformer升级之路"])


def test_only_the_closest_names_are_suggested() -> None:
    names_ = ["Transformer升级之路", "我们可以无损放大一个Transformer模型吗"]
    found = match_names("Transfomer升级", names_)
    assert (found.how, found.indexes) == ("typo", (0,))


def test_nonsense_and_short_guesses_suggest_nothing() -> None:
    assert names("量子引力的弦论") == ("none", [])
    assert names("zz") == ("none", [])
    assert names("-—") == ("none", [])
    assert names("x" * 4000) == ("none", [])


def test_substring_distance_counts_the_edits_to_the_closest_part() -> None:
    assert substring_distance("abc", "xxabcxx") == 0
    assert substring_distance("abd", "xxabcxx") == 1
    assert substring_distance("", "anything") == 0
