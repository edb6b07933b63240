"""Rendering a digest through the jinja2 templates: Telegram messages within the limit, email HTML and text.

One template per message for every language: the words come from the gettext catalogs (digest/i18n.py),
through one jinja2 environment per language. The parts every recipient shares (one post's block, one
most-read line, an email's document around its blocks) are rendered once per language and memoized, so a run
over many recipients pays per recipient only for choosing and assembling blocks.
"""

from __future__ import annotations

import gettext
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    select_autoescape,
)
from markupsafe import Markup, escape

from digest import DigestError
from digest.excerpt import ELLIPSIS
from digest.i18n import Translations
from digest.model import Digest, MostRead, Period, PostItem
from digest.telegram import TELEGRAM_LIMIT, telegram_length

log = logging.getLogger(__name__)

Format = Literal["telegram", "email-html", "email-text"]
FORMATS: tuple[Format, ...] = ("telegram", "email-html", "email-text")

# Between blocks of a Telegram message: a blank line between posts, a line break between most-read lines.
_BLOCK_SEP = "\n\n"
_LINE_SEP = "\n"
_CACHE_LIMIT = 4096
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def default_templates_dir() -> Path:
    """`templates/` beside the packages (a checkout), else in the working directory (an installed image)."""
    candidates = [Path(__file__).resolve().parent.parent / "templates", Path.cwd() / "templates"]
    for candidate in candidates:
        if (candidate / "telegram").is_dir() and (candidate / "email").is_dir():
            return candidate
    raise DigestError("templates directory not found (looked in: " + ", ".join(map(str, candidates)) + ")")


def _thousands(value: int) -> str:
    return f"{value:,}"


def _host(url: str) -> str:
    return url.split("://", 1)[-1].rstrip("/")


def _nl2br(text: str) -> Markup:
    return Markup("<br>\n").join(escape(line) for line in text.split("\n"))


def make_environment(
    templates_dir: Path | None = None, translator: gettext.NullTranslations | None = None
) -> Environment:
    """The jinja2 environment of one language: autoescape on for `.html`, strict undefined, the digest
    filters, and `_`/`ngettext`/`pgettext` from `translator` (newstyle: named placeholders, escaped in HTML).

    Without a translator the msgids themselves show (English).
    """
    env = Environment(
        loader=FileSystemLoader(str(templates_dir or default_templates_dir())),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        extensions=["jinja2.ext.i18n"],
    )
    # The i18n extension adds this method to the environment at run time, out of the type checker's sight.
    install = env.install_gettext_translations  # type: ignore[attr-defined]
    install(translator or gettext.NullTranslations(), newstyle=True)
    env.filters["thousands"] = _thousands
    env.filters["host"] = _host
    env.filters["nl2br"] = _nl2br
    return env


_SECTIONS = ("series_blocks", "post_blocks", "most_read_blocks")
# A marker block of the email frame: NUL never occurs in a rendered template (no post string reaches it).
_MARKER = re.compile("\x00(" + "|".join(_SECTIONS) + "):([01])\x00")


@dataclass(frozen=True, slots=True)
class _Frame:
    """An email document without its blocks: `texts[i]`, then section i's blocks joined by its separator."""

    texts: tuple[str, ...]
    sections: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class _Block:
    """A rendered Telegram block and its length as Telegram counts it."""

    html: str
    length: int


