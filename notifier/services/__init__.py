"""The service layer: what every front end (command line, bot, web) asks of the application, by capability.

`archive` (lookups), `readers` (a Telegram reader's life), `email` (sign-up and signed links), `pages` (the
web digests), `admin` (figures), `blog` (polls and crawls). Each method is one use case in one unit of work,
returns data and never prints; a front end formats it. `Services` holds one of each over one database.
"""

from __future__ import annotations

from collections.abc import Callable

from digest.render import Renderer
from notifier.config import Clock, Config
from notifier.errors import InvalidRequest, NotifierError
from notifier.ingest.crawling import Crawler
from notifier.ingest.polling import Poller
from notifier.mail.confirmations import ConfirmationMails
from notifier.mail.signup import (
    CONFIRMATION_MAILS_PER_DAY,
    SIGNUPS_PER_DAY,
    EmailSignUpResult,
    EmailSignUps,
    EmailSignUpStatus,
)
from notifier.mail.tokens import TokenSigner
from notifier.services.admin import AdminService, MetricsSnapshot, Stats
from notifier.services.archive import (
    MAX_LATEST,
    MAX_OFFSET,
    ArchiveService,
    SeriesDetail,
    SeriesLookup,
    SeriesMatch,
    missing_parts,
)
from notifier.services.blog import BACKFILL_WANTED, BlogService
from notifier.services.email import EmailService, EmailState, EmailView, LinkState
from notifier.services.pages import PAGE_SPAN_DAYS, PagesService
from notifier.services.readers import ReadersService, ReaderState, StartResult, SubscriptionChange
from storage.db import Database

__all__ = [
    "BACKFILL_WANTED",
    "CONFIRMATION_MAILS_PER_DAY",
    "MAX_LATEST",
    "MAX_OFFSET",
    "PAGE_SPAN_DAYS",
    "SIGNUPS_PER_DAY",
    "AdminService",
    "ArchiveService",
    "BlogService",
    "EmailService",
    "EmailSignUpResult",
    "EmailSignUpStatus",
    "EmailState",
    "EmailView",
    "InvalidRequest",
    "LinkState",
    "MetricsSnapshot",
    "NotifierError",
    "PagesService",
    "ReaderState",
    "ReadersService",
    "SeriesDetail",
    "SeriesLookup",
    "SeriesMatch",
    "Services",
    "StartResult",
    "Stats",
    "SubscriptionChange",
    "missing_parts",
]


class Services:
    """One service of each capability over one database, one clock and the configured sources."""

    def __init__(
        self,
        *,
        config: Config,
        db: Database,
        clock: Clock,
        poller: Callable[[], Poller],
        crawler: Callable[[Callable[[str], None] | None], Crawler],
        renderer: Callable[[], Renderer] | None = None,
    ) -> None:
        self.config = config
        self.db = db
        self.clock = clock
        self._renderer = renderer
        self._own_renderer: Renderer | None = None
        self.archive = ArchiveService(config=config, db=db)
        self.readers = ReadersService(config=config, db=db, clock=clock, archive=self.archive)
        self.email = EmailService(config=config, db=db, clock=clock, renderer=lambda: self.renderer)
        self.pages = PagesService(config=config, db=db, clock=clock)
        self.admin = AdminService(config=config, db=db, clock=clock)
        self.blog = BlogService(config=config, db=db, clock=clock, poller=poller, crawler=crawler)

    @property
    def renderer(self) -> Renderer:
        """The renderer of the application (or one of this layer's own, made on first use)."""
        if self._renderer is not None:
            return self._renderer()
        if self._own_renderer is None:
            self._own_renderer = Renderer()
        return self._own_renderer

    async def signer(self) -> TokenSigner:
        """The signer of the links in mails: SECRET_KEY, else a key kept in the database."""
        return await self.email.signer()

    @property
    def confirmations(self) -> ConfirmationMails:
        """The queue of confirmation mails, sent after the sign-up's answer."""
        return self.email.confirmations

    @property
    def signups(self) -> EmailSignUps:
        """The double opt-in of the weekly email."""
        return self.email.signups
