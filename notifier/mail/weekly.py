"""The weekly email: who is due this ISO week, one message each, idempotent per (ISO week, address).

What was sent is read from the ledger (storage/mail_ledger.py), never remembered in memory: the scheduler runs
the job at the configured time and every few minutes besides, so a service that was down at Monday 08:00
sends on start-up, once, and temporary failures are tried again later in the week. A run claims an address's
row (INSERT under UNIQUE) before building and sending its mail, so two processes never both send it.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from digest.formulas import email_html as formula_email_html
from digest.mail_formulas import MailFormulas
from digest.model import Digest, home_url
from digest.render import Renderer
from digest.selection import FIRST_DIGEST_DAYS, DigestBuilder
from notifier.config import Clock, Config
from notifier.mail.mailer import (
    Mailer,
    MailUnavailable,
    Outgoing,
    PermanentFailure,
    TemporaryFailure,
    compose,
    sender_domain,
)
from notifier.mail.tokens import TokenSigner, signer_for
from storage.db import Database
from storage.emails import EmailAddress
from storage.mail_ledger import weekly_item
from storage.recipients import Recipient
from storage.uow import read_stores, unit_of_work

log = logging.getLogger(__name__)

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A claim older than this belongs to a sender that died mid-send: it may be taken over.
STALE_CLAIM = timedelta(minutes=10)
# Temporary failures of one address are tried this many times in a week, the first retry RETRY_AFTER after
# the failure and each later one twice as long after the one before: the 8 tries span about 21 hours.
MAX_ATTEMPTS = 8
RETRY_AFTER = timedelta(minutes=10)
BATCH = 200
_BODY_OPEN = re.compile(r"<body[^>]*>", re.IGNORECASE)
# A mail over this many bytes goes without its formula images (their Unicode text stays): past it, clients
# clip the message (Gmail at 102 KB of HTML) or hide the images behind a download.
MAX_MAIL_BYTES = 400_000


def iso_week(moment: datetime, tz: ZoneInfo) -> str:
    """The ISO week of `moment` in `tz`, as '2025-W20'."""
    year, week, _ = moment.astimezone(tz).isocalendar()
    return f"{year:04d}-W{week:02d}"


def week_monday(week: str) -> date:
    """The Monday of ISO week '2025-W20'; ValueError for anything else."""
    match = re.fullmatch(r"(\d{4})-W(\d{2})", week)
    if match is None:
        raise ValueError(f"not an ISO week: {week!r}")
    return date.fromisocalendar(int(match[1]), int(match[2]), 1)


def previous_week(week: str) -> str:
    """The ISO week before `week`."""
    year, number, _ = (week_monday(week) - timedelta(days=7)).isocalendar()
    return f"{year:04d}-W{number:02d}"


def scheduled_moment(now: datetime, tz: ZoneInfo, day: str, at: time) -> datetime:
    """When this ISO week's mail is due: `day` ('mon' … 'sun') of the week of `now`, at `at` in `tz`."""
    local = now.astimezone(tz)
    monday = local.date() - timedelta(days=local.weekday())
    return datetime.combine(monday + timedelta(days=DAY_NAMES.index(day)), at, tzinfo=tz)


@dataclass(frozen=True, slots=True)
class Preview:
    """What a dry run would send to one address."""

    email_id: int
    address: str
    lang: str
    subject: str
    text: str


@dataclass(slots=True)
class WeeklyReport:
    """What one run did (counts per outcome); `unavailable` says why it stopped early, if it did."""

    week: str
    due: bool = True
    sent: int = 0
    skipped: int = 0
    temporary: int = 0
    permanent: int = 0
    bounced: int = 0
    already: int = 0
    unavailable: str | None = None
    previews: list[Preview] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class WeeklyLinks:
    """The links one recipient's mail carries."""

    unsubscribe: str
    view: str
    preferences: str = ""


def list_id(base_url: str) -> str:
    """The List-Id header (RFC 2919): a name and `weekly.<host of PUBLIC_BASE_URL>`."""
    host = urlsplit(base_url).hostname or "localhost"
    return f"Scientific Spaces weekly <weekly.{host}>"


def weekly_message(
    renderer: Renderer,
    digest: Digest,
    *,
    lang: str,
    to: str,
    links: WeeklyLinks,
    mail_from: str,
    base_url: str,
    now: datetime,
) -> Outgoing:
    """One recipient's weekly mail: the digest's text and HTML (as rendered) with the links added around.

    The HTML part draws each formula of the excerpts as a PNG part named by `cid:` (alt: its Unicode text);
    a mail that would weigh MAX_MAIL_BYTES or more goes without them, its formulas as text.
    """
    build = functools.partial(
        _weekly_message,
        renderer,
        digest,
        lang=lang,
        to=to,
        links=links,
        mail_from=mail_from,
        base_url=base_url,
        now=now,
    )
    outgoing = build()
    if len(outgoing.message.as_bytes()) < MAX_MAIL_BYTES:
        return outgoing
    log.warning("weekly mail: over %d bytes with formula images; sent with formulas as text", MAX_MAIL_BYTES)
    return build(draw=False)


