"""The service layer: what every front end (command line, bot, web) asks of the application.

Each method returns data and never prints; a front end formats it. Writes run in one unit of work each.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import Enum
from typing import Literal

from archive.identity import series_lookup_key as lookup_key
from digest.model import Digest, PostItem, build_item
from digest.render import Renderer
from digest.selection import DigestBuilder
from notifier.config import Clock, Config
from notifier.confirmations import ConfirmationMails
from notifier.crawling import Crawler, CrawlReport

# Re-exported: the front ends and their tests name these as the service layer's.
from notifier.email_signup import CONFIRMATION_MAILS_PER_DAY as CONFIRMATION_MAILS_PER_DAY
from notifier.email_signup import SIGNUPS_PER_DAY as SIGNUPS_PER_DAY
from notifier.email_signup import EmailSignUpResult as EmailSignUpResult
from notifier.email_signup import EmailSignUps
from notifier.email_signup import EmailSignUpStatus as EmailSignUpStatus
from notifier.mailer import mask_address
from notifier.polling import Poller, PollReport
from notifier.tokens import CONFIRM_TTL, TokenClaims, TokenSigner, signer_for
from notifier.weekly import week_monday
from storage.db import Database
from storage.emails import EmailAddress
from storage.posts import SeriesSummary, StoredPost
from storage.search import MAX_LIMIT, QueryTooLongError, SearchHit, search
from storage.sources import SourceState
from storage.stats import DeliveryCounts, LastPoll
from storage.subscribers import (
    FollowChange,
    Follows,
    Mode,
    SeriesRef,
    Started,
    Subscriber,
    SubscriberCounts,
)
from storage.uow import read_stores, unit_of_work

log = logging.getLogger(__name__)

MAX_LATEST = 100
# Abuse limits of the weekly email (issue 11), per day: confirmation mails to one address; sign-ups started
# by one Telegram user or from one IP address.
MAX_OFFSET = 10_000
BACKFILL_WANTED = "backfill_wanted"
# The longest span a browser digest page shows: a weekly email covers about a week, a late one a few.
PAGE_SPAN_DAYS = 31


class NotifierError(Exception):
    """Root of every error the application raises."""


class InvalidRequest(NotifierError):
    """A request the service refuses (an empty query, a count out of range); the message says why."""


class SeriesMatch(Enum):
    """How a typed series name matched the stored series."""

    FOUND = "found"
    AMBIGUOUS = "ambiguous"
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class SeriesDetail:
    """One series: its stored parts in order and the part numbers missing below the highest."""

    summary: SeriesSummary
    posts: list[StoredPost]
    missing: list[int]


@dataclass(frozen=True, slots=True)
class SeriesLookup:
    """The answer to a typed series name: found (with detail), ambiguous (with candidates) or not found."""

    match: SeriesMatch
    detail: SeriesDetail | None = None
    candidates: tuple[SeriesSummary, ...] = ()


@dataclass(frozen=True, slots=True)
class SubscriptionChange:
    """What `/subscribe` or `/unsubscribe` did.

    `change` is None when a series name matched no series or several (`lookup` says which); `series` names
    the series acted on, None for everything.
    """

    change: FollowChange | None
    series: SeriesSummary | None = None
    lookup: SeriesLookup | None = None


@dataclass(frozen=True, slots=True)
class ReaderState:
    """A chat's stored settings and follows (None: it never started the bot or was forgotten)."""

    subscriber: Subscriber | None
    follows: Follows


@dataclass(frozen=True, slots=True)
class StartResult:
    """What `/start` did, and the series a deep link (`/start s<id>`) followed, if any."""

    started: Started
    series: SeriesRef | None = None
    change: FollowChange | None = None


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """What `/metrics` exposes, read from the database at scrape time (so every process sees the same)."""

    posts: int
    sources: tuple[SourceState, ...]
    subscribers: SubscriberCounts
    deliveries: Mapping[tuple[str, str], int]
    dead_by_reason: Mapping[str, int]
    emails: Mapping[str, int]
    # The persisted event counters, (name, label) → value: messages sent and failed, 429s, emails.
    counters: Mapping[tuple[str, str], int] = field(default_factory=dict)
    # Readers holding at least one watch (/watch).
    readers_with_watches: int = 0


