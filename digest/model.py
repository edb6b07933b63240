"""One model for a message about posts, whatever the channel: posts, followed series, most read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from digest import DigestError
from digest.excerpt import DEFAULT_EXCERPT_CHARS, render_excerpt
from storage.posts import StoredPost

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")


def check_lang(value: str) -> Lang:
    """`value` as a `Lang`, or DigestError."""
    if value == "zh":
        return "zh"
    if value == "en":
        return "en"
    raise DigestError(f"unknown language {value!r} (zh or en)")


@dataclass(frozen=True, slots=True)
class SeriesRef:
    """A post's place in its series, with the nearest earlier stored part when it has a link."""

    name: str
    part: int
    previous_url: str | None = None
    previous_title: str | None = None
    previous_part: int | None = None

    @property
    def previous_is_adjacent(self) -> bool:
        """Whether the linked earlier part is the one just before (not across a part never stored)."""
        return self.previous_part is None or self.previous_part >= self.part - 1


@dataclass(frozen=True, slots=True)
class PostItem:
    """One post as every message shows it; `excerpt` is already rendered (math readable, cut), and
    `raw_excerpt` is the stored LaTeX it came from (for destinations that draw formulas)."""

    key: int
    title: str
    url: str | None
    date: str
    readers: int | None
    excerpt: str
    series: SeriesRef | None = None
    raw_excerpt: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class MostRead:
    """A post among the period's most read: its reader-count growth over the period."""

    item: PostItem
    growth: int


@dataclass(frozen=True, slots=True)
class Period:
    """What headers and footers show: the period covered and the blog's front page."""

    start: date
    end: date
    home_url: str


@dataclass(frozen=True, slots=True)
class Digest:
    """A period's digest for one reader: new posts, new parts of followed series, and the most read."""

    start: date
    end: date
    home_url: str
    posts: tuple[PostItem, ...] = ()
    series_updates: tuple[PostItem, ...] = ()
    most_read: tuple[MostRead, ...] = ()

    @property
    def period(self) -> Period:
        """The part every recipient with the same period shares (a cheap cache key, unlike the digest)."""
        return Period(self.start, self.end, self.home_url)

    @property
    def empty(self) -> bool:
        """Nothing new to tell: such a digest is not sent (the most read alone are no news)."""
        return not self.posts and not self.series_updates


def build_item(
    stored: StoredPost,
    *,
    link_host: str,
    excerpt_chars: int = DEFAULT_EXCERPT_CHARS,
    previous: StoredPost | None = None,
    cached: bool = True,
) -> PostItem:
    """The message view of a stored post; `cached=False` renders the excerpt afresh (the naive baseline)."""
    post = stored.post
    series = None
    if post.series is not None:
        previous_url = None if previous is None else previous.post.url(link_host)
        series = SeriesRef(
            name=post.series.name,
            part=post.series.part,
            previous_url=previous_url,
            previous_title=None if previous_url is None or previous is None else previous.post.title,
            previous_part=None
            if previous_url is None or previous is None or previous.post.series is None
            else previous.post.series.part,
        )
    excerpt = render_excerpt(post.excerpt, excerpt_chars, cached=cached)
    return PostItem(
        key=stored.pk,
        title=post.title,
        url=post.url(link_host),
        date=post.date.shown(),
        readers=post.readers,
        excerpt=excerpt,
        series=series,
        raw_excerpt=post.excerpt,
    )


def home_url(link_host: str) -> str:
    """The blog's front page on the host we link to."""
    return f"https://{link_host}/"
