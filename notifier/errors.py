"""The application's one error tree, and the failures every edge (command line, bot, scheduler) reports in
one line instead of a traceback."""

from __future__ import annotations

import sqlite3

from archive import ArchiveError
from digest import DigestError
from storage import StorageError


class NotifierError(Exception):
    """Root of every error the application core raises."""


class InvalidRequest(NotifierError):
    """A request the service refuses (an empty query, a count out of range); the message says why."""


class UsageError(NotifierError):
    """A user mistake: reported as one line on stderr with exit status 1, never a traceback."""


# What the outside world and our own packages can fail with: the blog (ArchiveError), the database file or
# another process holding it (StorageError, sqlite3.Error), the disk and the network (OSError), a digest
# that cannot be built (DigestError), and the core's refusals (NotifierError: mail, operations, usage).
EXPECTED_FAILURES: tuple[type[BaseException], ...] = (
    NotifierError,
    ArchiveError,
    StorageError,
    DigestError,
    sqlite3.Error,
    OSError,
)
