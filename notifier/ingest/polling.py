"""One poll cycle: fetch every source, parse, store, and tell new posts from seen ones."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from archive import ArchiveError
from archive.detect import detect, parse
from archive.fetch import Fetcher, Validators, backoff_delay, failure_line, redact_url
from archive.formats.listing import parse_listing_page
from archive.model import Post
from archive.site import feed_has_gap, site_root
from notifier.ingest.alerts import AlertPolicy, on_failure, on_success
from notifier.ingest.sightings import ingest_poll, untrusted_reason
from storage.db import Database
from storage.posts import StoredPost
from storage.uow import Stores, read_stores, unit_of_work

log = logging.getLogger(__name__)

BACKOFF_CAP = timedelta(hours=6)
GAP_LISTING_PAGES = 5


@dataclass(frozen=True, slots=True)
class SourceOutcome:
    """How one source fared in a poll."""

    source: str
    posts: int = 0
    not_modified: bool = False
    skipped: bool = False
    error: str | None = None


@dataclass(frozen=True, slots=True)
class PollReport:
    """What one poll cycle found.

    `len(new) + stored + updated + unchanged` is the number of distinct posts the sources gave; `stored`
    counts posts stored for the first time without an announcement (baseline, too old, or no year).
    """

    baseline: bool
    new: list[StoredPost]
    updated: int
    unchanged: int
    stored: int = 0
    sources: list[SourceOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """At least one source answered."""
        return any(s.error is None and not s.skipped for s in self.sources)


@dataclass(frozen=True, slots=True)
class _Read:
    outcome: SourceOutcome
    posts: list[Post]
    kind: str | None = None


class Poller:
    """Runs poll cycles with one fetcher against one database."""

    def __init__(
        self,
        *,
        fetcher: Fetcher,
        db: Database,
        tz: ZoneInfo,
        max_age_days: int,
        backoff_base: timedelta,
        channel_id: str | None = None,
        alerts: AlertPolicy | None = None,
    ) -> None:
        self.fetcher = fetcher
        self.db = db
        self.tz = tz
        self.max_age_days = max_age_days
        self.backoff_base = backoff_base
        self.channel_id = channel_id
        self.alerts = alerts

    async def _fail(self, source: str, error: str, now: datetime) -> _Read:
        async with unit_of_work(self.db) as uow:
            state = await uow.sources.get(source)
            delay = backoff_delay(
                state.failures + 1,
                base=self.backoff_base.total_seconds(),
                cap=BACKOFF_CAP.total_seconds(),
            )
            failures = await uow.sources.record_failure(
                source, error=error, now=now, retry_at=now + timedelta(seconds=delay)
            )
            await on_failure(uow, self.alerts, source, state, failures, error, now)
        log.warning(
            "poll failed: %s (failure %d, next try in %.0f s)", failure_line(source, error), failures, delay
        )
        return _Read(SourceOutcome(source, error=error), [])

    async def _record_success(
        self, uow: Stores, source: str, etag: str | None, last_modified: str | None, now: datetime
    ) -> None:
        """A source answered: clear its backoff and, after an alerted failure episode, tell the admins."""
        before = await uow.sources.get(source)
        await uow.sources.record_success(source, etag=etag, last_modified=last_modified, now=now)
        await on_success(uow, self.alerts, source, before, now)

    async def _read(
        self, source: str, now: datetime, respect_backoff: bool, fetched: list[tuple[str, Validators]]
    ) -> _Read:
        """Fetch and parse one source; a failure is recorded and yields no posts.

        A success only appends the source's new validators to `fetched`: they are stored in the same
        transaction as the posts, so a poll that fails to store them asks for the whole page again instead
        of getting a 304.
        """
        state = await read_stores(self.db).sources.get(source)
        if respect_backoff and not state.due(now):
            until = state.next_attempt_at or ""
            if until:
                # Stored in UTC; a person reads every time in TIME_ZONE.
                until = datetime.fromisoformat(until).astimezone(self.tz).isoformat(timespec="seconds")
            log.info("source %s: backing off until %s", redact_url(source), until)
            return _Read(SourceOutcome(source, skipped=True), [])
        try:
            result = await self.fetcher.fetch(source, Validators(state.etag, state.last_modified))
        except ArchiveError as exc:
            return await self._fail(source, str(exc), now)
        if result.not_modified or result.content is None:
            if state.failures:
                async with unit_of_work(self.db) as uow:
                    await self._record_success(uow, source, state.etag, state.last_modified, now)
            log.debug("source %s: not modified", redact_url(source))
            return _Read(SourceOutcome(source, not_modified=True), [])
        try:
            kind = detect(result.content)
            posts = parse(result.content, tz=self.tz)
        except ArchiveError as exc:
            return await self._fail(source, f"unparseable page: {exc}", now)
        # A page that parses but cannot be right (no posts, garbled titles, every id changed) is a failing
        # source too: storing it would make posts poorer or announce old ones again.
        reason = await untrusted_reason(read_stores(self.db), posts)
        if reason is not None:
            return await self._fail(source, f"implausible page: {reason}", now)
        fetched.append((source, result.validators))
        return _Read(SourceOutcome(source, posts=len(posts)), posts, kind)

    async def _fill_gap(
        self, source: str, now: datetime, fetched: list[tuple[str, Validators]]
    ) -> list[Post]:
        """The service was down longer than the feed reaches back: read the archive page and listings."""
        root = site_root(source)
        if root is None:
            return []
        log.warning(
            "source %s: feed does not reach back to the newest stored post; reading the archive",
            redact_url(source),
        )
        found = list((await self._read(f"{root}/content.html", now, False, fetched)).posts)
        url: str | None = f"{root}/"
        for _ in range(GAP_LISTING_PAGES):
            if url is None:
                break
            try:
                result = await self.fetcher.fetch(url)
                assert result.content is not None
                page = parse_listing_page(result.content)
            except ArchiveError as exc:
                log.warning("gap fill %s: %s", redact_url(url), exc)
                break
            reason = await untrusted_reason(read_stores(self.db), page.posts)
            if reason is not None:
                log.warning("gap fill %s: implausible page: %s", redact_url(url), reason)
                break
            found.extend(page.posts)
            url = page.next_url
        return found

    async def poll(
        self, sources: Sequence[str], *, now: datetime, respect_backoff: bool = False
    ) -> PollReport:
        """One cycle over `sources`; nothing is written when every source is unchanged or failed."""
        outcomes: list[SourceOutcome] = []
        seen: list[Post] = []
        fetched: list[tuple[str, Validators]] = []
        newest = await read_stores(self.db).posts.newest_date()
        for source in sources:
            read = await self._read(source, now, respect_backoff, fetched)
            outcomes.append(read.outcome)
            seen.extend(read.posts)
            if read.kind == "feed" and feed_has_gap(read.posts, newest):
                seen.extend(await self._fill_gap(source, now, fetched))
        result = None
        if seen or fetched:
            async with unit_of_work(self.db) as uow:
                if seen:
                    result = await ingest_poll(
                        uow,
                        seen,
                        now=now,
                        tz=self.tz,
                        max_age_days=self.max_age_days,
                        channel_id=self.channel_id,
                    )
                for source, validators in fetched:
                    await self._record_success(uow, source, validators.etag, validators.last_modified, now)
        if result is None:
            return PollReport(False, [], 0, 0, 0, outcomes)
        for item in result.new:
            log.info("poll %d: new post id=%s title=%s", result.poll_id, item.post.id, item.post.title)
        log.info(
            "poll %d: %d new, %d stored without announcement, %d updated, %d unchanged%s",
            result.poll_id,
            len(result.new),
            result.stored,
            result.updated,
            result.unchanged,
            " (baseline)" if result.baseline else "",
        )
        return PollReport(
            result.baseline, result.new, result.updated, result.unchanged, result.stored, outcomes
        )
