"""How a search hit reads in a message."""

from __future__ import annotations

from archive.model import Post, PostDate
from bot.views import hit_view
from storage.search import SearchHit


def test_a_hit_with_no_excerpt_does_not_repeat_its_title_as_the_snippet() -> None:
    bare = Post(id=10001, title="梯度下降的几何意义", date=PostDate.from_iso("2024-01-01"))
    view = hit_view(SearchHit(bare, "梯度下降的几何意义", ((0, 2),), 1.0), "kexue.fm")
    assert view.title == "梯度下降的几何意义" and view.pieces == ()
    told = Post(id=10002, title="梯度", date=PostDate.from_iso("2024-01-02"), excerpt="沿梯度走一步。")
    view = hit_view(SearchHit(told, "沿梯度走一步。", ((1, 3),), 1.0), "kexue.fm")
    assert view.pieces == (("沿", False), ("梯度", True), ("走一步。", False))
