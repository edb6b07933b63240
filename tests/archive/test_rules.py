"""The domain's rules in plain Python: merging sightings and the newness rule, no store involved."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from archive.identity import title_key
from archive.model import Post, PostDate
from archive.rules import (
    NewnessRule,
    announce_cutoff,
    is_poorer_excerpt,
    merge,
    misread_original,
    sighting_anomaly,
    sighting_lookup,
)

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


def cp1252_misread(text: str) -> str:
    """UTF-8 read as Windows-1252 (its undefined bytes as Latin-1), as a misconfigured server serves it."""
    return "".join(
        chr(byte) if byte in (0x81, 0x8D, 0x8F, 0x90, 0x9D) else bytes([byte]).decode("cp1252")
        for byte in text.encode("utf-8")
    )


STORED = [
    Post(10366, "低秩近似之路（一）：伪逆", PostDate(2024, 9, 15), excerpt="伪逆。"),
    Post(10407, "低秩近似之路（二）：SVD", PostDate(2024, 10, 1), excerpt="SVD。"),
    Post(10427, "低秩近似之路（三）：CR", PostDate(2024, 10, 11), excerpt="CR。"),
]


def test_a_misread_utf8_string_is_recognised_and_its_original_recovered() -> None:
    title = "低秩近似之路（一）：伪逆 MoE"
    assert misread_original(cp1252_misread(title)) == title
    assert misread_original("浣庣З杩戜技鐭╅樀鍒嗚В") == "低秩近似矩阵分解"  # UTF-8 read as GBK
    for genuine in ("低秩近似之路（一）：伪逆", "Café crème", "ÄÖÜ straße", "Transformer升级之路", "plain"):
        assert misread_original(genuine) is None


def test_the_lookup_asks_for_ids_and_for_the_titles_a_garbled_page_hides() -> None:
    garbled = Post(10366, cp1252_misread("低秩近似之路（一）：伪逆"), PostDate(2024, 9, 15))
    ids, keys = sighting_lookup([garbled, Post(None, "Hello  World", PostDate(None, 1, 2))])
    assert ids == {10366}
    assert keys == {title_key(garbled.title), "低秩近似之路(一):伪逆", "hello world"}


def test_a_page_of_the_known_posts_and_a_new_one_is_trusted() -> None:
    new = Post(10500, "低秩近似之路（四）：ID", PostDate(2024, 12, 1))
    assert sighting_anomaly([new, *STORED], STORED, store_empty=False) is None
    # A shortened page (a cut feed) lists fewer posts: nothing is wrong with what it does list.
    assert sighting_anomaly(STORED[:1], STORED[:1], store_empty=False) is None


def test_no_posts_is_a_failure_unless_the_store_is_empty_too() -> None:
    assert sighting_anomaly([], [], store_empty=False) == "the page lists no posts"
    assert sighting_anomaly([], [], store_empty=True) is None


def test_stored_titles_misread_in_a_wrong_encoding_are_an_anomaly() -> None:
    garbled = [Post(p.id, cp1252_misread(p.title), p.date, excerpt=cp1252_misread(p.excerpt)) for p in STORED]
    reason = sighting_anomaly(garbled, STORED, store_empty=False)
    assert reason is not None and "wrong encoding" in reason and "低秩近似之路（一）：伪逆" in reason
    # Under new ids too: the garbled titles are no "new" posts.
    moved = [Post(p.id + 1 if p.id else None, p.title, p.date) for p in garbled]
    assert sighting_anomaly(moved, STORED, store_empty=False) is not None


def test_stored_titles_under_new_ids_are_an_anomaly_while_one_reposted_post_is_not() -> None:
    renumbered = [Post(p.id + 50_000, p.title, p.date, excerpt=p.excerpt) for p in STORED if p.id]
    reason = sighting_anomaly(renumbered, STORED, store_empty=False)
    assert reason == "the posts' ids changed: 3 of 3 stored titles come with new ids (#10366 is now #60366)"
    # A capture's folded spelling of the title is the same title.
    folded = [Post(60366, "低秩近似之路(一):伪逆", PostDate(2024, 9, 15))]
    assert sighting_anomaly(folded, STORED[:1], store_empty=False) is not None
    # One post republished under a new id beside the known ones is the author's doing, not an anomaly.
    reposted = Post(10600, STORED[0].title, STORED[0].date)
    assert sighting_anomaly([reposted, *STORED[1:]], STORED, store_empty=False) is None
    # Unknown ids with unknown titles are new posts (a feed after a long outage), not changed ids.
    fresh = [Post(20000 + n, f"新文章{n}", PostDate(2025, 5, n + 1)) for n in range(5)]
    assert sighting_anomaly(fresh, [], store_empty=False) is None
