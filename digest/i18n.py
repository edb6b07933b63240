"""Translations: gettext catalogs (`locales/<lang>/LC_MESSAGES/messages.po`) read at run time with Babel.

The `.po` files are the only form of a catalog in the repository: each is parsed with Babel and compiled
in memory into a `gettext.GNUTranslations`, so there is no `.mo` to commit, rebuild or let go stale. A
language is a directory under `locales/`; a third language is one new catalog and no template change.

Msgids are the English phrases, `%(name)s` placeholders included (jinja2's newstyle gettext formats every
message with its named arguments, and escapes them in HTML templates). The `en` catalog is therefore mostly
the identity, but it exists and is complete like any other, so "every string translated" is one uniform
check (tests/digest/test_catalogs.py, part of `make test`).

The same catalogs serve the jinja2 templates (`Translations.translator(lang)` installed into an environment,
see `digest.render.make_environment`), plain Python (`Translations.gettext`), and aiogram's i18n, which reads
only compiled `.mo` files from `find_locales()`; the seam is that method, overridden in the bot::

    from aiogram.utils.i18n import I18n

    class CatalogI18n(I18n):
        def find_locales(self) -> dict[str, gettext.GNUTranslations]:
            return load_catalogs(self.path, self.domain)

    i18n = CatalogI18n(path=default_locales_dir(), default_locale="zh", domain=DOMAIN)

Python code that translates through `Translations.gettext(lang, msgid, ...)` puts the msgid second;
`babel.cfg` tells the extractor so (`keywords = gettext:2 ngettext:2,3 …`).
"""

from __future__ import annotations

import gettext
import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po

from digest import DigestError

log = logging.getLogger(__name__)

DOMAIN = "messages"


def catalog_path(locales_dir: Path, lang: str, domain: str = DOMAIN) -> Path:
    """Where the catalog of `lang` lives: `<locales_dir>/<lang>/LC_MESSAGES/<domain>.po`."""
    return locales_dir / lang / "LC_MESSAGES" / f"{domain}.po"


def default_locales_dir() -> Path:
    """`locales/` beside the packages (a checkout or an installed wheel), else in the working directory."""
    candidates = [Path(__file__).resolve().parent.parent / "locales", Path.cwd() / "locales"]
    for candidate in candidates:
        if any(candidate.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
            return candidate
    raise DigestError("locales directory not found (looked in: " + ", ".join(map(str, candidates)) + ")")


def compile_catalog(po_file: Path) -> gettext.GNUTranslations:
    """One `.po` file compiled in memory; fuzzy entries are left out, as gettext's own compiler does."""
    try:
        with po_file.open("rb") as source:
            catalog = read_po(source, abort_invalid=True)
    except (OSError, PoFileError) as exc:
        raise DigestError(f"cannot read the catalog {po_file}: {exc}") from exc
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def load_catalogs(locales_dir: Path, domain: str = DOMAIN) -> dict[str, gettext.GNUTranslations]:
    """Each language's catalog under `locales_dir`, by directory name (aiogram's `find_locales` result)."""
    if not locales_dir.is_dir():
        raise DigestError(f"locales directory {locales_dir} does not exist")
    catalogs: dict[str, gettext.GNUTranslations] = {}
    for lang_dir in sorted(locales_dir.iterdir()):
        po_file = catalog_path(locales_dir, lang_dir.name, domain)
        if po_file.is_file():
            catalogs[lang_dir.name] = compile_catalog(po_file)
    return catalogs


@dataclass(frozen=True, slots=True, eq=False)
class Translations:
    """Every language's compiled catalog; messages are formatted with their named placeholders."""

    catalogs: Mapping[str, gettext.GNUTranslations]

    @classmethod
    def load(cls, locales_dir: Path | None = None, *, domain: str = DOMAIN) -> Translations:
        """The catalogs of `locales_dir` (default: `default_locales_dir()`); none found is a DigestError."""
        directory = locales_dir or default_locales_dir()
        catalogs = load_catalogs(directory, domain)
        if not catalogs:
            raise DigestError(f"no {domain}.po catalog under {directory}")
        log.debug("i18n: loaded %s from %s", ", ".join(catalogs), directory)
        return cls(MappingProxyType(catalogs))

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages with a catalog, in name order."""
        return tuple(sorted(self.catalogs))

    def translator(self, lang: str) -> gettext.GNUTranslations:
        """The compiled catalog of `lang` (to install into a jinja2 environment), or DigestError."""
        found = self.catalogs.get(lang)
        if found is None:
            raise DigestError(f"no catalog for language {lang!r} (have: {', '.join(self.languages)})")
        return found

    def gettext(self, lang: str, msgid: str, /, **variables: Any) -> str:
        """`msgid` in `lang`, its `%(name)s` placeholders filled from `variables` (plain text, unescaped)."""
        return self.translator(lang).gettext(msgid) % variables

    def ngettext(self, lang: str, singular: str, plural: str, n: int, /, **variables: Any) -> str:
        """The form of `singular`/`plural` for `n` in `lang`; `%(num)s` is `n` unless given."""
        variables.setdefault("num", n)
        return self.translator(lang).ngettext(singular, plural, n) % variables

    def pgettext(self, lang: str, context: str, msgid: str, /, **variables: Any) -> str:
        """`msgid` in `lang` under `context` (the same English words meaning different things)."""
        return self.translator(lang).pgettext(context, msgid) % variables
