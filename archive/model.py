"""The post as every parser produces it and every other package consumes it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archive.series import Series, detect_series

__all__ = ["Post", "PostDate", "Series"]


@dataclass(frozen=True, slots=True, order=True)
class PostDate:
    """A calendar date in the blog's time zone whose year may be unknown (homepage badges carry none)."""

    year: int | None
    month: int
    day: int

    def iso(self) -> str:
        """`YYYY-MM-DD`, or `--MM-DD` when the year is unknown."""
        if self.year is None:
            return f"--{self.month:02d}-{self.day:02d}"
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"

    def shown(self) -> str:
        """The date as a reader reads it: `YYYY-MM-DD`, or `MM-DD` when the year is unknown (a capture)."""
        return self.iso().removeprefix("--")

    @classmethod
    def from_iso(cls, text: str) -> PostDate:
        """Parse what `iso()` writes."""
        if text.startswith("--"):
            month, day = text[2:].split("-")
            return cls(None, int(month), int(day))
        year, month, day = text.split("-")
        return cls(int(year), int(month), int(day))


@dataclass(frozen=True, slots=True)
class Post:
    """One post as a source shows it.

    `title_is_live` is false when the source folded the site's punctuation (a text capture), so the store
    keeps the live spelling once it has seen one. `series` is derived from the title, here and nowhere else.
    """

    id: int | None
    title: str
    date: PostDate
    readers: int | None = None
    excerpt: str = ""
    series: Series | None = field(default=None, init=False)
    content: str | None = None
    title_is_live: bool = True

    def __post_init__(self) -> None:
        # The one place a series is derived: every post, parsed, merged or loaded, gets it from its title.
        object.__setattr__(self, "series", detect_series(self.title))

    def url(self, link_host: str) -> str | None:
        """`https://{link_host}/archives/{id}`, or None without an id."""
        return None if self.id is None else f"https://{link_host}/archives/{self.id}"

    def to_json(self, link_host: str) -> dict[str, Any]:
        """The post object of the `--json` contract."""
        return {
            "id": self.id,
            "url": self.url(link_host),
            "title": self.title,
            "date": self.date.iso(),
            "readers": self.readers,
            "excerpt": self.excerpt,
            "series": None if self.series is None else self.series.to_json(),
        }
