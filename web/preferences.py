"""The email preference page: `GET /preferences/{token}` shows the form, `POST` stores the choice.

The token is signed like the unsubscribe link (purpose `preferences`): a forged one, or one of an address that
no longer receives the mail, gets the plain 404 page. The form is CSRF-checked like every other form: keep
every post, only posts of chosen series and/or matching words (the /watch query language, one per line), or
pause the mail. One-click unsubscribe is untouched (web/app.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web
from multidict import MultiDictProxy

from notifier.mail.mailer import mask_address
from notifier.services.choices import ChoiceRefused, Choices, PreferencePage

log = logging.getLogger(__name__)

Form = MultiDictProxy[str | bytes | bytearray | web.FileField]


class Pages(Protocol):
    """What the page needs of the web app's shared helper (web/app.py `Pages`)."""

    def lang(self, request: web.Request) -> str:
        """The page language."""
        ...

    def gettext(self, lang: str, msgid: str, **values: Any) -> str:
        """A message of the catalogs."""
        ...

    def render(
        self, request: web.Request, template: str, *, title: str, status: int = 200, **values: Any
    ) -> web.Response:
        """A page of templates/web/ with its CSRF cookie."""
        ...

    def not_found(self, request: web.Request) -> web.Response:
        """The plain 404 page."""
        ...


TrustedForm = Callable[[Any, web.Request], Awaitable[Form | web.Response]]

CHOICES_KEY: web.AppKey[Choices] = web.AppKey("choices", Choices)


class PreferenceRoutes:
    """The page's two handlers over the shared pages helper (language, CSRF, templates)."""

    def __init__(self, pages: Callable[[web.Request], Pages], trusted_form: TrustedForm) -> None:
        self.pages = pages
        self.trusted_form = trusted_form

    def _page(
        self,
        request: web.Request,
        page: PreferencePage,
        *,
        status: int = 200,
        error: str = "",
        saved: bool = False,
    ) -> web.Response:
        pages = self.pages(request)
        lang = pages.lang(request)
        chosen = set(page.preference.series_keys)
        values: dict[str, Any] = {
            "action": request.path,
            "address": mask_address(page.email.address or ""),
            "scope": page.preference.scope,
            "series": [(s.key, s.name, s.key in chosen) for s in page.series],
            "words": "\n".join(page.preference.words),
            "error": error,
            "saved": saved,
        }
        return pages.render(
            request,
            "preferences.html",
            title=pages.gettext(lang, "What the weekly email holds"),
            status=status,
            **values,
        )

    async def show(self, request: web.Request) -> web.Response:
        """The form, filled with the address's current choice."""
        page = await request.app[CHOICES_KEY].preference_page(request.match_info["token"])
        if page is None:
            return self.pages(request).not_found(request)
        return self._page(request, page)

    async def save(self, request: web.Request) -> web.Response:
        """Store the choice; bad input shows the form again with the reason and changes nothing."""
        pages = self.pages(request)
        form = await self.trusted_form(pages, request)
        if isinstance(form, web.Response):
            return form
        choices = request.app[CHOICES_KEY]
        token = request.match_info["token"]
        scope, words = form.get("scope"), form.get("words")
        series = [key for key in form.getall("series", []) if isinstance(key, str)]
        try:
            page = await choices.save_preference(
                token,
                scope if isinstance(scope, str) else "",
                series,
                words if isinstance(words, str) else "",
            )
        except ChoiceRefused as exc:
            current = await choices.preference_page(token)
            if current is None:
                return pages.not_found(request)
            return self._page(request, current, status=400, error=exc.reason)
        if page is None:
            return pages.not_found(request)
        return self._page(request, page, saved=True)


def add_preference_routes(
    app: web.Application, choices: Choices, pages: Callable[[web.Request], Pages], trusted_form: TrustedForm
) -> None:
    """Serve `/preferences/{token}` on `app`."""
    routes = PreferenceRoutes(pages, trusted_form)
    app[CHOICES_KEY] = choices
    app.router.add_get("/preferences/{token}", routes.show)
    app.router.add_post("/preferences/{token}", routes.save)
