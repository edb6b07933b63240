"""The Telegram bot: aiogram routers (one per command), middlewares, rich math messages, and the runner."""


class BotError(Exception):
    """Root of every error the bot package raises."""
