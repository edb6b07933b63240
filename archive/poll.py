"""One poll cycle: fetch every source, parse, store, and tell new posts from seen ones."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from archive import ArchiveError
from archive.detect import detect, parse
from archive.fetch import Fetcher, Validators, backoff_delay, failure_line, redact_url
from archive.formats.listing import parse_listing_page
from archive.model import Post
from storage.posts import PostStore, StoredPost
from storage.sources import SourceStore

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
    """What one poll cycle found."""

    baseline: bool
    new: list[StoredPost]
    updated: int
    unchanged: int
    sources: list[SourceOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """At least one source answered."""
        return any(s.error is None and not s.skipped for s in self.sources)


def site_root(source: str) -> str | None:
    """`scheme://host` of an http(s) source: where `/content.html` and the listings live."""
    parts = urlsplit(source)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def feed_has_gap(feed_posts: Sequence[Post], newest_stored: str | None) -> bool:
    """The feed's oldest item is newer than anything stored: posts may have been missed in between."""
    dated = [p.date for p in feed_posts if p.date.year is not None]
    if newest_stored is None or not dated:
        return False
    oldest = min(dated)
    assert oldest.year is not None
    return date(oldest.year, oldest.month, oldest.day).isoformat() > newest_stored


class Poller:
    """Runs poll cycles with one fetcher against one store."""

    def __init__(
        self,
        *,
        fetcher: Fetcher,
        posts: PostStore,
        sources: SourceStore,
        tz: ZoneInfo,
        max_age_days: int,
        backoff_base: timedelta,
    ) -> None:
        self.fetcher = fetcher
        self.posts = posts
        self.sources = sources
        self.tz = tz
        self.max_age_days = max_age_days
        self.backoff_base = backoff_base

    async def _fail(self, source: str, error: str, now: datetime) -> SourceOutcome:
        state = await self.sources.get(source)
        delay = backoff_delay(
            state.failures + 1,
            base=self.backoff_base.total_seconds(),
            cap=BACKOFF_CAP.total_seconds(),
        )
        failures = await self.sources.record_failure(
            source, error=error, now=now, retry_at=now + timedelta(seconds=delay)
        )
        log.warning(
            "poll failed: %s (failure %d, next try in %.0f s)", failure_line(source, error), failures, delay
        )
        return SourceOutcome(source, error=error)

    async def _read(
        self, source: str, now: datetime, respect_backoff: bool, fetched: list[tuple[str, Validators]]
    ) -> tuple[SourceOutcome, list[Post], str | None]:
        """Fetch and parse one source; a failure is recorded and yields no posts.

        A success only appends the source's new validators to `fetched`: they are stored once the posts
        are, so a poll that fails to store them asks for the whole page again instead of getting a 304.
        """
        state = await self.sources.get(source)
        if respect_backoff and not state.due(now):
            log.info("source %s: backing off until %s", redact_url(source), state.next_attempt_at)
            return SourceOutcome(source, skipped=True), [], None
        try:
            result = await self.fetcher.fetch(source, Validators(state.etag, state.last_modified))
        except ArchiveError as exc:
            return await self._fail(source, str(exc), now), [], None
        if result.not_modified or result.content is None:
            if state.failures:
                await self.sources.record_success(
                    source, etag=state.etag, last_modified=state.last_modified, now=now
                )
            log.debug("source %s: not modified", redact_url(source))
            return SourceOutcome(source, not_modified=True), [], None
        try:
            kind = detect(result.content)
            posts = parse(result.content, tz=self.tz)
        except ArchiveError as exc:
            return await self._fail(source, f"unparseable page: {exc}", now), [], None
        fetched.append((source, result.validators))
        return SourceOutcome(source, posts=len(posts)), posts, kind

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
        found: list[Post] = []
        _, posts, _ = await self._read(f"{root}/content.html", now, False, fetched)
        found.extend(posts)
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
            found.extend(page.posts)
            url = page.next_url
        return found

    async def _remember(self, fetched: list[tuple[str, Validators]], now: datetime) -> None:
        """Store the validators of the sources read, now that what they said is stored."""
        for source, validators in fetched:
            await self.sources.record_success(
                source, etag=validators.etag, last_modified=validators.last_modified, now=now
            )

    async def poll(
        self, sources: Sequence[str], *, now: datetime, respect_backoff: bool = False
    ) -> PollReport:
        """One cycle over `sources`; nothing is written when every source is unchanged or failed."""
        outcomes: list[SourceOutcome] = []
        seen: list[Post] = []
        fetched: list[tuple[str, Validators]] = []
        newest = await self.posts.newest_date()
        for source in sources:
            outcome, posts, kind = await self._read(source, now, respect_backoff, fetched)
            outcomes.append(outcome)
            seen.extend(posts)
            if kind == "feed" and feed_has_gap(posts, newest):
                seen.extend(await self._fill_gap(source, now, fetched))
        if not seen:
            await self._remember(fetched, now)
            return PollReport(False, [], 0, 0, outcomes)
        result = await self.posts.ingest(seen, now=now, tz=self.tz, max_age_days=self.max_age_days)
        await self._remember(fetched, now)
        log.info(
            "poll %d: %d new, %d updated, %d unchanged%s",
            result.poll_id,
            len(result.new),
            result.updated,
            result.unchanged,
            " (baseline)" if result.baseline else "",
        )
        return PollReport(result.baseline, result.new, result.updated, result.unchanged, outcomes)
