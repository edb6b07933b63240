"""The web app of the weekly email (aiohttp): sign up, confirm, unsubscribe, the digest in a browser, health.

Routes: `GET /` (the sign-up form), `POST /subscribe`, `GET /confirm/{token}` (a page with a button: mail
scanners follow GET links and must not confirm) and `POST /confirm/{token}`, `GET /unsubscribe/{token}` (a
page with a button) and `POST /unsubscribe/{token}` (RFC 8058 one-click: a mail client posts
`List-Unsubscribe=One-Click` with no cookie, so the signed token in the path is the whole authority),
`GET /digest/{year}-W{week}`, `GET /digest/{first}..{last}` (the period one weekly email covered, each
formula written as MathML), `GET|POST /preferences/{token}` (what the weekly email holds: web/preferences.py),
`GET /series` (every series with its parts and its Atom feed; the feeds and their formula images are in
web/feeds.py) and `GET /healthz`. A bad, forged or expired token gets a plain 404 page.

Forms carry a CSRF token: a random cookie and, in the form, an HMAC of it under SECRET_KEY (double submit);
pages in zh and en from the gettext catalogs (`?lang=`, then a cookie, then Accept-Language). Every answer
says `Referrer-Policy: no-referrer`, since paths carry tokens.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from digest.render import Renderer
from notifier.feeds import Feeds
from notifier.listening import GuardedRunner, Limits, connection_cap
from notifier.mail.tokens import TokenSigner
from notifier.services import EmailSignUpStatus, LinkState, Services
from notifier.services.choices import Choices
from web.digests import add_digest_routes
from web.feeds import FEED_SITE_KEY, FeedSite, add_feed_routes
from web.metrics import metrics_handler
from web.pages import (
    MAX_BODY,
    PAGES_KEY,
    SECURITY_HEADERS,
    SERVICES_KEY,
    Pages,
    pages_of,
    services_of,
    trusted_form,
)
from web.preferences import add_preference_routes

log = logging.getLogger(__name__)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def index(request: web.Request) -> web.Response:
    """The sign-up form."""
    pages = pages_of(request)
    lang = pages.lang(request)
    return pages.render(request, "index.html", title=pages.gettext(lang, "The weekly email"))


async def subscribe(request: web.Request) -> web.Response:
    """A sign-up from the form; the answer never tells whether the address was known."""
    pages = pages_of(request)
    form = await trusted_form(pages, request)
    if isinstance(form, web.Response):
        return form
    lang = pages.lang(request)
    chosen = form.get("lang")
    if isinstance(chosen, str) and chosen in pages.renderer.translations.languages:
        lang = chosen
    address = form.get("address")
    result = await services_of(request).email.sign_up(
        address if isinstance(address, str) else "", lang, ip=pages_of(request).client_address(request)
    )
    title = pages.gettext(lang, "The weekly email")
    outcome = result.status
    if outcome is EmailSignUpStatus.ACCEPTED:
        status, text = (
            200,
            pages.gettext(
                lang,
                "Thank you. If this address can receive mail, a confirmation link is on its way: open it to "
                "start the weekly email.",
            ),
        )
    elif outcome is EmailSignUpStatus.INVALID:
        # The form again, with what was typed and why it was refused: nothing to type twice.
        return pages.render(
            request,
            "index.html",
            title=title,
            status=400,
            error=pages.gettext(lang, "That does not look like an email address. Please check it."),
            address=address if isinstance(address, str) else "",
        )
    elif outcome is EmailSignUpStatus.LIMITED:
        status, text = (
            429,
            pages.gettext(lang, "Too many sign-ups from here today. Please try again tomorrow."),
        )
    elif outcome is EmailSignUpStatus.EMAIL_OFF:
        status, text = 503, pages.gettext(lang, "This service sends no email at the moment.")
    else:
        status, text = (
            503,
            pages.gettext(lang, "The confirmation mail could not be sent just now. Please try later."),
        )
    return pages.message(request, title, text, status=status)


async def confirm_page(request: web.Request) -> web.Response:
    """The page of a confirmation link: a button, so that following the link confirms nothing."""
    pages = pages_of(request)
    lang = pages.lang(request)
    state, address = await services_of(request).email.confirm_link(request.match_info["token"])
    if state is LinkState.INVALID:
        return pages.not_found(request)
    if state is LinkState.CONFIRMED:
        return pages.message(
            request, pages.gettext(lang, "Confirmed"), pages.gettext(lang, "This address is confirmed.")
        )
    return pages.render(
        request,
        "confirm.html",
        title=pages.gettext(lang, "Confirm your address"),
        action=request.path,
        address=address,
    )


async def confirm(request: web.Request) -> web.Response:
    """The confirm button: the address gets the weekly email from now on."""
    pages = pages_of(request)
    form = await trusted_form(pages, request)
    if isinstance(form, web.Response):
        return form
    lang = pages.lang(request)
    state = await services_of(request).email.confirm(request.match_info["token"])
    if state is LinkState.INVALID:
        return pages.not_found(request)
    return pages.message(
        request,
        pages.gettext(lang, "Confirmed"),
        pages.gettext(lang, "Thank you: the weekly email will come to this address."),
    )


async def unsubscribe_page(request: web.Request) -> web.Response:
    """The page of an unsubscribe link: a button (the one-click POST needs none)."""
    pages = pages_of(request)
    lang = pages.lang(request)
    state = await services_of(request).email.link(request.match_info["token"], "unsubscribe")
    if state is LinkState.INVALID:
        return pages.not_found(request)
    if state is LinkState.UNSUBSCRIBED:
        return pages.message(
            request,
            pages.gettext(lang, "Unsubscribed"),
            pages.gettext(lang, "This address gets no more mail."),
        )
    return pages.render(
        request, "unsubscribe.html", title=pages.gettext(lang, "Unsubscribe"), action=request.path
    )


async def unsubscribe(request: web.Request) -> web.Response:
    """Unsubscribe: the page's button, or a mail client's RFC 8058 one-click POST (no cookie, no form)."""
    pages = pages_of(request)
    await request.read()
    lang = pages.lang(request)
    state = await services_of(request).email.unsubscribe(request.match_info["token"])
    if state is LinkState.INVALID:
        return pages.not_found(request)
    return pages.message(
        request, pages.gettext(lang, "Unsubscribed"), pages.gettext(lang, "This address gets no more mail.")
    )


async def series_page(request: web.Request) -> web.Response:
    """Every series with its parts and the link to its Atom feed."""
    pages = pages_of(request)
    lang = pages.lang(request)
    series = await request.app[FEED_SITE_KEY].feeds.every_series()
    return pages.render(
        request, "series.html", title=pages.gettext(lang, "Series on Scientific Spaces"), series=series
    )


async def healthz(request: web.Request) -> web.Response:
    """`{"status": "ok"}` while the database answers, else 503 `{"status": "error"}`; nothing more."""
    try:
        await services_of(request).archive.post_count()
    except Exception as exc:
        log.error("healthz: the database does not answer: %s", exc)
        return web.json_response({"status": "error"}, status=503)
    return web.json_response({"status": "ok"}, dumps=json.dumps)


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers on every answer; unknown paths and methods get the plain 404 page."""
    try:
        response = await handler(request)
    except web.HTTPNotFound:
        response = pages_of(request).not_found(request)
    except web.HTTPMethodNotAllowed:
        response = pages_of(request).not_found(request)
        response.set_status(405)
    for name, value in SECURITY_HEADERS.items():
        # A handler that chose its own caching (the immutable formula drawings, the feeds) keeps it.
        response.headers.setdefault(name, value)
    return response


