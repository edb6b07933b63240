"""The digest builder: what a reader is told about new posts, rendered once for Telegram and for email."""


class DigestError(Exception):
    """Root of every error the digest package raises."""
