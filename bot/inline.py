"""Inline mode: `@bot words` in any chat offers search results as articles posting a link and excerpt."""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.types import (
    InlineQuery,
    InlineQueryResultArticle,
    InlineQueryResultUnion,
    InputTextMessageContent,
)

from bot.callbacks import MAX_OFFSET
from bot.views import Views
from notifier.services import InvalidRequest, Services

log = logging.getLogger(__name__)

PAGE = 10
DESCRIPTION_CHARS = 120


def parse_offset(offset: str) -> int:
    """The inline offset we gave as `next_offset` (a number); anything else starts at 0."""
    if offset.isascii() and offset.isdigit() and len(offset) <= 6:
        return min(int(offset), MAX_OFFSET)
    return 0


async def inline(query: InlineQuery, services: Services, views: Views, lang: str) -> None:
    """Search results as articles; an empty query offers the newest posts."""
    words = query.query.strip()
    offset = parse_offset(query.offset)
    snippets: list[str]
    try:
        if words:
            hits = await services.archive.search(words, limit=PAGE + 1, offset=offset)
            more = len(hits) > PAGE
            items = services.archive.hit_items(hits[:PAGE])
            snippets = [hit.snippet for hit in hits[:PAGE]]
        else:
            stored = await services.archive.latest(PAGE + 1, offset)
            more = len(stored) > PAGE
            items = await services.archive.post_items(stored[:PAGE])
            snippets = [item.excerpt for item in items]
    except InvalidRequest as exc:
        log.info("inline query from user %d refused: %s", query.from_user.id, exc)
        await query.answer([], cache_time=5, is_personal=False)
        return
    results: list[InlineQueryResultUnion] = [
        InlineQueryResultArticle(
            id=f"{offset + index}-{item.key}",
            title=item.title,
            description=" · ".join(part for part in (item.date, snippet) if part)[:DESCRIPTION_CHARS],
            url=item.url,
            input_message_content=InputTextMessageContent(
                message_text=views.post_block(lang, item), parse_mode="HTML", link_preview_options=None
            ),
        )
        for index, (item, snippet) in enumerate(zip(items, snippets, strict=True))
    ]
    next_offset = str(offset + PAGE) if more and offset + PAGE <= MAX_OFFSET else ""
    await query.answer(results, cache_time=30, is_personal=False, next_offset=next_offset)


def make_router() -> Router:
    """A fresh router with this module's handlers (a router belongs to one dispatcher)."""
    router = Router(name="inline")
    router.inline_query.register(inline)
    return router
