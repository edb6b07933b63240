"""The end of a reader's pause: what was published meanwhile goes out as one digest, once.

Driven by the database (`paused_since`, `paused_until`), from the digest job that runs every minute: a
pause that ended while the service was down is finished at start-up, and the digest is a delivery row keyed
`pause:<start of the pause>`, queued in the transaction that clears the pause, so it is neither lost nor
sent twice. An instant reader gets the posts they follow or watch as one burst digest; a daily or weekly
reader's next digest (due at once when one fell due during the pause) covers the pause by itself.
"""

from __future__ import annotations

import logging
from datetime import datetime

from storage.db import Database
from storage.posts import iso
from storage.uow import read_stores, unit_of_work

log = logging.getLogger(__name__)

BATCH = 200


async def end_pauses(db: Database, now: datetime, *, batch: int = BATCH) -> int:
    """Finish every pause that has ended by `now`; how many digests were queued."""
    queued = 0
    while True:
        ended = await read_stores(db).pauses.ended(now, batch)
        if not ended:
            break
        async with unit_of_work(db) as uow:
            for reader in ended:
                since = reader.paused_since or now
                if reader.mode == "instant" and reader.reachable:
                    missed = await uow.pauses.missed(reader.id, since, now)
                    if missed:
                        queued += await uow.deliveries.enqueue(
                            str(reader.chat_id),
                            f"pause:{iso(since)}",
                            "burst",
                            now,
                            payload=",".join(str(pk) for pk in missed),
                        )
                await uow.pauses.finish(reader.id)
                log.info("pause of chat %d ended", reader.chat_id)
        if len(ended) < batch:
            break
    return queued
