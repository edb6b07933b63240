"""The unit of work: one transaction and every store inside it; and the same stores for reading.

async with unit_of_work(db) as uow:      # BEGIN IMMEDIATE … COMMIT (ROLLBACK on any exception)
    stored = await uow.posts.insert(post, now)
    await uow.polls.claim(stored.pk, poll_id, now)

reads = Stores(db.conn)                   # committed data only; never inside another's transaction
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiosqlite

from storage.confirmations import ConfirmationQueue
from storage.counters import CounterStore
from storage.db import Database
from storage.deliveries import DeliveryStore
from storage.emails import EmailStore
from storage.formula_prefs import FormulaPrefStore
from storage.leases import LeaseStore
from storage.mail_ledger import MailLedger
from storage.meta import MetaStore
from storage.pauses import PauseStore
from storage.polls import PollStore
from storage.posts import PostStore
from storage.preferences import PreferenceStore
from storage.sources import SourceStore
from storage.stats import StatsStore
from storage.subscribers import SubscriberStore
from storage.watches import WatchStore


class Stores:
    """Every store, bound to one connection."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self.posts = PostStore(conn)
        self.polls = PollStore(conn)
        self.sources = SourceStore(conn)
        self.meta = MetaStore(conn)
        self.subscribers = SubscriberStore(conn)
        self.emails = EmailStore(conn)
        self.deliveries = DeliveryStore(conn)
        self.leases = LeaseStore(conn)
        self.stats = StatsStore(conn)
        self.mail_ledger = MailLedger(conn)
        self.counters = CounterStore(conn)
        self.confirmations = ConfirmationQueue(conn)
        self.watches = WatchStore(conn)
        self.pauses = PauseStore(conn)
        self.preferences = PreferenceStore(conn)
        self.formula_prefs = FormulaPrefStore(conn)


@asynccontextmanager
async def unit_of_work(db: Database) -> AsyncIterator[Stores]:
    """One write transaction with the stores on it; concurrent units of work run one after another."""
    async with db.transaction() as conn:
        yield Stores(conn)


def read_stores(db: Database) -> Stores:
    """The stores on the read-only connection: committed data only, no transaction of their own."""
    return Stores(db.conn)