@dataclass(frozen=True, slots=True)
class Stats:
    """The admin's figures: readers by mode, the last poll, failing sources, the outbox, today's sends.

    `outbox` counts deliveries waiting (pending or being sent); `sent_today` and `failed_today` count
    deliveries sent, or given up on, since midnight in TIME_ZONE.
    """

    subscribers: SubscriberCounts
    last_poll: LastPoll | None
    failing_sources: tuple[SourceState, ...]
    deliveries: DeliveryCounts
    outbox: int
    sent_today: int
    failed_today: int


# Delivery states as the sender names them (issue 10); unknown ones count nowhere but the raw figures.
WAITING_STATES = frozenset({"pending", "sending"})
FAILED_STATES = frozenset({"failed", "dead", "dropped"})


@dataclass(frozen=True, slots=True)
class EmailView:
    """One address of a reader as the reader may see it: masked, with where it stands."""

    masked: str
    status: str  # pending, confirmed or bounced
    lang: str
    confirmed_at: datetime | None


@dataclass(frozen=True, slots=True)
class EmailState:
    """The addresses a Telegram reader signed up from the bot (unsubscribed ones are gone from it)."""

    addresses: tuple[EmailView, ...]


class LinkState(Enum):
    """What a signed link (confirm, unsubscribe) points at."""

    INVALID = "invalid"  # forged, expired, or its address is gone: the web app answers 404
    PENDING = "pending"
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"


def _link_state(email: EmailAddress) -> LinkState:
    if email.status == "confirmed":
        return LinkState.CONFIRMED
    return LinkState.PENDING if email.status == "pending" else LinkState.UNSUBSCRIBED


def missing_parts(posts: Sequence[StoredPost]) -> list[int]:
    """The part numbers from 1 to the highest stored part that no stored post holds."""
    parts = {s.post.series.part for s in posts if s.post.series is not None}
    return [n for n in range(1, max(parts, default=0) + 1) if n not in parts]


