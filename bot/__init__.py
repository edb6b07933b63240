"""Telegram bot: routers and the sender (later issues)."""
