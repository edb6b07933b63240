"""Named leases in the database: one process at a time does a job (sending, long-polling Telegram).

A holder acquires a lease for `ttl` seconds and renews it (acquire again) well before it expires; another
process takes it over only once it has expired, so a holder killed with -9 is replaced within `ttl`. Times
are Unix seconds from the wall clock, which every process on the machine shares. The caller owns the
transaction, like every store.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import aiosqlite

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Lease:
    """Who holds a lease and until when (Unix seconds)."""

    name: str
    holder: str
    expires_at: float


class LeaseStore:
    """The `leases` table on one connection."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def acquire(self, name: str, holder: str, *, now: float, ttl: float) -> bool:
        """Take or renew `name` for `holder` until now + ttl; False while another holder's lease runs."""
        cursor = await self.conn.execute(
            "INSERT INTO leases (name, holder, expires_at) VALUES (:name, :holder, :expires) "
            "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
            "WHERE leases.holder = excluded.holder OR leases.expires_at <= :now",
            {"name": name, "holder": holder, "expires": now + ttl, "now": now},
        )
        taken = cursor.rowcount > 0
        await cursor.close()
        return taken

    async def take_over(self, name: str, old_holder: str, holder: str, *, now: float, ttl: float) -> bool:
        """Take `name` from `old_holder` (known to be dead) before its lease expires; False if it moved on."""
        cursor = await self.conn.execute(
            "UPDATE leases SET holder = ?, expires_at = ? WHERE name = ? AND holder = ?",
            (holder, now + ttl, name, old_holder),
        )
        taken = cursor.rowcount > 0
        await cursor.close()
        return taken

    async def release(self, name: str, holder: str) -> bool:
        """Give `name` up if `holder` still holds it, so another process may take it at once."""
        cursor = await self.conn.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))
        released = cursor.rowcount > 0
        await cursor.close()
        return released

    async def get(self, name: str) -> Lease | None:
        """The lease row, expired or not."""
        async with self.conn.execute(
            "SELECT name, holder, expires_at FROM leases WHERE name = ?", (name,)
        ) as c:
            row = await c.fetchone()
        return None if row is None else Lease(str(row[0]), str(row[1]), float(row[2]))
