"""The blog side of kexue-notifier: fetching, parsing and diffing the archive of kexue.fm."""


class ArchiveError(Exception):
    """Root of every error the archive package raises."""


class ParseError(ArchiveError):
    """The bytes are not a page we recognise, or the page is broken."""


class FetchError(ArchiveError):
    """A source could not be fetched; `status` is the HTTP status when the server answered."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
