"""How formulas reach a reader: native math (rich messages) or readable text (HTML), the reader's choice.

Two kinds of buttons carry `FormulaButton` data (bot/formula_buttons.py): the two of /settings (the settings
message is drawn again in place), and the one-tap "Formulas look wrong?" under the first rich message a
reader receives, which switches the reader to text and sends that message again as text. Some clients draw
rich messages badly (Telegram Web says "not supported", some desktop apps overlap Chinese glyphs or show an
empty bubble), and a reader who sees that needs one tap, not a trip to /settings.
"""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.types import CallbackQuery

from bot.callbacks import MAX_OFFSET
from bot.common import edit_in_place, pressed_in
from bot.formula_buttons import AGAIN_LATEST, AGAIN_POST, AGAIN_SETTINGS, FormulaButton, without_switch
from bot.latest import MAX_COUNT, latest_page
from bot.middlewares import CHANGES_CHAT
from bot.settings import reader_of, settings_message
from bot.views import Views
from digest.render import Renderer
from notifier.services import Services
from notifier.services.choices import Choices
from notifier.services.formulas import FormulaChoice
from storage.formula_prefs import FORMULA_DISPLAYS

log = logging.getLogger(__name__)


async def choose(
    query: CallbackQuery,
    callback_data: FormulaButton,
    bot: Bot,
    services: Services,
    views: Views,
    formulas: FormulaChoice,
    choices: Choices,
    renderer: Renderer,
    lang: str,
) -> None:
    """A formula button: keep the choice, then show the settings again or send the message again as text."""
    message = pressed_in(query)
    t = views.translations
    forged = callback_data.again == AGAIN_LATEST and not (
        0 <= callback_data.a <= MAX_OFFSET and 1 <= callback_data.b <= MAX_COUNT
    )
    if message is None or callback_data.to not in FORMULA_DISPLAYS or forged:
        await query.answer(t.gettext(lang, "This button no longer works; please send the command again."))
        return
    chat_id = message.chat.id
    reader = await reader_of(services, message.chat)
    if reader is None:
        # Choosing how formulas look is something to keep: the chat starts here (a reader of /latest may
        # never have sent /start).
        started = await services.readers.start(chat_id, chat_type=message.chat.type, lang=lang)
        reader = started.started.subscriber
    reader_lang = reader.lang
    await formulas.choose(chat_id, "text" if callback_data.to == "text" else "native")
    if callback_data.again == AGAIN_SETTINGS:
        await query.answer()
        text, markup = await settings_message(services, views, reader, choices, formulas)
        await edit_in_place(message, text, markup)
        return
    await query.answer(t.gettext(lang, "Formulas now come as readable text; /settings switches back."))
    # The rich message keeps its button (an edit could only say what the answer already says); the copy sent
    # as text keeps the message's other buttons.
    kept = without_switch(message.reply_markup)
    if callback_data.again == AGAIN_LATEST:
        page = await latest_page(services, views, reader_lang, callback_data.a, callback_data.b)
        if page is not None:
            last = len(page.html) - 1
            for index, html in enumerate(page.html):
                await bot.send_message(chat_id, html, reply_markup=kept if index == last else None)
    elif callback_data.again == AGAIN_POST:
        stored = await services.archive.post_by_key(callback_data.a)
        if stored is not None:
            (item,) = await services.archive.post_items([stored])
            await bot.send_message(chat_id, renderer.telegram_post(item, reader_lang), reply_markup=kept)
    log.info("chat %d: switched to formulas as text from a rich message", chat_id)


def make_router() -> Router:
    """A fresh router with this module's handler (a router belongs to one dispatcher)."""
    router = Router(name="formulas")
    router.callback_query.register(choose, FormulaButton.filter(), flags=CHANGES_CHAT)
    return router
