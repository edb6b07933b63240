"""The bot's `/email`: `/email you@example.com` signs up for the weekly email (double opt-in), `/email` alone
shows where it stands, `/email off` stops it.

`bot.app.build_dispatcher` includes `make_router()`; the handlers take the service layer
from the dispatcher's workflow data (`dp["services"] = app.services`, or `start_polling(bot, services=...)`).
Only in private chats: an address is a person's, and a group would show it to everyone.
"""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from notifier.services import EmailSignUpStatus, Services

log = logging.getLogger(__name__)


async def _lang(services: Services, message: Message) -> str:
    """The reader's stored language, else the one Telegram suggests, else zh."""
    state = await services.readers.reader(message.chat.id)
    if state.subscriber is not None:
        return state.subscriber.lang
    code = (message.from_user.language_code or "") if message.from_user else ""
    return "en" if code.startswith("en") else "zh"


async def _state_text(services: Services, chat_id: int, lang: str) -> str:
    translations = services.renderer.translations
    state = await services.email.state(chat_id)
    if not state.addresses:
        return translations.gettext(lang, "No email address is signed up from this chat.")
    lines = [translations.gettext(lang, "Email addresses signed up from this chat:")]
    for view in state.addresses:
        if view.status == "confirmed":
            lines.append(translations.gettext(lang, "%(address)s: confirmed", address=view.masked))
        elif view.status == "bounced":
            lines.append(
                translations.gettext(lang, "%(address)s: mail bounced, no longer sent", address=view.masked)
            )
        else:
            lines.append(
                translations.gettext(lang, "%(address)s: waiting for confirmation", address=view.masked)
            )
    return "\n".join(lines)


async def _sign_up_text(services: Services, address: str, lang: str, user_id: int) -> str:
    translations = services.renderer.translations
    result = await services.email.sign_up(address, lang, telegram_user=user_id)
    if result.status is EmailSignUpStatus.ACCEPTED:
        return translations.gettext(
            lang,
            "If this address can receive mail, a confirmation link is on its way: open it to start the "
            "weekly email.",
        )
    if result.status is EmailSignUpStatus.INVALID:
        return translations.gettext(lang, "That does not look like an email address. Please check it.")
    if result.status is EmailSignUpStatus.LIMITED:
        return translations.gettext(lang, "Too many sign-ups from here today. Please try again tomorrow.")
    if result.status is EmailSignUpStatus.EMAIL_OFF:
        return translations.gettext(lang, "This service sends no email at the moment.")
    return translations.gettext(lang, "The confirmation mail could not be sent just now. Please try later.")


async def email_command(message: Message, command: CommandObject, services: Services) -> None:
    """`/email`, `/email off`, `/email <address>` in a private chat."""
    lang = await _lang(services, message)
    translations = services.renderer.translations
    argument = (command.args or "").strip()
    if not argument:
        text = await _state_text(services, message.chat.id, lang)
        usage = translations.gettext(
            lang,
            "Usage: /email you@example.com to get the weekly email, /email off to stop it, /email alone to "
            "see where it stands.",
        )
        await message.answer(f"{text}\n\n{usage}", parse_mode=None)
    elif argument.lower() == "off":
        count = await services.email.off(message.chat.id)
        if count:
            text = translations.ngettext(
                lang,
                "The weekly email is stopped for %(count)s address.",
                "The weekly email is stopped for %(count)s addresses.",
                count,
                count=count,
            )
        else:
            text = translations.gettext(lang, "No email address was receiving the weekly email.")
        await message.answer(text, parse_mode=None)
    else:
        user_id = message.from_user.id if message.from_user else message.chat.id
        await message.answer(await _sign_up_text(services, argument, lang, user_id), parse_mode=None)


async def email_elsewhere(message: Message, services: Services) -> None:
    """`/email` in a group or channel: only in a private chat."""
    lang = await _lang(services, message)
    text = services.renderer.translations.gettext(lang, "Please use /email in a private chat with the bot.")
    await message.answer(text, parse_mode=None)


def make_router() -> Router:
    """A fresh router with the /email handlers (one per dispatcher: aiogram attaches a router once)."""
    router = Router(name="email")
    router.message.register(email_command, Command("email"), F.chat.type == "private")
    router.message.register(email_elsewhere, Command("email"))
    return router
