"""/series: every series as buttons; /series <name> (any spelling, a prefix, a button): its parts."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.callbacks import SeriesFollow, SeriesIndexPage, SeriesShow
from bot.common import ECHO_CHARS, edit_in_place, keyboard, label, pressed_in
from bot.middlewares import CHANGES_CHAT
from bot.views import Views
from notifier.services import InvalidRequest, SeriesDetail, SeriesLookup, SeriesMatch, Services

log = logging.getLogger(__name__)

PAGE = 10


@dataclass(frozen=True, slots=True)
class PartView:
    """One part of a series as its list shows it."""

    part: int
    title: str
    url: str | None
    date: str


async def index_page(
    services: Services, views: Views, lang: str, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of the series index: the text and a button per series, with previous / next."""
    summaries = await services.archive.series_index()
    if not summaries:
        return views.render(lang, "series_empty"), None
    pages = math.ceil(len(summaries) / PAGE)
    page = min(page, pages - 1)
    shown = summaries[page * PAGE : (page + 1) * PAGE]
    refs = await services.archive.series_refs()
    rows = [[(s.name, SeriesShow(series_id=refs[s.key].id).pack())] for s in shown if s.key in refs]
    t = views.translations
    nav: list[tuple[str, str]] = []
    if page > 0:
        nav.append((t.gettext(lang, "◂ Previous"), SeriesIndexPage(page=page - 1).pack()))
    if page + 1 < pages:
        nav.append((t.gettext(lang, "Next ▸"), SeriesIndexPage(page=page + 1).pack()))
    rows.append(nav)
    return views.render(lang, "series_index", shown, page, pages), keyboard(rows)


async def send_detail(
    message: Message, detail: SeriesDetail, services: Services, views: Views, lang: str
) -> None:
    """The parts of one series in order with links, gaps noted, and a button to follow it."""
    host = services.config.link_host
    blocks = [views.render(lang, "series_title", detail.summary.name, detail.summary.parts)]
    for stored in detail.posts:
        post = stored.post
        part = post.series.part if post.series is not None else 0
        blocks.append(
            views.render(lang, "series_part", PartView(part, post.title, post.url(host), post.date.shown()))
        )
    if detail.missing:
        blocks.append(views.render(lang, "series_missing", detail.missing))
    refs = await services.archive.series_refs()
    ref = refs.get(detail.summary.key)
    t = views.translations
    follow = (
        [(t.gettext(lang, "Follow this series"), SeriesFollow(series_id=ref.id).pack())]
        if ref is not None
        else []
    )
    messages = views.pack(blocks, sep="\n")
    for index, text in enumerate(messages):
        last = index == len(messages) - 1
        await message.answer(text, reply_markup=keyboard([follow]) if last else None)


async def answer_lookup(
    message: Message, name: str, lookup: SeriesLookup, services: Services, views: Views, lang: str
) -> None:
    """Answer a typed series name: its parts, the candidates to choose from, or that none matches."""
    name = label(name, ECHO_CHARS)
    if lookup.match is SeriesMatch.FOUND and lookup.detail is not None:
        await send_detail(message, lookup.detail, services, views, lang)
    elif lookup.match is SeriesMatch.AMBIGUOUS:
        refs = await services.archive.series_refs()
        shown = lookup.candidates[:PAGE]
        rows = [[(s.name, SeriesShow(series_id=refs[s.key].id).pack())] for s in shown if s.key in refs]
        await message.answer(views.render(lang, "series_ambiguous", name, shown), reply_markup=keyboard(rows))
    elif lookup.suggestions:
        refs = await services.archive.series_refs()
        shown = lookup.suggestions
        rows = [[(s.name, SeriesShow(series_id=refs[s.key].id).pack())] for s in shown if s.key in refs]
        await message.answer(views.render(lang, "series_not_found", name, shown), reply_markup=keyboard(rows))
    else:
        await message.answer(views.render(lang, "series_not_found", name))


async def series(
    message: Message, command: CommandObject, services: Services, views: Views, lang: str
) -> None:
    """Every series, or one by name."""
    name = (command.args or "").strip()
    if not name:
        text, markup = await index_page(services, views, lang, 0)
        await message.answer(text, reply_markup=markup)
        return
    try:
        lookup = await services.archive.find_series(name)
    except InvalidRequest:
        # A name of punctuation or invisible characters only (`/series -`) names no series.
        lookup = SeriesLookup(SeriesMatch.NOT_FOUND)
    await answer_lookup(message, name, lookup, services, views, lang)


async def turn_page(
    query: CallbackQuery, callback_data: SeriesIndexPage, services: Services, views: Views, lang: str
) -> None:
    """Previous / next page of the index, in place."""
    message = pressed_in(query)
    await query.answer()
    if message is None:
        return
    text, markup = await index_page(services, views, lang, callback_data.page)
    await edit_in_place(message, text, markup)


async def show(
    query: CallbackQuery, callback_data: SeriesShow, services: Services, views: Views, lang: str
) -> None:
    """A series' button: its parts."""
    message = pressed_in(query)
    lookup = await services.archive.series_by_id(callback_data.series_id)
    await query.answer()
    if message is None:
        return
    if lookup.detail is None:
        await message.answer(views.render(lang, "series_not_found", "#" + str(callback_data.series_id)))
        return
    await send_detail(message, lookup.detail, services, views, lang)


async def follow(
    query: CallbackQuery, callback_data: SeriesFollow, services: Services, views: Views, lang: str
) -> None:
    """The follow button under a series: follow it in this chat."""
    message = pressed_in(query)
    lookup = await services.archive.series_by_id(callback_data.series_id)
    if message is None or lookup.detail is None:
        await query.answer(
            views.translations.gettext(lang, "This button no longer works; please send the command again.")
        )
        return
    name = lookup.detail.summary.name
    change = await services.readers.subscribe(message.chat.id, name, chat_type=message.chat.type, lang=lang)
    value = change.change.value if change.change is not None else "already"
    await query.answer()
    await message.answer(views.render(lang, "subscription", "subscribe", value, name))


def make_router() -> Router:
    """A fresh router with this module's handlers (a router belongs to one dispatcher)."""
    router = Router(name="series")
    router.message.register(series, Command("series"))
    router.callback_query.register(turn_page, SeriesIndexPage.filter())
    router.callback_query.register(show, SeriesShow.filter())
    router.callback_query.register(follow, SeriesFollow.filter(), flags=CHANGES_CHAT)
    return router
