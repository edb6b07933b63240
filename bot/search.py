"""/search <words>: the best matches, matched words in bold, 5 a page with previous / next buttons.

A private message that is not a command is searched too (fallback.py sends it here).
"""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.callbacks import SearchMemory, SearchPage
from bot.common import edit_in_place, keyboard, pressed_in
from bot.views import Views, hit_view
from notifier.services import InvalidRequest, Services
from storage.search import MAX_QUERY_CHARS

log = logging.getLogger(__name__)

PAGE = 5


async def search_page(
    services: Services, views: Views, lang: str, query: str, query_id: str, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of results as a message and its previous / next buttons."""
    try:
        hits = await services.archive.search(query, limit=PAGE + 1, offset=page * PAGE)
    except InvalidRequest as exc:
        return views.render(lang, "refused", str(exc)), None
    if not hits:
        macro = "search_no_more" if page else "search_nothing"
        return views.render(lang, macro, query), None
    link_host = services.config.link_host
    blocks = [views.render(lang, "search_header", query, page)]
    blocks += [views.render(lang, "search_hit", hit_view(hit, link_host)) for hit in hits[:PAGE]]
    text = views.pack(blocks)[0]
    t = views.translations
    row: list[tuple[str, str]] = []
    if page > 0:
        row.append((t.gettext(lang, "◂ Previous"), SearchPage(query_id=query_id, page=page - 1).pack()))
    if len(hits) > PAGE:
        row.append((t.gettext(lang, "Next ▸"), SearchPage(query_id=query_id, page=page + 1).pack()))
    return text, keyboard([row])


async def answer_search(
    message: Message, query: str, services: Services, views: Views, searches: SearchMemory, lang: str
) -> None:
    """Answer `query` with its first page (or a usage line when it is empty)."""
    if not query.strip():
        await message.answer(views.render(lang, "search_usage"))
        return
    # A pasted paragraph is searched (and quoted back) by its start, as the service searches it.
    query = query[:MAX_QUERY_CHARS]
    text, markup = await search_page(services, views, lang, query, searches.remember(query), 0)
    await message.answer(text, reply_markup=markup)


async def search(
    message: Message,
    command: CommandObject,
    services: Services,
    views: Views,
    searches: SearchMemory,
    lang: str,
) -> None:
    """Search the archive."""
    await answer_search(message, (command.args or "").strip(), services, views, searches, lang)


async def turn_page(
    query: CallbackQuery,
    callback_data: SearchPage,
    services: Services,
    views: Views,
    searches: SearchMemory,
    lang: str,
) -> None:
    """Previous / next: the same message shows another page."""
    message = pressed_in(query)
    words = searches.recall(callback_data.query_id)
    if message is None or words is None:
        await query.answer(views.translations.gettext(lang, "This search has expired; please send it again."))
        return
    text, markup = await search_page(services, views, lang, words, callback_data.query_id, callback_data.page)
    await query.answer()
    await edit_in_place(message, text, markup)


def make_router() -> Router:
    """A fresh router with this module's handlers (a router belongs to one dispatcher)."""
    router = Router(name="search")
    router.message.register(search, Command("search"))
    router.callback_query.register(turn_page, SearchPage.filter())
    return router
