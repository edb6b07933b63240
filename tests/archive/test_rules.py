"""The domain's rules in plain Python: merging sightings and the newness rule, no store involved."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from archive.model import Post, PostDate
from archive.rules import NewnessRule, announce_cutoff, is_poorer_excerpt, merge

TZ = ZoneInfo("Asia/Shanghai")
LONG = "众所周知，低秩近似是矩阵分析的核心问题之一，本文从伪逆出发，讨论它的几种等价定义与计算方法。"


def capture(excerpt: str = LONG) -> Post:
    return Post(None, "低秩近似之路(一):伪逆", PostDate(2024, 9, 15), 3000, excerpt, title_is_live=False)


def live(excerpt: str, content: str | None = None) -> Post:
    return Post(10366, "低秩近似之路（一）：伪逆", PostDate(2024, 9, 15), None, excerpt, content)


def test_a_cut_or_empty_excerpt_is_poorer_than_the_stored_one() -> None:
    assert is_poorer_excerpt("众所周知……", LONG)
    assert is_poorer_excerpt("众所周知, 低秩近似...", LONG)
    assert is_poorer_excerpt("", LONG)
    assert is_poorer_excerpt("   ", LONG)
    assert not is_poorer_excerpt("一段改写过的摘要。", LONG)
    assert not is_poorer_excerpt(LONG + "还多了一句。", LONG)


def test_a_poorer_live_excerpt_keeps_the_stored_one_shown_and_searchable() -> None:
    merged = merge(capture(), live("众所周知……"))
    assert merged.excerpt == LONG
    assert merged.title == "低秩近似之路（一）：伪逆" and merged.id == 10366 and merged.readers == 3000


def test_a_shorter_rewritten_live_excerpt_is_shown_but_the_richer_text_stays_indexed() -> None:
    merged = merge(capture(), live("一段改写过的摘要。"))
    assert merged.excerpt == "一段改写过的摘要。"
    assert merged.content == LONG


def test_full_content_is_never_replaced_by_less() -> None:
    full = "全文" * 500
    with_content = merge(capture(), live("众所周知……", full))
    assert with_content.content == full
    again = merge(with_content, live("众所周知……", None))
    assert again.content == full
    shorter = merge(with_content, live("众所周知……", "全文的开头"))
    assert shorter.content == full


def test_the_series_follows_the_merged_title() -> None:
    merged = merge(capture(), live(LONG))
    assert merged.series is not None and merged.series.name == "低秩近似之路" and merged.series.part == 1


def test_newness_is_anchored_on_the_last_successful_poll() -> None:
    last = datetime(2025, 5, 1, 12, tzinfo=TZ)
    now = datetime(2025, 5, 22, 12, tzinfo=TZ)
    assert announce_cutoff(last, now, TZ, 14) == date(2025, 4, 17)
    assert announce_cutoff(None, now, TZ, 14) == date(2025, 5, 8)
    rule = NewnessRule(baseline=False, cutoff=date(2025, 4, 17))
    assert rule.announces(Post(1, "a", PostDate(2025, 4, 17)))
    assert not rule.announces(Post(1, "a", PostDate(2025, 4, 16)))
    assert not rule.announces(Post(1, "a", PostDate(None, 5, 20)))
    assert not NewnessRule(baseline=True, cutoff=date(2025, 4, 17)).announces(
        Post(1, "a", PostDate(2025, 5, 20))
    )
