"""Operations: backing up the live database and checking a deployment (`doctor`); data only, no printing."""

from __future__ import annotations

import logging
from pathlib import Path

from storage import maintenance
from storage.maintenance import DatabaseSummary

log = logging.getLogger(__name__)


class OpsError(Exception):
    """An operation the configuration makes impossible; reported as one line."""


async def backup(db_path: str, target: str | Path, *, force: bool = False) -> DatabaseSummary:
    """A consistent copy of the database at `db_path` written to `target` (replacing a file if `force`)."""
    if db_path == ":memory:":
        raise OpsError("KEXUE_DB is :memory:, which lives only inside one process: nothing to back up")
    return await maintenance.backup(db_path, target, overwrite=force)
