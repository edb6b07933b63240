"""The store: one SQLite file behind small typed interfaces; the only package that speaks SQL."""


class StorageError(Exception):
    """Root of every error the storage package raises."""
