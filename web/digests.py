"""The digests in the browser: an ISO week (`/digest/2025-W20`) or one weekly email's days
(`/digest/2025-12-15..2025-12-22`), as the weekly email's HTML with formulas in MathML, linked to the weeks
around it and to the sign-up; an empty week or a span too long says so instead of a blank or a 404."""

from __future__ import annotations

from datetime import date, timedelta
from html import escape

from aiohttp import web

from digest.formulas import Formula
from digest.formulas import email_html as formula_email_html
from digest.mathml import to_mathml
from digest.model import Digest
from notifier.services import PAGE_SPAN_DAYS
from web.pages import Pages, pages_of, services_of


def _mathml(formula: Formula) -> str | None:
    return to_mathml(formula.source, display=formula.display, alt=formula.text)


def _week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _links(pages: Pages, lang: str, monday: date, *, today: date) -> list[tuple[str, str]]:
    """The links a digest page offers: the weeks before and after (none into the future), the sign-up."""
    links = [(f"/digest/{_week(monday - timedelta(days=7))}", pages.gettext(lang, "◂ Previous week"))]
    if monday + timedelta(days=7) <= today:
        links.append((f"/digest/{_week(monday + timedelta(days=7))}", pages.gettext(lang, "Next week ▸")))
    links.append(("/", pages.gettext(lang, "Get the weekly email")))
    return links


def _nav(links: list[tuple[str, str]]) -> str:
    items = " · ".join(
        f'<a href="{escape(href, quote=True)}" style="color:#1a5fb4">{escape(text)}</a>'
        for href, text in links
    )
    return (
        f'<nav style="max-width:600px;margin:12px auto;font-size:14px;font-family:sans-serif">{items}</nav>'
    )


def _page(pages: Pages, request: web.Request, digest: Digest, monday: date) -> web.Response:
    lang = pages.lang(request)
    links = _links(pages, lang, monday, today=services_of(request).clock().date())
    if not digest.posts and not digest.series_updates:
        return pages.message(
            request,
            pages.gettext(lang, "No new posts"),
            pages.gettext(lang, "No post was published in these days. The weeks around it may have some."),
            links=links,
        )
    html = formula_email_html(pages.renderer, digest, lang, _mathml)
    title = escape(pages.gettext(lang, "Scientific Spaces · New posts"), quote=True)
    feed = (
        f'<link rel="alternate" type="application/atom+xml" title="{title}" href="/feed.atom?lang={lang}">\n'
    )
    html = html.replace("</head>", feed + "\n</head>", 1)
    nav = _nav(links)
    head, sep, body = html.partition("<body")
    if sep:
        opening, closing, rest = body.partition(">")
        html = head + sep + opening + closing + nav + rest
        html = html.replace("</body>", nav + "</body>", 1)
    return web.Response(text=html, content_type="text/html", charset="utf-8")


async def week_page(request: web.Request) -> web.Response:
    """The digest of an ISO week in the browser (the HTML of the weekly email, without personal links)."""
    pages = pages_of(request)
    week = f"{request.match_info['year']}-W{request.match_info['week']}"
    digest = await services_of(request).pages.week_digest(week)
    if digest is None:
        return pages.not_found(request)
    return _page(pages, request, digest, digest.start - timedelta(days=digest.start.weekday()))


async def span_page(request: web.Request) -> web.Response:
    """The posts of one weekly email's period in the browser, `/digest/2025-12-15..2025-12-22`."""
    pages = pages_of(request)
    try:
        first = date.fromisoformat(request.match_info["first"])
        last = date.fromisoformat(request.match_info["last"])
    except ValueError:
        return pages.not_found(request)
    if (last - first).days > PAGE_SPAN_DAYS:
        lang = pages.lang(request)
        return pages.message(
            request,
            pages.gettext(lang, "Too many days"),
            pages.gettext(
                lang,
                "A digest page covers at most %(days)s days: ask for a shorter span.",
                days=PAGE_SPAN_DAYS,
            ),
            status=400,
        )
    digest = await services_of(request).pages.span_digest(first, last)
    if digest is None:
        return pages.not_found(request)
    return _page(pages, request, digest, first - timedelta(days=first.weekday()))


def add_digest_routes(app: web.Application) -> None:
    """Serve the digest pages on `app`."""
    app.router.add_get(r"/digest/{year:\d{4}}-W{week:\d{2}}", week_page)
    app.router.add_get(r"/digest/{first:\d{4}-\d{2}-\d{2}}..{last:\d{4}-\d{2}-\d{2}}", span_page)