def _weekly_message(
    renderer: Renderer,
    digest: Digest,
    *,
    lang: str,
    to: str,
    links: WeeklyLinks,
    mail_from: str,
    base_url: str,
    now: datetime,
    draw: bool = True,
) -> Outgoing:
    env = renderer.environment(lang)
    # Macros are attributes made at run time, out of the type checker's sight.
    html_lines: Any = env.get_template("email/weekly.html").module
    text_lines: Any = env.get_template("email/weekly.txt").module
    formulas = MailFormulas(sender_domain(mail_from))
    if draw:
        html = formula_email_html(renderer, digest, lang, formulas.html)
    else:
        html = renderer.email_html(digest, lang)
    top = str(html_lines.top(links.view)).strip()
    bottom = str(html_lines.bottom(links.unsubscribe, links.view, links.preferences)).strip()
    opened = _BODY_OPEN.search(html)
    if opened is not None:
        html = html[: opened.end()] + "\n" + top + html[opened.end() :]
    cut = html.rfind("</body>")
    html = html[:cut] + bottom + "\n" + html[cut:] if cut >= 0 else html + bottom
    text = (
        str(text_lines.top(links.view)).strip()
        + "\n\n"
        + renderer.email_text(digest, lang)
        + "\n"
        + str(text_lines.bottom(links.unsubscribe, links.preferences)).strip()
        + "\n"
    )
    return compose(
        mail_from=mail_from,
        to=to,
        subject=renderer.email_subject(digest, lang),
        text=text,
        html=html,
        now=now,
        headers={
            "List-Id": list_id(base_url),
            "List-Unsubscribe": f"<{links.unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        images=formulas.images,
    )


class WeeklyMail:
    """The weekly job over one database: `await WeeklyMail(...).run()` sends what the ledger says is due."""

    def __init__(
        self,
        *,
        db: Database,
        config: Config,
        renderer: Renderer,
        clock: Clock,
        stale_after: timedelta = STALE_CLAIM,
        max_attempts: int = MAX_ATTEMPTS,
        retry_after: timedelta = RETRY_AFTER,
        batch: int = BATCH,
    ) -> None:
        self.db = db
        self.config = config
        self.mail = config.mail
        self.renderer = renderer
        self.clock = clock
        self.stale_after = stale_after
        self.max_attempts = max_attempts
        self.retry_after = retry_after
        self.batch = batch

    def _lang(self, lang: str) -> str:
        return lang if lang in self.renderer.translations.languages else "zh"

    async def _digest(self, builder: DigestBuilder, email: EmailAddress, now: datetime) -> Digest | None:
        lang: Literal["zh", "en"] = "en" if email.lang == "en" else "zh"
        chosen = await read_stores(self.db).preferences.get(email.id)
        if chosen.scope == "paused":
            return None
        only = chosen.scope == "only"
        recipient = Recipient(
            "email",
            email.id,
            email.address or "",
            lang,
            email.last_digest_at,
            not only,
            frozenset(chosen.series_keys),
            chosen.words,
        )
        digest = await builder.for_recipient(recipient, now)
        if only:
            # Only what the reader chose, and no mail in a week where nothing matches.
            return None if digest is None else dataclasses.replace(digest, most_read=())
        if digest is not None or not self.mail.send_empty_weeks:
            return digest
        since = email.last_digest_at or now - timedelta(days=FIRST_DIGEST_DAYS)
        tz = self.config.tz
        return Digest(
            start=since.astimezone(tz).date(),
            end=now.astimezone(tz).date(),
            home_url=home_url(self.config.link_host),
            most_read=await builder.most_read(since, now),
        )

    def _message(
        self, signer: TokenSigner, digest: Digest, email: EmailAddress, week: str, now: datetime
    ) -> Outgoing:
        base = self.mail.public_base_url
        token = signer.make("unsubscribe", email.id, email.address_hash, now)
        lang = self._lang(email.lang)
        choose = signer.make("preferences", email.id, email.address_hash, now)
        links = WeeklyLinks(
            f"{base}/unsubscribe/{token}?lang={lang}",
            f"{base}/digest/{digest.start.isoformat()}..{digest.end.isoformat()}?lang={lang}",
            f"{base}/preferences/{choose}?lang={lang}",
        )
        return weekly_message(
            self.renderer,
            digest,
            lang=lang,
            to=email.address or "",
            links=links,
            mail_from=self.mail.mail_from,
            base_url=base,
            now=now,
        )

    async def run(self, *, dry_run: bool = False, force: bool = False) -> WeeklyReport:
        """Send this ISO week's mail to every confirmed address that has not had it.

        Without `force` nothing happens before this week's scheduled time, addresses confirmed after it
        wait for next week, and temporary failures wait out their retry delay (with it, as when sent by hand,
        they are tried now). `dry_run` sends and records nothing: it returns a preview per address instead.
        """
        now = self.clock()
        tz = self.config.tz
        week = iso_week(now, tz)
        report = WeeklyReport(week)
        due_at = scheduled_moment(now, tz, self.mail.weekly_day, self.mail.weekly_time)
        if not force and now < due_at:
            report.due = False
            return report
        if not dry_run and not self.mail.enabled:
            raise MailUnavailable("email is off: SMTP_HOST is not set")
        signer = await signer_for(self.db, self.mail.secret_key)
        builder = DigestBuilder(
            self.db, link_host=self.config.link_host, tz=tz, excerpt_chars=self.config.excerpt_chars
        )
        cutoff = None if force else due_at
        retry_after = timedelta(0) if force else self.retry_after
        after = 0
        mailer = None if dry_run else Mailer(self.mail)
        try:
            while True:
                batch = await read_stores(self.db).emails.receiving(after, self.batch)
                if not batch:
                    break
                after = batch[-1].id
                for email in batch:
                    if cutoff is not None and email.confirmed_at is not None and email.confirmed_at > cutoff:
                        continue
                    if mailer is None:
                        await self._preview(report, builder, signer, email, week, now)
                    elif not await self._deliver(
                        report, mailer, builder, signer, email, week, now, retry_after
                    ):
                        return report
        finally:
            if mailer is not None:
                await mailer.close()
        if report.sent or report.temporary or report.permanent:
            log.info(
                "weekly mail %s: %d sent, %d skipped (nothing new), %d to retry, %d refused, %d bounced",
                week,
                report.sent,
                report.skipped,
                report.temporary,
                report.permanent,
                report.bounced,
            )
        return report

    async def _preview(
        self,
        report: WeeklyReport,
        builder: DigestBuilder,
        signer: TokenSigner,
        email: EmailAddress,
        week: str,
        now: datetime,
    ) -> None:
        entry = await read_stores(self.db).mail_ledger.get(email.id, week)
        if entry is not None and entry.status == "sent":
            report.already += 1
            return
        digest = await self._digest(builder, email, now)
        if digest is None:
            report.skipped += 1
            return
        outgoing = self._message(signer, digest, email, week, now)
        text = outgoing.message.get_body(("plain",))
        report.previews.append(
            Preview(
                email.id,
                email.address or "",
                self._lang(email.lang),
                str(outgoing.message["Subject"]),
                "" if text is None else str(text.get_content()),
            )
        )

    async def _deliver(
        self,
        report: WeeklyReport,
        mailer: Mailer,
        builder: DigestBuilder,
        signer: TokenSigner,
        email: EmailAddress,
        week: str,
        now: datetime,
        retry_after: timedelta,
    ) -> bool:
        """One address: claim, build, send, record. False when the server is unavailable (stop the run)."""
        async with unit_of_work(self.db) as uow:
            claim = await uow.mail_ledger.claim(
                email.id,
                week,
                self.clock(),
                stale_after=self.stale_after,
                max_attempts=self.max_attempts,
                retry_after=retry_after,
            )
        if claim is None:
            report.already += 1
            return True
        try:
            digest = await self._digest(builder, email, now)
            outgoing = None if digest is None else self._message(signer, digest, email, week, now)
        except Exception as exc:
            async with unit_of_work(self.db) as uow:
                await uow.mail_ledger.mark_temporary_failure(claim, f"could not build: {exc}", count=False)
            raise
        if outgoing is None:
            async with unit_of_work(self.db) as uow:
                await uow.mail_ledger.mark_skipped(claim, "nothing new", self.clock())
            report.skipped += 1
            return True
        try:
            await mailer.send(outgoing)
        except MailUnavailable as exc:
            async with unit_of_work(self.db) as uow:
                await uow.mail_ledger.mark_temporary_failure(claim, str(exc), count=False)
            # A warning: the service logs it, and a one-shot command says it in its own one line.
            log.warning("weekly mail %s stopped: %s; it goes on at the next run", week, exc)
            report.unavailable = str(exc)
            return False
        except TemporaryFailure as exc:
            async with unit_of_work(self.db) as uow:
                await uow.mail_ledger.mark_temporary_failure(claim, str(exc))
            log.warning(
                "weekly mail %s: address %d: temporary failure (%s); tried again later", week, email.id, exc
            )
            report.temporary += 1
            return True
        except PermanentFailure as exc:
            async with unit_of_work(self.db) as uow:
                await uow.mail_ledger.mark_permanent_failure(claim, str(exc))
                after = (
                    await uow.emails.record_permanent_failure(email.id, week, self.clock())
                    if exc.blames_address
                    else None
                )
            log.warning(
                "weekly mail %s: address %d refused: %s%s",
                week,
                email.id,
                exc,
                "" if exc.blames_address else " (the message, not the address: no bounce counted)",
            )
            report.permanent += 1
            if after is not None and after.bounced_at is not None:
                report.bounced += 1
            return True
        async with unit_of_work(self.db) as uow:
            await uow.mail_ledger.mark_sent(claim, self.clock())
            await uow.emails.mark_digest_sent(email.id, now)
            await uow.emails.record_delivered(email.id)
        report.sent += 1
        return True


__all__ = [
    "Preview",
    "WeeklyLinks",
    "WeeklyMail",
    "WeeklyReport",
    "iso_week",
    "list_id",
    "previous_week",
    "scheduled_moment",
    "week_monday",
    "weekly_item",
    "weekly_message",
]
