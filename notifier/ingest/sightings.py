"""Storing sightings: the stores find, the domain rules decide, the stores persist, in one unit of work."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from archive.identity import series_key
from archive.model import Post
from archive.rules import NewnessRule, Outcome, announce_cutoff, merge, sighting_anomaly, sighting_lookup
from storage.deliveries import FanOut
from storage.posts import StoredPost
from storage.uow import Stores

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Counts:
    """How many distinct posts a batch of sightings inserted, updated and left unchanged."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What one poll's sightings did to the store.

    `len(new) + stored + updated + unchanged` is the number of distinct posts the sources gave: `stored`
    counts posts stored for the first time and not announced (a baseline, too old, or no year).
    """

    baseline: bool
    new: list[StoredPost]
    stored: int
    updated: int
    unchanged: int
    poll_id: int
    fan_out: FanOut = field(default_factory=FanOut)


async def untrusted_reason(stores: Stores, posts: Sequence[Post]) -> str | None:
    """Why one source's posts must not be stored (an empty page, garbled text, changed ids), or None."""
    if not posts:
        return sighting_anomaly(posts, [], store_empty=await stores.posts.is_empty())
    ids, keys = sighting_lookup(posts)
    known = [stored.post for stored in await stores.posts.sharing(ids, keys)]
    return sighting_anomaly(posts, known, store_empty=False)


async def store_one(uow: Stores, seen: Post, now: datetime) -> tuple[StoredPost, Outcome]:
    """Store one sighting: insert a post never seen, or merge it into the stored one."""
    found = await uow.posts.find(seen)
    if found is None:
        stored, outcome = await uow.posts.insert(seen, now), Outcome.INSERTED
    else:
        merged = merge(found.post, seen)
        if merged == found.post:
            stored, outcome = found, Outcome.UNCHANGED
        else:
            stored, outcome = await uow.posts.update(found, merged, now), Outcome.UPDATED
    if stored.post.readers is not None:
        await uow.posts.observe_readers(stored.pk, stored.post.readers, now)
    return stored, outcome


async def _store_all(
    uow: Stores, posts: Iterable[Post], now: datetime
) -> dict[int, tuple[StoredPost, Outcome]]:
    """Each distinct post's final state and its first outcome (the same post twice in a batch is one)."""
    seen: dict[int, tuple[StoredPost, Outcome]] = {}
    for post in posts:
        stored, outcome = await store_one(uow, post, now)
        first = seen.get(stored.pk)
        seen[stored.pk] = (stored, outcome if first is None else first[1])
    return seen


async def store_silently(uow: Stores, posts: Iterable[Post], now: datetime) -> Counts:
    """Store sightings without announcing anything (backfill, reader refresh)."""
    outcomes = [outcome for _, outcome in (await _store_all(uow, posts, now)).values()]
    return Counts(
        outcomes.count(Outcome.INSERTED), outcomes.count(Outcome.UPDATED), outcomes.count(Outcome.UNCHANGED)
    )


async def ingest_poll(
    uow: Stores,
    posts: Sequence[Post],
    *,
    now: datetime,
    tz: ZoneInfo,
    max_age_days: int,
    channel_id: str | None = None,
) -> IngestResult:
    """One poll's sightings: store them, claim the new ones in the outbox, and queue their deliveries.

    Newness is judged after the whole poll on what the store then knows, so a homepage entry without a
    year is dated by the archive page read in the same poll, whatever the source order. The delivery rows
    are written in this same transaction: a poll that stores a new post has queued it for every reader.
    """
    baseline = await uow.posts.is_empty()
    rule = NewnessRule(
        baseline=baseline,
        cutoff=announce_cutoff(await uow.polls.last_successful(), now, tz, max_age_days),
    )
    poll_id = await uow.polls.start(now, baseline=baseline)
    new: list[StoredPost] = []
    stored_silently = updated = unchanged = 0
    for pk, (stored, outcome) in (await _store_all(uow, posts, now)).items():
        if outcome is Outcome.UPDATED:
            updated += 1
        elif outcome is Outcome.UNCHANGED:
            unchanged += 1
        elif rule.announces(stored.post) and await uow.polls.claim(pk, poll_id, now):
            new.append(stored)
        else:
            stored_silently += 1
    # Watches first: the fan-out reads their matches, so a reader who follows and watches gets one row.
    await uow.watches.match_new([s.pk for s in new], now)
    fan_out = await uow.deliveries.fan_out(
        [(s.pk, None if s.post.series is None else series_key(s.post.series.name)) for s in new],
        burst_item=f"burst:{poll_id}",
        channel_id=channel_id,
        now=now,
    )
    await uow.polls.finish(poll_id, now, new_count=len(new))
    return IngestResult(baseline, new, stored_silently, updated, unchanged, poll_id, fan_out)
