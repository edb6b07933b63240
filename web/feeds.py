"""Atom feeds, the series page and the formula images they link, on the web app.

Routes: `GET /feed.atom` (the newest posts), `GET /series` (every series, its parts and its feed),
`GET /series/{id}/feed.atom` (one series, by its number or its name), `GET /formula/{key}.png` (a drawn
formula, immutable: the key is the hash of its source). Feeds answer `ETag` and 304 to `If-None-Match`;
`?lang=en` gives English words (default zh). A feed entry shows the excerpt with its formulas as images under
PUBLIC_BASE_URL, each with the readable Unicode text as `alt`; a formula that cannot be drawn is that text.

A formula image is served by its key only: the web app remembers the source of every key its feeds named,
and after a restart finds an unknown key again by re-reading the feeds (at most once a minute).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape

from aiohttp import web
from markupsafe import Markup

from digest.atom import CONTENT_TYPE, AtomEntry, AtomFeed, build_atom
from digest.formula_png import Drawing, draw
from digest.formulas import Formula, excerpt_html
from digest.render import Renderer
from notifier.feeds import FeedPost, Feeds

log = logging.getLogger(__name__)

FEED_LANGS = ("zh", "en")
IMMUTABLE = "public, max-age=31536000, immutable"
FEED_CACHE = "public, max-age=300"
RESCAN_SECONDS = 60.0
# Past this many drawn formulas in one entry the rest are text: a first request for a cold feed stays quick
# whatever an excerpt holds (a drawing costs about 13 ms, see bench/bench_formulas.py).
MAX_DRAWN_PER_ENTRY = 24
_MAX_KNOWN = 50_000


def formula_img(drawing: Drawing, url: str, alt: str) -> str:
    """An `<img>` of a drawn formula at its CSS size: on the baseline inline, centred when displayed."""
    size = f'width="{round(drawing.css_width)}" height="{round(drawing.css_height)}"'
    alt_text = escape(alt, quote=True)
    if drawing.display:
        return (
            f'<div style="text-align:center;margin:0.6em 0"><img src="{url}" alt="{alt_text}" {size} '
            f'style="max-width:100%;height:auto"></div>'
        )
    # Many feed readers drop `style`: `align="middle"` keeps a tall formula near the line's middle there.
    depth = drawing.css_depth
    return (
        f'<img src="{url}" alt="{alt_text}" {size} align="middle" '
        f'style="vertical-align:-{depth:.1f}px;display:inline;margin:0 1px">'
    )


@dataclass
class FeedSite:
    """What the feed handlers share: the feeds' data, the renderer, the public base URL and the sources of
    the formula images the feeds named."""

    feeds: Feeds
    renderer: Renderer
    base_url: str
    known: dict[str, tuple[str, bool]] = field(default_factory=dict)
    scanned_at: float = float("-inf")
    _scan_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def gettext(self, lang: str, msgid: str, **values: object) -> str:
        """A message of the catalogs in `lang`."""
        return self.renderer.translations.gettext(lang, msgid, **values)

    def image_url(self, drawing: Drawing) -> str:
        """Where the web app serves a drawing: under PUBLIC_BASE_URL, named by its hash."""
        return f"{self.base_url.rstrip('/')}/formula/{drawing.filename}"

    def _formula_html(self, formula: Formula, drawn: list[int]) -> str | None:
        if drawn[0] >= MAX_DRAWN_PER_ENTRY:
            return None
        drawing = draw(formula.source, display=formula.display)
        if drawing is None:
            return None
        if len(self.known) >= _MAX_KNOWN:
            self.known.clear()
        self.known[drawing.key] = (formula.source, formula.display)
        drawn[0] += 1
        return formula_img(drawing, self.image_url(drawing), formula.text)

    def entry(self, post: FeedPost, lang: str) -> AtomEntry:
        """One post as an Atom entry, its formulas drawn."""
        item = post.item
        count = [0]
        drawn = (
            excerpt_html(item.raw_excerpt, item.excerpt, lambda f: self._formula_html(f, count))
            if item.excerpt
            else None
        )
        excerpt = Markup(drawn) if drawn is not None else Markup("<br>\n").join(item.excerpt.split("\n"))
        content = (
            self.renderer.environment(lang)
            .get_template("web/feed_entry.html")
            .render(p=item, excerpt=excerpt)
            .strip()
        )
        categories = (item.series.name,) if item.series else ()
        ident = item.url or f"urn:kexue-notifier:post:{item.key}"
        return AtomEntry(
            id=ident,
            title=item.title,
            link=item.url or self.base_url,
            updated=post.updated,
            published=post.published,
            content_html=content,
            categories=categories,
        )

    def atom(self, *, title: str, path: str, page: str, posts: Sequence[FeedPost], lang: str) -> bytes:
        """A whole feed (drawing its formulas: run it in a thread)."""
        base = self.base_url.rstrip("/")
        updated = max((post.updated for post in posts), default=datetime(2000, 1, 1, tzinfo=UTC))
        feed = AtomFeed(
            id=f"{base}{path}",
            title=title,
            self_url=f"{base}{path}?lang={lang}",
            alternate_url=f"{base}{page}",
            updated=updated,
            author=self.gettext(lang, "Scientific Spaces"),
            entries=[self.entry(post, lang) for post in posts],
            lang=lang,
        )
        return build_atom(feed)

    async def rescan(self) -> None:
        """Re-read every feed to learn the formula keys they name (after a restart), at most once a minute."""
        async with self._scan_lock:
            if time.monotonic() - self.scanned_at < RESCAN_SECONDS:
                return
            self.scanned_at = time.monotonic()
            posts = list(await self.feeds.newest())
            for series in await self.feeds.every_series():
                posts.extend(series.posts)
            await asyncio.to_thread(lambda: [self.entry(post, "zh") for post in posts])
            log.info("feeds: %d formula images known after a rescan", len(self.known))


FEED_SITE_KEY: web.AppKey[FeedSite] = web.AppKey("feed_site", FeedSite)


def _site(request: web.Request) -> FeedSite:
    return request.app[FEED_SITE_KEY]


def _feed_lang(request: web.Request) -> str:
    lang = request.query.get("lang", "zh")
    return lang if lang in FEED_LANGS else "zh"


def etag_of(body: bytes) -> str:
    """A strong entity tag: the hash of the body."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def not_modified(request: web.Request, etag: str) -> bool:
    """Whether `If-None-Match` names `etag` (or `*`), weak or strong (RFC 9110 weak comparison)."""
    header = request.headers.get("If-None-Match", "")
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag in tags