class Services:
    """The application's operations over one database, one clock and the configured sources."""

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
        self._poller = poller
        self._crawler = crawler
        self._renderer = renderer
        self._own_renderer: Renderer | None = None
        self._signer: TokenSigner | None = None
        # The double opt-in: sign-ups queue their mail, which `confirmations` sends after the answer.
        self.confirmations = ConfirmationMails(
            db=db,
            mail=config.mail,
            renderer=lambda: self.renderer,
            clock=clock,
            signer=self.signer,
            retry=config.mail.retry_interval,
        )
        self.signups = EmailSignUps(
            db=db,
            mail=config.mail,
            languages=lambda: self.renderer.translations.languages,
            clock=clock,
            queued=self.confirmations.wake,
        )

    # --- the archive -------------------------------------------------------------------------------

    async def post_count(self) -> int:
        """How many posts are stored."""
        return await read_stores(self.db).posts.count()

    async def latest(self, limit: int = 10, offset: int = 0) -> list[StoredPost]:
        """The newest stored posts, newest first; posts whose year is unknown come last."""
        if not 1 <= limit <= MAX_LATEST:
            raise InvalidRequest(f"the count must be from 1 to {MAX_LATEST}")
        if not 0 <= offset <= MAX_OFFSET:
            raise InvalidRequest(f"the offset must be from 0 to {MAX_OFFSET}")
        return await read_stores(self.db).posts.latest(limit, offset)

    async def search(self, query: str, limit: int = 10, offset: int = 0) -> list[SearchHit]:
        """The stored posts matching `query`, best first (see storage/search.py for the ranking)."""
        if not query.strip():
            raise InvalidRequest("the query is empty")
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidRequest(f"the count must be from 1 to {MAX_LIMIT}")
        if not 0 <= offset <= MAX_OFFSET:
            raise InvalidRequest(f"the offset must be from 0 to {MAX_OFFSET}")
        try:
            return await search(self.db, query, limit=limit, offset=offset)
        except QueryTooLongError as exc:
            raise InvalidRequest(str(exc)) from None

    async def series_index(self) -> list[SeriesSummary]:
        """Every series with its part count and newest date, newest first."""
        return await read_stores(self.db).posts.series_summaries()

    async def find_series(self, name: str) -> SeriesLookup:
        """A series by any spelling of its name or a unique prefix of it."""
        wanted = lookup_key(name)
        if not wanted:
            raise InvalidRequest("the series name is empty")
        reads = read_stores(self.db)
        summaries = await reads.posts.series_summaries()
        keys = {s.key: lookup_key(s.key) for s in summaries}
        exact = [s for s in summaries if keys[s.key] == wanted]
        matches = exact or [s for s in summaries if keys[s.key].startswith(wanted)]
        if not matches:
            return SeriesLookup(SeriesMatch.NOT_FOUND)
        if len(matches) > 1:
            return SeriesLookup(SeriesMatch.AMBIGUOUS, candidates=tuple(matches))
        chosen = matches[0]
        posts = await reads.posts.series_posts(chosen.key)
        return SeriesLookup(SeriesMatch.FOUND, SeriesDetail(chosen, posts, missing_parts(posts)))

    async def post_by_key(self, pk: int) -> StoredPost | None:
        """The stored post with this row key (a notification's button names its post so)."""
        return await read_stores(self.db).posts.by_pk(pk)

    async def post_items(self, posts: Sequence[StoredPost]) -> list[PostItem]:
        """The message views of stored posts (rendered excerpt, previous part), as messages show them."""
        builder = DigestBuilder(
            self.db,
            link_host=self.config.link_host,
            tz=self.config.tz,
            excerpt_chars=self.config.excerpt_chars,
        )
        return [await builder.item(stored) for stored in posts]

    def hit_items(self, hits: Sequence[SearchHit]) -> list[PostItem]:
        """The message views of search hits (rendered excerpt; no previous-part link, which needs the row)."""
        return [
            build_item(
                StoredPost(pk=hit.post.id or 0, post=hit.post, first_seen_at="", updated_at=""),
                link_host=self.config.link_host,
                excerpt_chars=self.config.excerpt_chars,
            )
            for hit in hits
        ]

    async def series_refs(self) -> dict[str, SeriesRef]:
        """Every series' deep-link number by series key."""
        return await read_stores(self.db).subscribers.series_refs()

    async def series_by_id(self, series_id: int) -> SeriesLookup:
        """A series by its deep-link number (a button or `/start s<id>`)."""
        reads = read_stores(self.db)
        ref = await reads.subscribers.series_by_id(series_id)
        if ref is None:
            return SeriesLookup(SeriesMatch.NOT_FOUND)
        for summary in await reads.posts.series_summaries():
            if summary.key == ref.key:
                posts = await reads.posts.series_posts(summary.key)
                return SeriesLookup(SeriesMatch.FOUND, SeriesDetail(summary, posts, missing_parts(posts)))
        return SeriesLookup(SeriesMatch.NOT_FOUND)

    async def metrics(self) -> MetricsSnapshot:
        """The figures of the Prometheus endpoint."""
        reads = read_stores(self.db)
        return MetricsSnapshot(
            posts=await reads.posts.count(),
            sources=tuple(await reads.sources.all()),
            subscribers=await reads.subscribers.counts(),
            deliveries=await reads.stats.deliveries_by_channel(),
            dead_by_reason=await reads.deliveries.errors(),
            emails=await reads.stats.emails_by_state(),
            counters=await reads.counters.all(),
            readers_with_watches=await reads.watches.readers_with_watches(),
        )

    async def stats(self) -> Stats:
        """The figures of the admin's /stats."""
        reads = read_stores(self.db)
        now = self.clock().astimezone(self.config.tz)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        deliveries = await reads.stats.deliveries(midnight)
        failing = tuple(s for s in await reads.sources.all() if s.failures > 0)
        return Stats(
            subscribers=await reads.subscribers.counts(),
            last_poll=await reads.stats.last_poll(),
            failing_sources=failing,
            deliveries=deliveries,
            outbox=sum(n for state, n in deliveries.by_status.items() if state in WAITING_STATES),
            sent_today=deliveries.since_by_status.get("sent", 0),
            failed_today=sum(n for state, n in deliveries.since_by_status.items() if state in FAILED_STATES),
        )

    async def digest_for_period(self, since: date, now: datetime | None = None) -> Digest:
        """The digest of every post dated from `since` to now (possibly empty)."""
        builder = DigestBuilder(
            self.db,
            link_host=self.config.link_host,
            tz=self.config.tz,
            excerpt_chars=self.config.excerpt_chars,
        )
        return await builder.for_period(since, now or self.clock())

    # --- reading the blog --------------------------------------------------------------------------

    async def poll_once(self, sources: Sequence[str] = (), *, respect_backoff: bool = False) -> PollReport:
        """One poll cycle over `sources` (default: the configured ones)."""
        return await self._poller().poll(
            list(sources) or list(self.config.sources), now=self.clock(), respect_backoff=respect_backoff
        )

    async def backfill(self, progress: Callable[[str], None] | None = None) -> CrawlReport:
        """Read the whole archive once, politely, resuming an interrupted run."""
        report = await self._crawler(progress).run("backfill")
        if report.complete:
            async with unit_of_work(self.db) as uow:
                await uow.meta.put(BACKFILL_WANTED, "")
        return report

    async def want_backfill_if_empty(self) -> bool:
        """On an empty store, ask for a backfill (the first maintenance reads the archive); True if asked."""
        reads = read_stores(self.db)
        if await reads.posts.count() or await reads.meta.get("backfill_completed_at") is not None:
            return False
        async with unit_of_work(self.db) as uow:
            await uow.meta.put(BACKFILL_WANTED, "1")
        return True

    async def maintain(self) -> CrawlReport | None:
        """Finish a wanted or interrupted backfill, else refresh reader counts when they are due."""
        reads = read_stores(self.db)
        if await reads.meta.get(BACKFILL_WANTED) or await reads.meta.done_items("backfill"):
            return await self.backfill()
        days = self.config.readers_refresh_days
        last = await reads.meta.get("readers_completed_at")
        now = self.clock()
        if days and (last is None or now - datetime.fromisoformat(last) >= timedelta(days=days)):
            return await self._crawler(None).run("readers", content=False)
        return None

    # --- readers -----------------------------------------------------------------------------------

    async def reader(self, chat_id: int) -> ReaderState:
        """A chat's settings and follows."""
        reads = read_stores(self.db)
        return ReaderState(await reads.subscribers.get(chat_id), await reads.subscribers.follows(chat_id))

    async def start(
        self, chat_id: int, *, chat_type: str | None, lang: str, series_id: int | None = None
    ) -> StartResult:
        """Create (or reactivate) the reader; with a deep link's series id, follow that series too."""
        now = self.clock()
        async with unit_of_work(self.db) as uow:
            started = await uow.subscribers.start(chat_id, chat_type=chat_type, lang=lang, now=now)
            if series_id is None:
                return StartResult(started)
            series = await uow.subscribers.series_by_id(series_id)
            if series is None:
                return StartResult(started, change=FollowChange.UNKNOWN_SERIES)
            change = await uow.subscribers.follow_series(chat_id, series.key, now)
        return StartResult(started, series, change)

    async def _series_for(self, name: str) -> tuple[SeriesSummary | None, SeriesLookup | None]:
        if not lookup_key(name):
            # Punctuation or invisible characters only (`/subscribe -`): a name that matches no series.
            return None, SeriesLookup(SeriesMatch.NOT_FOUND)
        lookup = await self.find_series(name)
        if lookup.detail is None:
            return None, lookup
        return lookup.detail.summary, None

    async def subscribe(
        self, chat_id: int, series: str | None = None, *, chat_type: str | None = None, lang: str = "zh"
    ) -> SubscriptionChange:
        """Follow every new post, or one series by any spelling of its name; a new chat is started first."""
        summary = lookup = None
        if series is not None:
            summary, lookup = await self._series_for(series)
            if summary is None:
                return SubscriptionChange(None, lookup=lookup)
        now = self.clock()
        async with unit_of_work(self.db) as uow:
            if await uow.subscribers.get(chat_id) is None:
                await uow.subscribers.start(chat_id, chat_type=chat_type, lang=lang, now=now)
            if summary is None:
                change = await uow.subscribers.follow_all(chat_id, now)
            else:
                change = await uow.subscribers.follow_series(chat_id, summary.key, now)
        log.info("chat %d: subscribe %s: %s", chat_id, summary.key if summary else "all", change.value)
        return SubscriptionChange(change, summary)

    async def unsubscribe(self, chat_id: int, series: str | None = None) -> SubscriptionChange:
        """Stop following one series, or (alone) everything the chat follows."""
        summary = lookup = None
        if series is not None:
            summary, lookup = await self._series_for(series)
            if summary is None:
                return SubscriptionChange(None, lookup=lookup)
        async with unit_of_work(self.db) as uow:
            if await uow.subscribers.get(chat_id) is None:
                change = FollowChange.NOT_FOLLOWING
            elif summary is None:
                change = await uow.subscribers.unfollow_all(chat_id)
            else:
                change = await uow.subscribers.unfollow_series(chat_id, summary.key)
        log.info("chat %d: unsubscribe %s: %s", chat_id, summary.key if summary else "all", change.value)
        return SubscriptionChange(change, summary)

    async def set_mode(
        self, chat_id: int, mode: Mode, *, hour: int | None = None, day: int | None = None
    ) -> Subscriber:
        """Instant delivery, or a daily or weekly digest at `hour` (and, weekly, `day`: 0 = Monday)."""
        try:
            async with unit_of_work(self.db) as uow:
                return await uow.subscribers.set_mode(chat_id, mode, hour=hour, day=day)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None

    async def set_language(self, chat_id: int, lang: str) -> Subscriber:
        """The reader's chosen language."""
        async with unit_of_work(self.db) as uow:
            return await uow.subscribers.set_language(chat_id, lang)

    async def rich_refused(self, chat_id: int) -> bool:
        """Whether Telegram refused a rich message (native math) in this chat before."""
        return await read_stores(self.db).deliveries.rich_refused(chat_id)

    async def remember_rich_refused(self, chat_id: int) -> None:
        """Telegram refused a rich message in this known chat: HTML from now on, for bot and sender."""
        async with unit_of_work(self.db) as uow:
            await uow.deliveries.remember_rich_refused(chat_id)

    async def block(self, chat_id: int) -> bool:
        """The chat blocked the bot or removed it: stop sending there until `/start`; whether it changed."""
        async with unit_of_work(self.db) as uow:
            return await uow.subscribers.block(chat_id, self.clock())

    async def forget(self, chat_id: int) -> bool:
        """Delete everything stored about a chat; False when nothing was stored."""
        async with unit_of_work(self.db) as uow:
            forgotten = await uow.subscribers.forget(chat_id)
        log.info("chat %d: forgotten (%s)", chat_id, "had data" if forgotten else "nothing stored")
        return forgotten

    # --- the weekly email ---------------------------------------------------------------------------

    @property
    def renderer(self) -> Renderer:
        """The renderer of the application (or one of this service's own, made on first use)."""
        if self._renderer is not None:
            return self._renderer()
        if self._own_renderer is None:
            self._own_renderer = Renderer()
        return self._own_renderer

    async def signer(self) -> TokenSigner:
        """The signer of the links in mails: SECRET_KEY, else a key kept in the database."""
        if self._signer is None:
            self._signer = await signer_for(self.db, self.config.mail.secret_key)
        return self._signer

    async def email_sign_up(
        self, address: str, lang: str, *, telegram_user: int | None = None, ip: str | None = None
    ) -> EmailSignUpResult:
        """Start the double opt-in of `address` from the bot (`telegram_user`) or the web (`ip`); the answer
        never tells whether the address was known (notifier/email_signup.py)."""
        return await self.signups.sign_up(address, lang, telegram_user=telegram_user, ip=ip)

    async def _linked(
        self, token: str, purpose: Literal["confirm", "unsubscribe"]
    ) -> tuple[EmailAddress, TokenClaims] | None:
        now = self.clock()
        signer = await self.signer()
        claims = signer.read(token, purpose, now, ttl=CONFIRM_TTL if purpose == "confirm" else None)
        if claims is None:
            return None
        found = await read_stores(self.db).emails.get(claims.email_id)
        if found is None or not signer.binds(claims, found.address_hash):
            return None
        return found, claims

    async def email_link(self, token: str, purpose: Literal["confirm", "unsubscribe"]) -> LinkState:
        """Where the address of a signed link stands (INVALID: forged, expired or gone). Changes nothing."""
        linked = await self._linked(token, purpose)
        if linked is None:
            return LinkState.INVALID
        found, claims = linked
        if purpose == "confirm":
            if found.status == "unsubscribed":
                return LinkState.INVALID
            # A link a Telegram reader asked for still has work to do until it links that reader.
            return LinkState.CONFIRMED if self.signups.done(found, claims) else LinkState.PENDING
        return _link_state(found)

    async def email_confirm(self, token: str) -> LinkState:
        """Confirm the address of a confirmation link (storing the consent time, linking the Telegram reader
        who asked for this link); INVALID changes nothing."""
        linked = await self._linked(token, "confirm")
        if linked is None or await self.signups.confirm(*linked) is None:
            return LinkState.INVALID
        return LinkState.CONFIRMED

    async def email_unsubscribe(self, token: str) -> LinkState:
        """Unsubscribe the address of an unsubscribe link (keeping only its hash); INVALID changes nothing."""
        linked = await self._linked(token, "unsubscribe")
        if linked is None:
            return LinkState.INVALID
        async with unit_of_work(self.db) as uow:
            await uow.emails.unsubscribe(linked[0].id, self.clock())
        return LinkState.UNSUBSCRIBED

    async def email_state(self, chat_id: int) -> EmailState:
        """The addresses this chat confirmed, and those it asked for and has not confirmed, masked."""
        views = [
            EmailView(
                mask_address(entry.email.address or ""),
                "pending"
                if not entry.linked
                else ("bounced" if entry.email.bounced_at is not None else entry.email.status),
                entry.email.lang,
                entry.email.confirmed_at if entry.linked else None,
            )
            for entry in await self.signups.of_reader(chat_id)
        ]
        return EmailState(tuple(views))

    async def email_off(self, chat_id: int) -> int:
        """`/email off`: unsubscribe what this chat confirmed, withdraw what it asked for. How many were
        receiving the weekly email."""
        return await self.signups.off(chat_id)

    async def week_digest(self, week: str) -> Digest | None:
        """The digest of ISO week '2025-W20' (its posts by date, up to now for this week); None for a week
        that is malformed or has not begun."""
        try:
            monday = week_monday(week)
        except ValueError:
            return None
        tz = self.config.tz
        now = self.clock()
        start = datetime.combine(monday, time.min, tzinfo=tz)
        if start > now:
            return None
        end = min(now, start + timedelta(days=7) - timedelta(microseconds=1))
        return await self.digest_for_period(monday, end)

    async def span_digest(self, first: date, last: date) -> Digest | None:
        """The digest of the posts dated `first` to `last` (both included, up to now): the period one weekly
        email covered; None for an empty, inverted, future or longer than PAGE_SPAN_DAYS span."""
        tz = self.config.tz
        now = self.clock()
        start = datetime.combine(first, time.min, tzinfo=tz)
        if last < first or (last - first).days > PAGE_SPAN_DAYS or start > now:
            return None
        end = min(now, datetime.combine(last, time.max, tzinfo=tz))
        return await self.digest_for_period(first, end)