class Renderer:
    """Renders digests and notifications in any language with a catalog; `cached=False` re-renders every
    block (the naive baseline).

    One template per message; its strings come from `translations` (default: the catalogs of `locales_dir`,
    itself defaulting to `default_locales_dir()`). A language is any code in `translations.languages`.
    """

    def __init__(
        self,
        templates_dir: Path | None = None,
        *,
        locales_dir: Path | None = None,
        translations: Translations | None = None,
        limit: int = TELEGRAM_LIMIT,
        cached: bool = True,
    ) -> None:
        self.templates_dir = templates_dir or default_templates_dir()
        self.translations = translations or Translations.load(locales_dir)
        self.limit = limit
        self.cached = cached
        self._envs: dict[str, Environment] = {}
        self._modules: dict[tuple[str, str], Any] = {}
        self._blocks: dict[tuple[str, str, str, object], _Block] = {}
        self._html: dict[tuple[str, str, str, object], str] = {}
        self._frames: dict[tuple[str, str, Period, tuple[str, ...]], _Frame] = {}

    # --- template access --------------------------------------------------------------------------

    def environment(self, lang: str) -> Environment:
        """The jinja2 environment of `lang` (its catalog installed), made once; an unknown language is a
        DigestError."""
        env = self._envs.get(lang)
        if env is None:
            env = self._envs[lang] = make_environment(self.templates_dir, self.translations.translator(lang))
        return env

    def _template(self, lang: str, name: str) -> Template:
        try:
            return self.environment(lang).get_template(name)
        except TemplateNotFound as exc:
            raise DigestError(f"template {name} not found") from exc

    def _module(self, lang: str, name: str) -> Any:
        module = self._modules.get((lang, name))
        if module is None:
            module = self._modules[(lang, name)] = self._template(lang, name).module
        return module

    def _macro(self, lang: str, template: str, macro: str, *args: object) -> str:
        return str(getattr(self._module(lang, template), macro)(*args)).strip()

    def _memo(self, lang: str, template: str, macro: str, arg: object) -> str:
        """A macro's output, rendered once per language and distinct argument when caching."""
        return self._remember((lang, template, macro, arg), lambda: self._macro(lang, template, macro, arg))

    def _remember(self, key: tuple[str, str, str, object], produce: Callable[[], str]) -> str:
        if not self.cached:
            return produce()
        found = self._html.get(key)
        if found is None:
            if len(self._html) >= _CACHE_LIMIT:
                self._html.clear()
            found = self._html[key] = produce()
        return found

    def _block(self, lang: str, template: str, macro: str, arg: object) -> _Block:
        if not self.cached:
            html = self._macro(lang, template, macro, arg)
            return _Block(html, telegram_length(html))
        key = (lang, template, macro, arg)
        found = self._blocks.get(key)
        if found is None:
            if len(self._blocks) >= _CACHE_LIMIT:
                self._blocks.clear()
            html = self._macro(lang, template, macro, arg)
            found = self._blocks[key] = _Block(html, telegram_length(html))
        return found

    # --- Telegram ---------------------------------------------------------------------------------

    def telegram_post(self, item: PostItem, lang: str) -> str:
        """The notification of one new post, shortened (excerpt first, then title) to fit one message.

        Rendered once per language and post when caching: every subscriber gets the same.
        """
        return self._remember((lang, "telegram/post.html", "", item), lambda: self._telegram_post(item, lang))

    def _telegram_post(self, item: PostItem, lang: str) -> str:
        template = self._template(lang, "telegram/post.html")

        def render(candidate: PostItem) -> str:
            return template.render(p=candidate).strip()

        html = render(item)
        if telegram_length(html) <= self.limit:
            return html
        return _fit(item, lambda candidate: render(candidate), self.limit).html

    def telegram_digest(self, digest: Digest, lang: str) -> list[str]:
        """The digest as Telegram messages of at most `limit` characters each, split between posts."""
        template = "telegram/digest.html"
        period = digest.period
        header = self._block(lang, template, "header", period)
        continued = self._block(lang, template, "continued", period)
        footer = self._block(lang, template, "footer", period)
        reserve = len(_BLOCK_SEP) + footer.length
        messages: list[list[str]] = []
        current: list[str] = [header.html]
        used = header.length

        sections: list[tuple[str, str, Sequence[PostItem | MostRead]]] = [
            ("series", "post", digest.series_updates),
            ("posts", "post", digest.posts),
            ("most_read", "most_read", digest.most_read),
        ]
        for kind, macro, entries in sections:
            if not entries:
                continue
            heading = self._block(lang, template, "section", kind)
            separator = _BLOCK_SEP if macro == "post" else _LINE_SEP
            for index, entry in enumerate(entries):
                block = self._block(lang, template, macro, entry)
                lead = [(_BLOCK_SEP, heading), (_BLOCK_SEP, block)] if index == 0 else [(separator, block)]
                need = sum(len(sep) + b.length for sep, b in lead)
                if used + need + reserve > self.limit and len(current) > 1:
                    messages.append(current)
                    current, used = [continued.html], continued.length
                    lead = [(_BLOCK_SEP, heading), (_BLOCK_SEP, block)]
                    need = sum(len(sep) + b.length for sep, b in lead)
                if used + need + reserve > self.limit:
                    budget = self.limit - reserve - used - (need - block.length)
                    block = self._shortened(lang, template, macro, entry, budget)
                    lead[-1] = (lead[-1][0], block)
                for sep, piece in lead:
                    current.append(sep)
                    current.append(piece.html)
                    used += len(sep) + piece.length
        current.append(_BLOCK_SEP)
        current.append(footer.html)
        messages.append(current)
        return ["".join(parts) for parts in messages]

    def _shortened(
        self, lang: str, template: str, macro: str, entry: PostItem | MostRead, budget: int
    ) -> _Block:
        """A block too long for a message on its own, shortened to `budget` without breaking any tag."""
        log.info("digest: shortening a %s block to %d characters", macro, budget)
        if isinstance(entry, MostRead):
            most_read = entry

            def render_most_read(candidate: PostItem) -> str:
                return self._macro(lang, template, macro, replace(most_read, item=candidate))

            return _fit(most_read.item, render_most_read, budget)
        return _fit(entry, lambda candidate: self._macro(lang, template, macro, candidate), budget)

    # --- email ------------------------------------------------------------------------------------

    def email_subject(self, digest: Digest, lang: str) -> str:
        """The subject line of the digest email."""
        return self._memo(lang, "email/blocks.txt", "subject", digest.period)

    def email_html(self, digest: Digest, lang: str) -> str:
        """The digest email's HTML part."""
        return self._email(digest, lang, "html")

    def email_text(self, digest: Digest, lang: str) -> str:
        """The digest email's plain-text part."""
        return self._email(digest, lang, "txt")

    def _email(self, digest: Digest, lang: str, ext: str) -> str:
        blocks = f"email/blocks.{ext}"
        sections = {
            "series_blocks": [self._memo(lang, blocks, "post", p) for p in digest.series_updates],
            "post_blocks": [self._memo(lang, blocks, "post", p) for p in digest.posts],
            "most_read_blocks": [self._memo(lang, blocks, "most_read", m) for m in digest.most_read],
        }
        if not self.cached:
            wrap: Callable[[str], str] = Markup if ext == "html" else str
            rendered = self._email_document(
                lang, ext, digest.period, {k: list(map(wrap, v)) for k, v in sections.items()}
            )
            return rendered.strip() + "\n"
        frame = self._email_frame(lang, ext, digest.period, tuple(name for name, v in sections.items() if v))
        parts = [frame.texts[0]]
        for (name, separator), text in zip(frame.sections, frame.texts[1:], strict=True):
            parts.append(separator.join(sections[name]))
            parts.append(text)
        return "".join(parts).strip() + "\n"

    def _email_document(self, lang: str, ext: str, period: Period, sections: dict[str, list[str]]) -> str:
        return self._template(lang, f"email/digest.{ext}").render(
            d=period, subject=self._memo(lang, "email/blocks.txt", "subject", period), **sections
        )

    def _email_frame(self, lang: str, ext: str, period: Period, present: tuple[str, ...]) -> _Frame:
        """The email document around its blocks, rendered once per language, period and non-empty sections.

        Everything but the blocks (headings, dates, footer: the translated words) is the same for every
        recipient of a period, so it is rendered with two marker blocks per section, which also show what the
        template puts between two blocks; a recipient's document is then the frame joined with their blocks.
        """
        key = (lang, ext, period, present)
        found = self._frames.get(key)
        if found is not None:
            return found
        wrap: Callable[[str], str] = Markup if ext == "html" else str
        markers = {name: [wrap(f"\x00{name}:{i}\x00") for i in (0, 1)] for name in present}
        rendered = self._email_document(
            lang, ext, period, {name: markers.get(name, []) for name in _SECTIONS}
        )
        pieces = _MARKER.split(rendered)
        # The text before the first marker, then (name, index, text after) for each marker in order.
        texts, sections = [pieces[0]], []
        for at in range(1, len(pieces), 6):
            name, first, between, again, second, after = (pieces[at : at + 6] + [""] * 6)[:6]
            if (first, again, second) != ("0", name, "1"):
                break
            sections.append((name, between))
            texts.append(after)
        if len(pieces) != 1 + 6 * len(sections) or sorted(n for n, _ in sections) != sorted(present):
            raise DigestError(
                f"template email/digest.{ext} must show each non-empty block list once, in a loop"
            )
        if len(self._frames) >= _CACHE_LIMIT:
            self._frames.clear()
        frame = self._frames[key] = _Frame(tuple(texts), tuple(sections))
        return frame

    # --- any format -------------------------------------------------------------------------------

    def render(self, digest: Digest, lang: str, fmt: Format) -> list[str]:
        """The digest in one format: Telegram gives one or more messages, email one document."""
        if fmt == "telegram":
            return self.telegram_digest(digest, lang)
        if fmt == "email-html":
            return [self.email_html(digest, lang)]
        if fmt == "email-text":
            return [self.email_text(digest, lang)]
        raise DigestError(f"unknown format {fmt!r}")


