"""What a reader chooses about what reaches them: watched words, a pause, a time zone, email preferences.

Each method returns data and never prints; the bot and the web pages format it. Writes run in one unit of
work each; the watch limits (ten per reader, 64 characters each) are the store's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from notifier.config import Clock, Config
from notifier.errors import InvalidRequest
from notifier.mail.tokens import TokenSigner, signer_for
from notifier.pausing import end_pauses
from notifier.services.zones import is_known, zone_of
from storage.db import Database
from storage.emails import EmailAddress
from storage.posts import SeriesSummary
from storage.preferences import EmailPreference, Scope, split_words
from storage.subscribers import Subscriber
from storage.uow import read_stores, unit_of_work
from storage.watches import MAX_WATCH_CHARS, MAX_WATCHES, Watch, WatchAdded, WatchRefused

log = logging.getLogger(__name__)

PauseLength = Literal["day", "week", "resume"]
PAUSE_LENGTHS: dict[PauseLength, timedelta | None] = {
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "resume": None,
}


class ChoiceRefused(InvalidRequest):
    """A choice the service refuses; `reason` names why for the front end (empty, too_long, too_many …)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class WatchList:
    """A reader's watches and the limits a front end states."""

    watches: tuple[Watch, ...]
    limit: int = MAX_WATCHES
    chars: int = MAX_WATCH_CHARS


@dataclass(frozen=True, slots=True)
class PreferencePage:
    """What the email preference page shows: the address (masked by the front end), its choice, the series."""

    email: EmailAddress
    preference: EmailPreference
    series: tuple[SeriesSummary, ...]


