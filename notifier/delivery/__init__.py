"""Delivery to Telegram, cut along its seams: pacing, the outbox worker, outcomes, composing."""

from notifier.delivery.composing import Composed, Composer, Outgoing, chat_id_of
from notifier.delivery.outcomes import RetryPolicy, backoff, next_state
from notifier.delivery.pacing import ChatLimits, ChatPacer, TokenBucket
from notifier.delivery.worker import SENDER_LEASE, Sender

__all__ = [
    "SENDER_LEASE",
    "ChatLimits",
    "ChatPacer",
    "Composed",
    "Composer",
    "Outgoing",
    "RetryPolicy",
    "Sender",
    "TokenBucket",
    "backoff",
    "chat_id_of",
    "next_state",
]
