"""The note on a notification that a reader's watched words caught: which words matched.

The words were recorded at fan-out time (`watch_hits`), so the note names exactly the watches that matched
then, whatever the reader changed since.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from digest.model import PostItem
from digest.render import Renderer
from digest.telegram import TELEGRAM_LIMIT, telegram_length
from storage.db import Database
from storage.uow import read_stores

TEMPLATE = "telegram/watch.html"


def watch_macros(renderer: Renderer, lang: str) -> Any:
    """The macros of the watch template in `lang` (attributes made at run time)."""
    return renderer.environment(lang).get_template(TEMPLATE).module


def note_html(renderer: Renderer, lang: str, words: list[str]) -> str:
    """One line naming the watched words a post matched."""
    return str(watch_macros(renderer, lang).matched(words)).strip()


async def with_watch_note(
    db: Database,
    renderer: Renderer,
    recipient: str,
    item: PostItem,
    pk: int,
    lang: str,
    html: str,
    rich: str | None,
) -> tuple[str, str | None]:
    """A post's notification (HTML and rich variant) with the note prepended when watches caught it.

    The note goes first so that a reader sees at once why the post came; when the two do not fit one
    message the note stays, the excerpt goes, and so does the rich variant (it exists for the excerpt).
    """
    if not recipient.lstrip("-").isdigit():
        return html, rich
    words = await read_stores(db).watches.words_for(int(recipient), pk)
    if not words:
        return html, rich
    note = note_html(renderer, lang, words)
    noted = note + "\n" + html
    if telegram_length(noted) > TELEGRAM_LIMIT:
        return note + "\n" + renderer.telegram_post(dataclasses.replace(item, excerpt=""), lang), None
    return noted, None if rich is None else note + "\n" + rich
