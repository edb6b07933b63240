"""Translations: the `.po` catalogs read and compiled at run time, the formatting API, and aiogram's seam."""

from __future__ import annotations

import gettext
from pathlib import Path

import pytest
from aiogram.utils.i18n import I18n
from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from digest import DigestError
from digest.i18n import Translations, catalog_path, compile_catalog, default_locales_dir, load_catalogs

TRANSLATIONS = Translations.load()


def _write_catalog(locales_dir: Path, lang: str, messages: dict[str, str]) -> Path:
    catalog = Catalog(locale=lang)
    for msgid, string in messages.items():
        catalog.add(msgid, string)
    path = catalog_path(locales_dir, lang)
    path.parent.mkdir(parents=True)
    with path.open("wb") as target:
        write_po(target, catalog)
    return path


def test_the_project_catalogs_load_from_the_checkout() -> None:
    assert default_locales_dir() == Path(__file__).resolve().parents[2] / "locales"
    assert {"zh", "en"} <= set(TRANSLATIONS.languages)
    assert TRANSLATIONS.gettext("zh", "New posts") == "新文章"
    assert TRANSLATIONS.gettext("en", "New posts") == "New posts"


def test_placeholders_are_named_and_filled_in_either_order() -> None:
    assert TRANSLATIONS.gettext("zh", "%(name)s, part %(part)s", name="低秩近似之路", part=3) == (
        "「低秩近似之路」第 3 篇"
    )
    assert (
        TRANSLATIONS.gettext("en", "%(name)s, part %(part)s", part=3, name="Low rank") == "Low rank, part 3"
    )
    # Plain text: the caller's strings are not escaped here (templates escape them in HTML).
    assert TRANSLATIONS.gettext("en", "%(start)s to %(end)s", start="<a>", end="&") == "<a> to &"


def test_plural_forms_follow_each_language() -> None:
    forms = ("%(count)s reader", "%(count)s readers")
    assert TRANSLATIONS.ngettext("en", *forms, 1, count="1") == "1 reader"
    assert TRANSLATIONS.ngettext("en", *forms, 2, count="2") == "2 readers"
    # Chinese has one form; `num` is the count unless the caller formats it.
    assert TRANSLATIONS.ngettext("zh", *forms, 1, count="1") == "1 位读者"
    assert TRANSLATIONS.ngettext("zh", "%(num)s reader", "%(num)s readers", 12345) == "12345 readers"


def test_a_context_tells_apart_the_same_english_words() -> None:
    assert TRANSLATIONS.pgettext("zh", "html lang", "en") == "zh-CN"
    assert TRANSLATIONS.pgettext("en", "html lang", "en") == "en"


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(DigestError, match="no catalog for language 'xx'"):
        TRANSLATIONS.gettext("xx", "New posts")


def test_a_fuzzy_translation_is_left_out_as_gettext_would(tmp_path: Path) -> None:
    path = _write_catalog(
        tmp_path, "fr", {"New posts": "Nouveaux articles", "Most read in this period": "Lus"}
    )
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('msgid "Most read', '#, fuzzy\nmsgid "Most read'), encoding="utf-8")
    translator = compile_catalog(path)
    assert translator.gettext("New posts") == "Nouveaux articles"
    assert translator.gettext("Most read in this period") == "Most read in this period"


def test_a_broken_catalog_or_no_catalog_is_a_digest_error(tmp_path: Path) -> None:
    path = _write_catalog(tmp_path, "fr", {"New posts": "Nouveaux articles"})
    path.write_text('msgid "New posts"\nmsgstr "Nouveaux articles"\nnot a po line\n', encoding="utf-8")
    with pytest.raises(DigestError, match="cannot read the catalog"):
        Translations.load(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DigestError, match=r"no messages\.po catalog"):
        Translations.load(empty)
    with pytest.raises(DigestError, match="does not exist"):
        Translations.load(tmp_path / "nowhere")


def test_the_locales_directory_is_found_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import digest.i18n

    # As in an image where the packages and locales/ were copied apart: nothing beside the package.
    package = tmp_path / "site" / "digest"
    package.mkdir(parents=True)
    monkeypatch.setattr(digest.i18n, "__file__", str(package / "i18n.py"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DigestError, match="locales directory not found"):
        default_locales_dir()
    _write_catalog(tmp_path / "locales", "fr", {"New posts": "Nouveaux articles"})
    assert default_locales_dir() == tmp_path / "locales"
    assert Translations.load().gettext("fr", "New posts") == "Nouveaux articles"


class CatalogI18n(I18n):
    """aiogram's I18n on our `.po` catalogs: the seam the bot will use (aiogram alone reads only `.mo`)."""

    def find_locales(self) -> dict[str, gettext.GNUTranslations]:
        """The catalogs compiled in memory instead of aiogram's compiled `.mo` files."""
        return load_catalogs(self.path, self.domain)


def test_aiogram_i18n_reads_the_same_catalogs() -> None:
    i18n = CatalogI18n(path=default_locales_dir(), default_locale="zh")
    assert set(i18n.available_locales) == set(TRANSLATIONS.languages)
    assert i18n.gettext("New on Scientific Spaces") == "科学空间有新文章"
    assert i18n.gettext("New on Scientific Spaces", locale="en") == "New on Scientific Spaces"
    with i18n.use_locale("en"):
        assert i18n.gettext("%(count)s reader", "%(count)s readers", 1) == "%(count)s reader"
    # Only .po files in the directory: aiogram's own loader would have found nothing to use.
    assert not list(default_locales_dir().rglob("*.mo"))
