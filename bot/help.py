"""/help: every command with one line each."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.common import commands
from bot.views import Views
from notifier.config import TelegramConfig
from notifier.ingest.watching import watch_macros


async def help_command(message: Message, bot: Bot, views: Views, lang: str, config: TelegramConfig) -> None:
    """List the commands (admins see /stats too)."""
    admin = message.from_user is not None and message.from_user.id in config.admin_ids
    me = await bot.me()
    listed = commands(views.translations, lang, admin=admin)
    query_language = str(watch_macros(views.renderer, lang).query_language()).strip()
    await message.answer(views.render(lang, "help", listed, me.username or "") + "\n\n" + query_language)


def make_router() -> Router:
    """A fresh router with this module's handlers (a router belongs to one dispatcher)."""
    router = Router(name="help")
    router.message.register(help_command, Command("help"))
    return router