def create_web_app(services: Services, renderer: Renderer, signer: TokenSigner) -> web.Application:
    """The aiohttp application over the service layer."""
    app = web.Application(middlewares=[_guard], client_max_size=MAX_BODY)
    app[SERVICES_KEY] = services
    app[PAGES_KEY] = Pages(renderer, signer, services.config.mail)
    app.router.add_get("/", index)
    app.router.add_post("/subscribe", subscribe)
    app.router.add_get("/confirm/{token}", confirm_page)
    app.router.add_post("/confirm/{token}", confirm)
    app.router.add_get("/unsubscribe/{token}", unsubscribe_page)
    app.router.add_post("/unsubscribe/{token}", unsubscribe)
    add_digest_routes(app)
    app.router.add_get("/series", series_page)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_handler(services, services.config.mail.metrics_token))
    choices = Choices(db=services.db, clock=services.clock, config=services.config)
    add_preference_routes(app, choices, pages_of, trusted_form)
    config = services.config
    feeds = Feeds(services.db, link_host=config.link_host, tz=config.tz)
    add_feed_routes(app, FeedSite(feeds, renderer, config.mail.public_base_url))
    return app


class _MalformedRequests(logging.Filter):
    """aiohttp logs a request it cannot parse (a request line over 8 KiB, a broken header) at ERROR with a
    traceback and answers 400: that is the client's mistake, so one INFO line without the trace instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and 400 <= exc.code < 500:
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            log.info("web: malformed request from %s refused (%d): %.200s", remote, exc.code, exc.message)
            return False
        return True


# The server's own log (aiohttp's "aiohttp.server" is shared with any other aiohttp server in the process).
_server_log = logging.getLogger("web.server")
_server_log.addFilter(_MalformedRequests())


class WebServer:
    """The web app listening on a host and port; `url` is where it really listens."""

    def __init__(self, runner: web.AppRunner, url: str) -> None:
        self.runner = runner
        self.url = url

    async def stop(self) -> None:
        """Stop listening and finish the requests in flight."""
        await self.runner.cleanup()


async def start_web(services: Services, renderer: Renderer, *, host: str, port: int) -> WebServer:
    """Serve the web app on `host`:`port` (0: any free port); OSError when the port cannot be had."""
    signer = await services.signer()
    mail = services.config.mail
    limits = Limits(
        "web",
        read_timeout=mail.read_timeout,
        max_connections=connection_cap(mail.max_connections),
        headers=SECURITY_HEADERS,
    )
    app = create_web_app(services, renderer, signer)
    runner = GuardedRunner(app, limits, access_log=None, logger=_server_log)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    addresses = runner.addresses
    bound = int(addresses[0][1]) if addresses else port
    shown = f"[{host}]" if ":" in host else host
    return WebServer(runner, f"http://{shown}:{bound}")
