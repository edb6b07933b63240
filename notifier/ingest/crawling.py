"""Polite crawls of the whole archive: the backfill and the periodic reader-count refresh."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from archive import ArchiveError, FetchError, ParseError
from archive.fetch import Fetcher, failure_line, redact_url
from archive.formats.content import parse_content
from archive.formats.listing import parse_listing_page
from archive.site import CATEGORY_SLUGS, MAX_PAGES_PER_CATEGORY, category_page_url
from notifier.ingest.sightings import store_silently, untrusted_reason
from storage.db import Database
from storage.uow import read_stores, unit_of_work

log = logging.getLogger(__name__)


@dataclass(slots=True)
class CrawlReport:
    """Counts of one crawl; `errors` holds one line per page that failed."""

    pages: int = 0
    posts: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    resumed: bool = False
    complete: bool = False
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        """The `--json` shape of `backfill`."""
        return {
            "pages": self.pages,
            "posts": self.posts,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "resumed": self.resumed,
            "complete": self.complete,
            "errors": self.errors,
        }


class Crawler:
    """Reads `/content.html` and every category listing, page by page, checkpointing as it goes."""

    def __init__(
        self,
        *,
        fetcher: Fetcher,
        db: Database,
        root: str,
        clock: Callable[[], datetime],
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.fetcher = fetcher
        self.db = db
        self.root = root.rstrip("/")
        self.clock = clock
        self.progress = progress or (lambda _message: None)

    async def _store(
        self, crawl: str, item: str, report: CrawlReport, url: str, data: bytes, *, listing: bool
    ) -> str | None:
        """Parse one page, store its posts silently and checkpoint it in one transaction.

        Returns the next page's URL for listings.
        """
        if listing:
            page = parse_listing_page(data)
            found, next_url = page.posts, page.next_url
        else:
            found, next_url = parse_content(data), None
        # An empty listing is a category with no posts; posts that cannot be right (garbled titles, every id
        # changed) stop the crawl at this page, to resume later, rather than overwrite what is stored.
        reason = await untrusted_reason(read_stores(self.db), found) if found else None
        if reason is not None:
            raise ParseError(f"implausible page: {reason}")
        now = self.clock()
        async with unit_of_work(self.db) as uow:
            counts = await store_silently(uow, found, now)
            await uow.meta.mark_done(crawl, item, now)
        report.pages += 1
        report.posts += len(found)
        report.inserted += counts.inserted
        report.updated += counts.updated
        report.unchanged += counts.unchanged
        self.progress(f"{redact_url(url)}: {len(found)} posts")
        return next_url

    async def _content(self, crawl: str, report: CrawlReport, done: set[str]) -> bool:
        """Read the archive page; False when it failed (the site is likely down: stop the crawl)."""
        if "content" in done:
            return True
        url = f"{self.root}/content.html"
        try:
            result = await self.fetcher.fetch(url)
            assert result.content is not None
            await self._store(crawl, "content", report, url, result.content, listing=False)
        except ArchiveError as exc:
            report.errors.append(failure_line(url, str(exc)))
            log.warning(
                "crawl %s stopped, to resume at the next maintenance run (within 6 hours, or at the next "
                "start): %s",
                crawl,
                report.errors[-1],
            )
            return False
        return True

    async def _category(self, crawl: str, slug: str, report: CrawlReport, done: set[str]) -> bool:
        """Read one category page by page; False when a page failed (the crawl stops there, to resume)."""
        if f"{slug}:end" in done:
            return True
        pages_done = [
            int(item.split(":")[1]) for item in done if item.startswith(f"{slug}:") and item[-1].isdigit()
        ]
        page = max(pages_done, default=0) + 1
        while page <= MAX_PAGES_PER_CATEGORY:
            url = category_page_url(self.root, slug, page)
            try:
                result = await self.fetcher.fetch(url)
                assert result.content is not None
                next_url = await self._store(
                    crawl, f"{slug}:{page}", report, url, result.content, listing=True
                )
            except ArchiveError as exc:
                if isinstance(exc, FetchError) and exc.status == 404 and page == 1:
                    # A category the site no longer has: nothing to read, not a failure.
                    log.info("crawl %s: category %s does not exist (404)", crawl, slug)
                    break
                report.errors.append(failure_line(url, str(exc)))
                log.warning(
                    "crawl %s stopped at %s page %d, to resume at the next maintenance run (within 6 hours, "
                    "or at the next start): %s",
                    crawl,
                    slug,
                    page,
                    exc,
                )
                return False
            if next_url is None:
                break
            page += 1
        async with unit_of_work(self.db) as uow:
            await uow.meta.mark_done(crawl, f"{slug}:end", self.clock())
        return True

    async def run(self, crawl: str, *, content: bool = True) -> CrawlReport:
        """One crawl, resumed where an interrupted one of the same name stopped."""
        done = await read_stores(self.db).meta.done_items(crawl)
        report = CrawlReport(resumed=bool(done))
        # The first failure ends the crawl: the checkpoints let the next run pick up there, and an
        # unreachable site costs one request and one log line rather than one per page.
        ok = not content or await self._content(crawl, report, done)
        for slug in CATEGORY_SLUGS:
            ok = ok and await self._category(crawl, slug, report, done)
        report.complete = ok
        if report.complete:
            # Finished: the next crawl of this name starts from the first page again.
            async with unit_of_work(self.db) as uow:
                await uow.meta.reset_crawl(crawl)
                await uow.meta.put(f"{crawl}_completed_at", self.clock().isoformat())
        errors = len(report.errors)
        log.info(
            "crawl %s: %d pages, %d posts (%d new, %d updated), %d error%s",
            crawl,
            report.pages,
            report.posts,
            report.inserted,
            report.updated,
            errors,
            "" if errors == 1 else "s",
        )
        return report
