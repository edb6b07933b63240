"""What the web app's pages share: languages, CSRF forms, client addresses, the security headers."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy

from digest.render import Renderer
from notifier.config import MailConfig
from notifier.mail.tokens import TokenSigner
from notifier.services import Services

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

CSRF_COOKIE = "csrf"
LANG_COOKIE = "lang"
MAX_BODY = 16 * 1024
SECURITY_HEADERS = {
    # Pages carry tokens (confirm, unsubscribe) and CSRF values: no cache, shared or private, keeps one.
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}


@dataclass(frozen=True, slots=True)
class Pages:
    """What the handlers share: the renderer (templates and catalogs) and the signer of CSRF tokens."""

    renderer: Renderer
    signer: TokenSigner
    mail: MailConfig

    def client_address(self, request: web.Request) -> str:
        """The client's IP, through the proxies of WEB_TRUSTED_PROXIES."""
        trusted = [ipaddress.ip_network(net, strict=False) for net in self.mail.trusted_proxies]
        return client_address(request.remote, request.headers.getall("X-Forwarded-For", []), trusted)

    def lang(self, request: web.Request) -> str:
        """The page language: `?lang=`, then the cookie, then Accept-Language, then zh."""
        known = self.renderer.translations.languages
        for candidate in (request.query.get("lang"), request.cookies.get(LANG_COOKIE)):
            if candidate in known:
                return str(candidate)
        for part in request.headers.get("Accept-Language", "").split(","):
            code = part.split(";", 1)[0].strip().lower()[:2]
            if code in known:
                return code
        return "zh" if "zh" in known else known[0]

    def gettext(self, lang: str, msgid: str, **values: Any) -> str:
        """A message of the catalogs in `lang`."""
        return self.renderer.translations.gettext(lang, msgid, **values)

    def render(
        self, request: web.Request, template: str, *, title: str, status: int = 200, **values: Any
    ) -> web.Response:
        """A page of `templates/web/`, with a CSRF cookie (made if missing) and the language remembered."""
        lang = self.lang(request)
        session = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        html = (
            self.renderer.environment(lang)
            .get_template(f"web/{template}")
            .render(
                title=title,
                lang=lang,
                csrf=self.signer.csrf(session),
                **values,
            )
        )
        response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
        # Secure when the browser came over https (here or at a proxy): that cookie never returns over http.
        secure = request.secure or request.headers.get("X-Forwarded-Proto") == "https"
        if CSRF_COOKIE not in request.cookies:
            response.set_cookie(
                CSRF_COOKIE, session, httponly=True, samesite="Strict", secure=secure, path="/"
            )
        if request.query.get("lang") == lang:
            response.set_cookie(
                LANG_COOKIE, lang, samesite="Lax", secure=secure, path="/", max_age=365 * 86400
            )
        return response

    def message(
        self,
        request: web.Request,
        title: str,
        message: str,
        *,
        status: int = 200,
        home: bool = True,
        links: Sequence[tuple[str, str]] = (),
    ) -> web.Response:
        """A page that says one thing (and offers `links`, (href, text) pairs, besides the sign-up)."""
        return self.render(
            request,
            "message.html",
            title=title,
            message=message,
            status=status,
            home=home and not links,
            links=links,
        )

    def not_found(self, request: web.Request) -> web.Response:
        """The plain 404 page (a bad or forged token gets nothing more)."""
        lang = self.lang(request)
        return self.message(
            request,
            self.gettext(lang, "Not found"),
            self.gettext(lang, "This page does not exist, or the link is no longer valid."),
            status=404,
        )

    async def csrf_ok(self, request: web.Request, form: Any) -> bool:
        """Whether the form's CSRF token is the HMAC of this browser's CSRF cookie."""
        session = request.cookies.get(CSRF_COOKIE)
        sent = form.get("csrf")
        if not session or not isinstance(sent, str):
            return False
        # As bytes: compare_digest refuses str with non-ASCII characters (TypeError), and a form can send any.
        return hmac.compare_digest(sent.encode("utf-8", "surrogatepass"), self.signer.csrf(session).encode())

    def csrf_refused(self, request: web.Request, *, status: int = 403) -> web.Response:
        """The answer to a form post without a valid CSRF token (400: a body that was no form at all)."""
        lang = self.lang(request)
        return self.message(
            request,
            self.gettext(lang, "Please try again"),
            self.gettext(
                lang, "The form had expired or came from another site. Reload the page and try again."
            ),
            status=status,
        )


async def read_form(request: web.Request) -> MultiDictProxy[str | bytes | bytearray | web.FileField] | None:
    """The posted form, or None when the body cannot be read as one (malformed multipart, unknown charset).

    aiohttp raises plain exceptions for those (ValueError, LookupError, its HttpProcessingError), which
    would otherwise be a 500 and a traceback for what is the client's mistake. A body over MAX_BODY stays
    aiohttp's 413.
    """
    try:
        return await request.post()
    except (ValueError, LookupError, HttpProcessingError) as exc:
        log.info("web: unreadable form body on %s: %s", request.path, type(exc).__name__)
        return None


SERVICES_KEY: web.AppKey[Services] = web.AppKey("services", Services)
PAGES_KEY: web.AppKey[Pages] = web.AppKey("pages", Pages)


def services_of(request: web.Request) -> Services:
    """The service layer of the app serving `request`."""
    return request.app[SERVICES_KEY]


def pages_of(request: web.Request) -> Pages:
    """The shared page helper of the app serving `request`."""
    return request.app[PAGES_KEY]


async def trusted_form(
    pages: Pages, request: web.Request
) -> MultiDictProxy[str | bytes | bytearray | web.FileField] | web.Response:
    """The posted form with a valid CSRF token, or the page refusing it (400 unreadable, 403 forged)."""
    form = await read_form(request)
    if form is None:
        return pages.csrf_refused(request, status=400)
    if not await pages.csrf_ok(request, form):
        return pages.csrf_refused(request)
    return form


def client_address(remote: str | None, forwarded_for: Sequence[str], trusted: Sequence[IPNetwork]) -> str:
    """The client's IP: the peer, unless it is a trusted proxy; then the nearest untrusted hop of
    X-Forwarded-For (read right to left, each proxy appends the address it saw), or the peer when the header
    is absent or malformed."""
    peer = _ip(remote)
    if peer is None:
        return remote or "unknown"
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
    current = peer
    for hop in reversed(hops):
        if not any(current in network for network in trusted):
            break
        previous = _ip(hop)
        if previous is None:
            break
        current = previous
    return str(current)


def _ip(text: str | None) -> IPAddress | None:
    try:
        return ipaddress.ip_address((text or "").strip().strip("[]"))
    except ValueError:
        return None
