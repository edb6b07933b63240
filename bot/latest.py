"""/latest [n]: the n newest posts (default 5, at most 20) as the digests show them; "more" pages back."""

from __future__ import annotations

import dataclasses
import logging
import weakref

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot.callbacks import MAX_OFFSET, LatestMore
from bot.common import keyboard, pressed_in
from bot.formula_buttons import AGAIN_LATEST, switch_button
from bot.views import Views
from digest.rich import excerpt_slot, fill_slots, rich_excerpt
from notifier.services import Services
from notifier.shared import Shared
from notifier.telegram import RichMessage, Telegram

log = logging.getLogger(__name__)

DEFAULT_COUNT = 5
MAX_COUNT = 20


def parse_count(args: str | None) -> int | None:
    """The count of `/latest n`: default 5; None when it is not a number from 1 to 20 (`0` and `999` are
    refused like `-5` and `abc`, never changed behind the reader's back)."""
    words = (args or "").split()
    if not words:
        return DEFAULT_COUNT
    if len(words) > 1 or not words[0].isascii() or not words[0].isdigit() or len(words[0]) > 3:
        return None
    count = int(words[0])
    return count if 1 <= count <= MAX_COUNT else None


# A crowd asking /latest at once after a notification gets one page built, shared for two seconds.
_pages: weakref.WeakKeyDictionary[Services, Shared[RichMessage | None]] = weakref.WeakKeyDictionary()


async def latest_page(
    services: Services, views: Views, lang: str, offset: int, count: int
) -> RichMessage | None:
    """A page of posts in both forms, with whether an older page exists; None when there is nothing."""
    pages = _pages.get(services)
    if pages is None:
        pages = _pages[services] = Shared(ttl=2.0)
    return await pages.get(
        (id(views), lang, offset, count), lambda: _build_page(services, views, lang, offset, count)
    )


async def _build_page(
    services: Services, views: Views, lang: str, offset: int, count: int
) -> RichMessage | None:
    stored = await services.archive.latest(count, offset)
    if not stored:
        return None
    items = await services.archive.post_items(stored)
    header = views.render(lang, "latest_header", offset)
    html = views.pack([header, *(views.post_block(lang, item) for item in items)])
    excerpts: list[str] = []
    blocks = [header]
    for item, post in zip(items, stored, strict=True):
        rich = rich_excerpt(post.post.excerpt, item.excerpt) if item.excerpt else None
        if rich is not None:
            excerpts.append(rich)
            item = dataclasses.replace(item, excerpt=excerpt_slot(len(excerpts) - 1))
        blocks.append(views.render(lang, "post", item))
    rich_html = fill_slots("\n\n".join(blocks), excerpts) if excerpts else None
    switch = switch_button(views.translations, lang, AGAIN_LATEST, offset, count)
    return RichMessage(tuple(html), rich_html, switch)


async def send_latest(
    bot: Bot,
    chat_id: int,
    services: Services,
    views: Views,
    rich: Telegram,
    lang: str,
    offset: int,
    count: int,
) -> None:
    """Send one page of /latest to `chat_id`, with a "more" button when older posts exist."""
    page = await latest_page(services, views, lang, offset, count)
    if page is None:
        await bot.send_message(chat_id, views.render(lang, "no_more_posts" if offset else "no_posts"))
        return
    following = offset + count
    older = following <= MAX_OFFSET and bool(await services.archive.latest(1, following))
    t = views.translations
    more = [(t.gettext(lang, "More ▸"), LatestMore(offset=following, count=count).pack())] if older else []
    await rich.send(chat_id, page, keyboard([more]), bot=bot)


async def latest(
    message: Message,
    command: CommandObject,
    bot: Bot,
    services: Services,
    views: Views,
    rich: Telegram,
    lang: str,
) -> None:
    """The newest posts."""
    count = parse_count(command.args)
    if count is None:
        reason = views.translations.gettext(lang, "the count must be a number from 1 to 20")
        await message.answer(views.render(lang, "refused", reason))
        return
    await send_latest(bot, message.chat.id, services, views, rich, lang, 0, count)


async def more(
    query: CallbackQuery,
    callback_data: LatestMore,
    bot: Bot,
    services: Services,
    views: Views,
    rich: Telegram,
    lang: str,
) -> None:
    """The "more" button: the next older page, as a new message."""
    message = pressed_in(query)
    await query.answer()
    if message is None:
        return
    await send_latest(
        bot, message.chat.id, services, views, rich, lang, callback_data.offset, callback_data.count
    )


def make_router() -> Router:
    """A fresh router with this module's handlers (a router belongs to one dispatcher)."""
    router = Router(name="latest")
    router.message.register(latest, Command("latest"))
    router.callback_query.register(more, LatestMore.filter())
    return router