def conditional(request: web.Request, body: bytes, content_type: str, cache: str) -> web.Response:
    """`body` with its ETag, or 304 when the client holds it already."""
    etag = etag_of(body)
    headers = {"ETag": etag, "Cache-Control": cache}
    if not_modified(request, etag):
        return web.Response(status=304, headers=headers)
    response = web.Response(body=body, headers=headers)
    response.content_type = content_type
    if content_type.startswith(("application/atom+xml", "text/")):
        response.charset = "utf-8"
    return response


async def feed_all(request: web.Request) -> web.Response:
    """The newest posts as Atom."""
    site = _site(request)
    lang = _feed_lang(request)
    posts = await site.feeds.newest()
    title = site.gettext(lang, "Scientific Spaces · every new post")
    body = await asyncio.to_thread(
        site.atom, title=title, path="/feed.atom", page="/series", posts=posts, lang=lang
    )
    return conditional(request, body, CONTENT_TYPE, FEED_CACHE)


async def feed_series(request: web.Request) -> web.Response:
    """One series' parts as Atom, newest part first; 404 for a series not known."""
    site = _site(request)
    lang = _feed_lang(request)
    ref = request.match_info["ref"]
    series = await site.feeds.series(int(ref) if ref.isascii() and ref.isdigit() else ref)
    if series is None:
        raise web.HTTPNotFound()
    posts = sorted(series.posts, key=lambda post: post.updated, reverse=True)
    title = site.gettext(lang, "%(name)s · Scientific Spaces", name=series.name)
    body = await asyncio.to_thread(
        site.atom,
        title=title,
        path=f"/series/{series.id}/feed.atom",
        page=f"/series#series-{series.id}",
        posts=posts,
        lang=lang,
    )
    return conditional(request, body, CONTENT_TYPE, FEED_CACHE)


async def formula_png(request: web.Request) -> web.Response:
    """A formula a feed named, as its PNG; 404 for a key no feed names."""
    site = _site(request)
    key = request.match_info["key"]
    if key not in site.known:
        await site.rescan()
    found = site.known.get(key)
    drawing = None if found is None else await asyncio.to_thread(draw, found[0], display=found[1])
    if drawing is None or drawing.key != key:
        raise web.HTTPNotFound()
    return conditional(request, drawing.png, "image/png", IMMUTABLE)


def add_feed_routes(app: web.Application, site: FeedSite) -> None:
    """The feed, series-page and formula-image routes (the series page itself is in web.app)."""
    app[FEED_SITE_KEY] = site
    app.router.add_get("/feed.atom", feed_all)
    app.router.add_get(r"/series/{ref:[^/]{1,200}}/feed.atom", feed_series)
    app.router.add_get(r"/formula/{key:[0-9a-f]{32}}.png", formula_png)