def _truncate(text: str, keep: int) -> str:
    """The first `keep` characters and `…`, never splitting a letter from its combining marks."""
    if keep >= len(text):
        return text
    while keep > 0 and _COMBINING.match(text[keep]):
        keep -= 1
    return text[:keep].rstrip() + ELLIPSIS


def _fit(item: PostItem, render: Callable[[PostItem], str], budget: int) -> _Block:
    """Shorten `item` until `render(item)` fits `budget`: drop the excerpt, then cut title and series name.

    The strings are cut before rendering, so escaping and tags stay intact.
    """
    candidate = replace(item, excerpt="")
    html = render(candidate)
    length = telegram_length(html)
    if length <= budget:
        return _Block(html, length)

    def shortened(keep: int) -> PostItem:
        series = candidate.series
        if series is not None:
            series = replace(series, name=_truncate(series.name, keep))
        return replace(candidate, title=_truncate(candidate.title, keep), series=series)

    longest = max(len(candidate.title), len(candidate.series.name) if candidate.series else 0)
    low, high = 0, longest
    best: _Block | None = None
    while low <= high:
        middle = (low + high) // 2
        html = render(shortened(middle))
        length = telegram_length(html)
        if length <= budget:
            best = _Block(html, length)
            low = middle + 1
        else:
            high = middle - 1
    if best is None:
        raise DigestError(f"a post cannot be shortened to {budget} characters")
    return best
