"""What the bot says: the macros of `templates/telegram/bot.html`, in the reader's language, cut to fit.

Handlers decide nothing about wording or layout: they pass data here. Long answers are split between blocks
so that each message stays within Telegram's 4,096 UTF-16 units; a single post block too long on its own
loses its excerpt first (the digest renderer's rule).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from digest.model import PostItem
from digest.render import Renderer
from digest.telegram import TELEGRAM_LIMIT, telegram_length
from storage.search import SearchHit

TEMPLATE = "telegram/bot.html"
BLOCK_SEP = "\n\n"


def telegram_lang(language_code: str | None, languages: Sequence[str] = ("zh", "en")) -> str:
    """The catalog language for a Telegram `language_code`: `zh-hans` → zh, `en-US` → en, unknown → en.

    No code at all (channels, anonymous admins) reads Chinese, the blog's own language.
    """
    if not language_code:
        return "zh" if "zh" in languages else languages[0]
    base = language_code.split("-", 1)[0].lower()
    if base in languages:
        return base
    return "en" if "en" in languages else languages[0]


@dataclass(frozen=True, slots=True)
class HitView:
    """A search hit as a message shows it: the snippet cut into (text, matched) pieces for bold marks."""

    title: str
    url: str | None
    date: str
    series: str | None
    part: int | None
    pieces: tuple[tuple[str, bool], ...]


def hit_view(hit: SearchHit, link_host: str) -> HitView:
    """The view of one hit; marks outside the snippet or overlapping are clipped, never trusted blindly.

    A post with no excerpt and no text has only its title to cut a snippet from: the title line says it."""
    snippet = hit.snippet if (hit.post.excerpt or hit.post.content) else ""
    pieces: list[tuple[str, bool]] = []
    at = 0
    for start, end in sorted(hit.marks):
        start, end = max(start, at), min(end, len(snippet))
        if start >= end:
            continue
        if start > at:
            pieces.append((snippet[at:start], False))
        pieces.append((snippet[start:end], True))
        at = end
    if at < len(snippet):
        pieces.append((snippet[at:], False))
    series = hit.post.series
    return HitView(
        title=hit.post.title,
        url=hit.post.url(link_host),
        date=hit.post.date.shown(),
        series=None if series is None else series.name,
        part=None if series is None else series.part,
        pieces=tuple(pieces),
    )


class Views:
    """The bot's messages in any catalog language, rendered through the digest renderer's environments."""

    def __init__(self, renderer: Renderer, *, limit: int = TELEGRAM_LIMIT) -> None:
        self.renderer = renderer
        self.translations = renderer.translations
        self.limit = limit
        self._modules: dict[str, Any] = {}

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages with a catalog."""
        return self.translations.languages

    def lang(self, language_code: str | None) -> str:
        """The catalog language for a Telegram language code."""
        return telegram_lang(language_code, self.languages)

    def render(self, lang: str, macro: str, *args: Any) -> str:
        """One macro of the bot's template, rendered in `lang`."""
        module = self._modules.get(lang)
        if module is None:
            template = self.renderer.environment(lang).get_template(TEMPLATE)
            module = self._modules[lang] = template.module
        return str(getattr(module, macro)(*args)).strip()

    def post_block(self, lang: str, item: PostItem, budget: int | None = None) -> str:
        """One post as the digests show it; without its excerpt when that alone would not fit."""
        html = self.render(lang, "post", item)
        if telegram_length(html) > (budget or self.limit):
            html = self.render(lang, "post", dataclasses.replace(item, excerpt=""))
        return html

    def pack(self, blocks: Sequence[str], sep: str = BLOCK_SEP) -> list[str]:
        """Blocks joined into as few messages as fit the limit, split only between blocks."""
        messages: list[str] = []
        current: list[str] = []
        used = 0
        for block in blocks:
            length = telegram_length(block)
            need = length + (len(sep) if current else 0)
            if current and used + need > self.limit:
                messages.append(sep.join(current))
                current, used, need = [], 0, length
            current.append(block)
            used += need
        if current:
            messages.append(sep.join(current))
        return messages
