"""Composing: a delivery row becomes the messages it sends, in the reader's language.

A post notification is rendered twice (HTML with readable math, and a rich variant with native math); a
burst of posts and a scheduled digest become one or more HTML messages; an alert to an admin is one line.
A row with nothing left to send (a digest reader with nothing new) composes to no message and a note.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from digest import DigestError
from digest.model import Digest, Lang, PostItem, check_lang, home_url
from digest.render import Renderer
from digest.rich import rich_post_html
from digest.selection import DigestBuilder
from notifier.config import Clock
from notifier.ingest.alerts import alert_html
from notifier.ingest.watching import with_watch_note
from notifier.services.formulas import AGAIN_POST, switch_data
from notifier.telegram import Button, Keyboard, RichMessage
from storage.db import Database
from storage.deliveries import Delivery
from storage.recipients import Recipient
from storage.uow import read_stores


def chat_id_of(recipient: str) -> int | str:
    """A row's recipient as Telegram wants it: an int chat id, or `@channelname`."""
    return int(recipient) if recipient.lstrip("-").isdigit() else recipient


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to send: Telegram HTML, the rich variant with native math if any, a button URL."""

    html: str
    rich_html: str | None = None
    url: str | None = None
    lang: Lang = "zh"
    # The post a reader's notification is about: its rich variant may carry the switch to text.
    post_pk: int | None = None


@dataclass(frozen=True, slots=True)
class Composed:
    """A row's messages; none (with `note` saying why) when there is nothing to send."""

    messages: list[Outgoing]
    note: str | None = None
    digest_for: int | None = None  # the subscriber whose last digest time moves to now once done


class Composer:
    """Builds each row's messages from the stores (one digest builder, renewed now and then)."""

    def __init__(
        self,
        *,
        db: Database,
        renderer: Renderer,
        tz: ZoneInfo,
        link_host: str,
        excerpt_chars: int,
        clock: Clock,
        rich: bool = True,
    ) -> None:
        self.db = db
        self.renderer = renderer
        self.tz = tz
        self.link_host = link_host
        self.excerpt_chars = excerpt_chars
        self.clock = clock
        self.rich = rich
        self._builder: DigestBuilder | None = None
        self._builder_uses = 0

    def builder(self) -> DigestBuilder:
        """The digest builder, renewed now and then so its caches stay small."""
        if self._builder is None or self._builder_uses > 1000:
            self._builder = DigestBuilder(
                self.db, link_host=self.link_host, tz=self.tz, excerpt_chars=self.excerpt_chars
            )
            self._builder_uses = 0
        self._builder_uses += 1
        return self._builder

    async def compose(self, delivery: Delivery) -> Composed:
        """The messages of one row, in the reader's language."""
        lang: Lang = check_lang(delivery.lang) if delivery.lang in ("zh", "en") else "zh"
        if delivery.kind == "alert":
            text = alert_html(self.renderer.translations, lang, delivery.item, delivery.payload)
            return Composed([Outgoing(text, lang=lang)])
        if delivery.kind in ("post", "channel"):
            item, raw = await self._item(delivery.post_pks[0])
            html = self.renderer.telegram_post(item, lang)
            rich = rich_post_html(self.renderer, item, raw, lang) if self.rich else None
            if delivery.kind == "post":
                html, rich = await with_watch_note(
                    self.db, self.renderer, delivery.recipient, item, delivery.post_pks[0], lang, html, rich
                )
            pk = item.key if delivery.kind == "post" else None
            return Composed([Outgoing(html, rich, item.url, lang, post_pk=pk)])
        if delivery.kind == "burst":
            items = [(await self._item(pk))[0] for pk in delivery.post_pks]
            today = self.clock().astimezone(self.tz).date()
            digest = Digest(start=today, end=today, home_url=home_url(self.link_host), posts=tuple(items))
            messages = self.renderer.telegram_digest(digest, lang)
            return Composed([Outgoing(html, lang=lang) for html in messages])
        return await self._scheduled_digest(delivery)

    async def _item(self, pk: int) -> tuple[PostItem, str]:
        """The post's message view and its raw excerpt (the rich rendering keeps the LaTeX)."""
        stored = await read_stores(self.db).posts.by_pk(pk)
        if stored is None:
            raise DigestError(f"post {pk} is no longer stored")
        return await self.builder().item(stored), stored.post.excerpt

    async def _scheduled_digest(self, delivery: Delivery) -> Composed:
        chat = chat_id_of(delivery.recipient)
        reads = read_stores(self.db).subscribers
        subscriber = await reads.get(chat) if isinstance(chat, int) else None
        if subscriber is None or subscriber.mode == "instant" or not subscriber.reachable:
            return Composed([], note="no longer a digest reader")
        follows = await reads.follows(subscriber.chat_id)
        recipient = Recipient(
            "telegram",
            subscriber.id,
            delivery.recipient,
            check_lang(subscriber.lang) if subscriber.lang in ("zh", "en") else "zh",
            subscriber.last_digest_at,
            follows.everything,
            follows.series_keys,
        )
        digest = await self.builder().for_recipient(recipient, self.clock())
        if digest is None or digest.empty:
            # Recorded as done, and the reader's digest time moves on: nothing new is not re-evaluated.
            return Composed([], note="nothing new", digest_for=subscriber.id)
        messages = self.renderer.telegram_digest(digest, recipient.lang)
        return Composed([Outgoing(html, lang=recipient.lang) for html in messages], digest_for=subscriber.id)

    def read_button(self, lang: str) -> str:
        """The label of a notification's link button, in the reader's language."""
        return self.renderer.translations.gettext(lang, "Read the post")

    def message(self, out: Outgoing) -> tuple[RichMessage, Keyboard]:
        """One outgoing message as the Telegram adapter sends it: both forms, the switch, the link button."""
        switch = None
        if out.post_pk is not None:
            label = self.renderer.translations.gettext(out.lang, "Formulas look wrong?")
            switch = (label, switch_data(AGAIN_POST, out.post_pk))
        keyboard: Keyboard = ()
        if out.url is not None:
            keyboard = ((Button(self.read_button(out.lang), url=out.url),),)
        return RichMessage((out.html,), out.rich_html, switch), keyboard
