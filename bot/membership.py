"""The bot's own membership in a chat: a reader who blocks the bot (or removes it from a group) stops getting
messages at once, instead of after the next send fails. Only `/start` reactivates: adding the bot back to a
group does not on its own, so a group that removed it is never messaged again until an admin asks."""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.filters import IS_NOT_MEMBER, ChatMemberUpdatedFilter
from aiogram.types import ChatMemberUpdated

from notifier.services import Services

log = logging.getLogger(__name__)


async def left_chat(event: ChatMemberUpdated, services: Services) -> None:
    """Blocked in a private chat, or removed from a group or channel: stop sending there."""
    if await services.readers.block(event.chat.id):
        log.info("chat %d: the bot was blocked or removed; the reader is inactive", event.chat.id)


def make_router() -> Router:
    """A fresh router for my_chat_member updates."""
    router = Router(name="membership")
    # Kicked, left, or restricted and no longer a member: a group can remove the bot while restricting it.
    router.my_chat_member.register(left_chat, ChatMemberUpdatedFilter(member_status_changed=IS_NOT_MEMBER))
    return router