class Choices:
    """Readers' choices over one database and one clock."""

    def __init__(self, *, db: Database, clock: Clock, config: Config) -> None:
        self.db = db
        self.clock = clock
        self.config = config
        self._signer: TokenSigner | None = None

    # --- watched words -------------------------------------------------------------------------------

    async def _reader(self, chat_id: int, chat_type: str | None, lang: str) -> Subscriber:
        """The chat's reader, started first when it never sent /start (watching is enough to be one)."""
        async with unit_of_work(self.db) as uow:
            found = await uow.subscribers.get(chat_id)
            if found is None:
                found = (
                    await uow.subscribers.start(chat_id, chat_type=chat_type, lang=lang, now=self.clock())
                ).subscriber
            return found

    async def watches(self, chat_id: int) -> WatchList:
        """The chat's watches, oldest first (none for a chat that never started)."""
        reads = read_stores(self.db)
        found = await reads.subscribers.get(chat_id)
        return WatchList(() if found is None else tuple(await reads.watches.of(found.id)))

    async def watch(
        self, chat_id: int, words: str, *, chat_type: str | None = None, lang: str = "zh"
    ) -> WatchAdded:
        """Save a watch for the chat; ChoiceRefused (empty, too_long, too_many) says why not."""
        reader = await self._reader(chat_id, chat_type, lang)
        try:
            async with unit_of_work(self.db) as uow:
                added = await uow.watches.add(reader.id, words, self.clock())
        except WatchRefused as exc:
            raise ChoiceRefused(exc.reason, str(exc)) from None
        log.info(
            "chat %d: watch %d %s", chat_id, added.watch.id, "added" if added.created else "already held"
        )
        return added

    async def unwatch(self, chat_id: int, watch_id: int) -> Watch | None:
        """Remove one of the chat's watches; the one removed, or None (gone already, or not the chat's)."""
        if not 0 < watch_id < 2**63:
            # Forged button data beyond SQLite's integers names no watch.
            return None
        async with unit_of_work(self.db) as uow:
            found = await uow.subscribers.get(chat_id)
            removed = None if found is None else await uow.watches.remove(found.id, watch_id)
        log.info("chat %d: watch %d %s", chat_id, watch_id, "removed" if removed else "not found")
        return removed

    async def readers_with_watches(self) -> int:
        """How many readers watch any words (for /metrics)."""
        return await read_stores(self.db).watches.readers_with_watches()

    # --- pause and time zone -------------------------------------------------------------------------

    async def pause(
        self, chat_id: int, length: PauseLength, *, chat_type: str | None = None, lang: str = "zh"
    ) -> Subscriber:
        """Pause the chat's notifications for a day, a week, or until /resume."""
        reader = await self._reader(chat_id, chat_type, lang)
        now = self.clock()
        span = PAUSE_LENGTHS[length]
        async with unit_of_work(self.db) as uow:
            await uow.pauses.pause(reader.chat_id, now, None if span is None else now + span)
            after = await uow.subscribers.get(chat_id)
        log.info("chat %d: paused (%s)", chat_id, length)
        return after or reader

    async def resume(self, chat_id: int) -> bool:
        """End the chat's pause now (what came meanwhile is queued as one digest); whether one ran."""
        now = self.clock()
        async with unit_of_work(self.db) as uow:
            resumed = await uow.pauses.resume(chat_id, now)
        if resumed:
            await end_pauses(self.db, now)
            log.info("chat %d: resumed", chat_id)
        return resumed

    async def reader(self, chat_id: int) -> Subscriber | None:
        """The chat's reader, if it ever started."""
        return await read_stores(self.db).subscribers.get(chat_id)

    async def set_time_zone(self, chat_id: int, zone: str) -> Subscriber:
        """The zone the chat's digest hour is read in; ChoiceRefused for a zone not offered."""
        if not is_known(zone):
            raise ChoiceRefused("zone", f"unknown time zone {zone!r}")
        async with unit_of_work(self.db) as uow:
            await uow.pauses.set_time_zone(chat_id, zone)
            found = await uow.subscribers.get(chat_id)
        if found is None:
            raise ChoiceRefused("unknown", f"no reader in chat {chat_id}")
        return found

    def zone_name(self, reader: Subscriber) -> str:
        """The name of the zone the reader's digests are timed in."""
        if reader.time_zone is not None and zone_of(reader.time_zone, self.config.tz) is not self.config.tz:
            return reader.time_zone
        return str(self.config.tz.key)

    def local_time(self, reader: Subscriber, moment: datetime) -> str:
        """A moment as the reader reads it: `2025-05-11 08:00` in their zone."""
        return moment.astimezone(zone_of(reader.time_zone, self.config.tz)).strftime("%Y-%m-%d %H:%M")

    # --- email preferences ---------------------------------------------------------------------------

    async def signer(self) -> TokenSigner:
        """The signer of mail links: SECRET_KEY, else the key kept in the database."""
        if self._signer is None:
            self._signer = await signer_for(self.db, self.config.mail.secret_key)
        return self._signer

    async def _address(self, token: str) -> EmailAddress | None:
        signer = await self.signer()
        claims = signer.read(token, "preferences", self.clock())
        if claims is None:
            return None
        email = await read_stores(self.db).emails.get(claims.email_id)
        if email is None or email.status != "confirmed" or not signer.binds(claims, email.address_hash):
            return None
        return email

    async def preference_page(self, token: str) -> PreferencePage | None:
        """The page behind a preference link; None for a forged token or an address no longer receiving."""
        email = await self._address(token)
        if email is None:
            return None
        reads = read_stores(self.db)
        return PreferencePage(
            email, await reads.preferences.get(email.id), tuple(await reads.posts.series_summaries())
        )

    async def save_preference(
        self, token: str, scope: str, series_keys: list[str], words: str
    ) -> PreferencePage | None:
        """Store the choice made on a preference page; None for a bad token, ChoiceRefused for bad input.

        `only` needs at least one series or one line of words; series not stored are ignored.
        """
        email = await self._address(token)
        if email is None:
            return None
        chosen: Scope | None = next((s for s in ("all", "only", "paused") if s == scope), None)
        if chosen is None:
            raise ChoiceRefused("scope", f"unknown choice {scope!r}")
        try:
            lines = split_words(words) if chosen == "only" else ()
        except WatchRefused as exc:
            raise ChoiceRefused(exc.reason, str(exc)) from None
        reads = read_stores(self.db)
        known = {s.key for s in await reads.posts.series_summaries()}
        keys = tuple(sorted(k for k in set(series_keys) if k in known)) if chosen == "only" else ()
        if chosen == "only" and not keys and not lines:
            raise ChoiceRefused("nothing", "choose a series or some words, or keep every post")
        async with unit_of_work(self.db) as uow:
            await uow.preferences.put(EmailPreference(email.id, chosen, keys, lines), self.clock())
        log.info("email %d: preference %s (%d series, %d words)", email.id, chosen, len(keys), len(lines))
        return await self.preference_page(token)
