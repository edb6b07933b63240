"""Catalogs: every message used in templates or Python is translated in every catalog (so `make test` fails
on a missing translation), and the check does fail on each kind of broken catalog."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po, write_po

from tests.digest.catalog_check import catalog_problems, used_messages

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "locales"


def _edit(path: Path, change: Callable[[Catalog], None]) -> None:
    with path.open("rb") as source:
        catalog = read_po(source)
    change(catalog)
    with path.open("wb") as target:
        write_po(target, catalog)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of what the check reads: babel.cfg, templates, the Python packages' sources, the catalogs."""
    copy = tmp_path / "project"
    copy.mkdir()
    shutil.copy(ROOT / "babel.cfg", copy / "babel.cfg")
    for folder in ("templates", "locales", "digest", "bot", "notifier", "web", "cli"):
        if not (ROOT / folder).is_dir():
            continue
        shutil.copytree(ROOT / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
    assert catalog_problems(copy, copy / "locales") == []
    return copy


def test_every_message_used_is_translated_in_every_catalog() -> None:
    used = used_messages(ROOT)
    # The check sees the templates' messages: plain, plural and with a context.
    assert (None, "New posts") in used
    assert used[(None, "%(count)s reader")] == "%(count)s readers"
    assert ("html lang", "en") in used
    languages = sorted(p.name for p in LOCALES.iterdir() if (p / "LC_MESSAGES" / "messages.po").is_file())
    assert {"zh", "en"} <= set(languages)
    assert catalog_problems(ROOT, LOCALES) == []


def test_the_check_fails_on_a_broken_catalog(project: Path) -> None:
    zh = project / "locales" / "zh" / "LC_MESSAGES" / "messages.po"

    def break_it(catalog: Catalog) -> None:
        del catalog["New posts"]
        catalog["Most read in this period"].flags.add("fuzzy")
        catalog["Scientific Spaces"].string = ""
        catalog.get("%(count)s reader").string = ("",)  # type: ignore[union-attr]
        catalog["%(start)s to %(end)s"].string = "%(begin)s 至 %(end)s"
        catalog.add("A phrase no template says any more", "一句没人说的话")
        catalog.obsolete["An old phrase"] = Message("An old phrase", "一句旧话")

    _edit(zh, break_it)
    problems = catalog_problems(project, project / "locales")
    expected = [
        "zh/LC_MESSAGES/messages.po: 'New posts' is missing",
        "zh/LC_MESSAGES/messages.po: 'Most read in this period' is fuzzy",
        "zh/LC_MESSAGES/messages.po: 'Scientific Spaces' is untranslated",
        "zh/LC_MESSAGES/messages.po: '%(count)s reader' is untranslated",
        "zh/LC_MESSAGES/messages.po: '%(start)s to %(end)s': unknown named placeholder 'begin'",
        "zh/LC_MESSAGES/messages.po: 'A phrase no template says any more' is obsolete",
        "zh/LC_MESSAGES/messages.po: 'An old phrase' is kept as obsolete",
    ]
    for wanted in expected:
        assert any(problem.startswith(wanted) for problem in problems), (wanted, problems)
    # The English catalog and the template were not touched: nothing reported against them.
    assert all(problem.startswith("zh/") for problem in problems)


def test_a_new_string_in_a_template_or_in_python_is_missing_everywhere_until_extracted(project: Path) -> None:
    footer = project / "templates" / "telegram" / "digest.html"
    footer.write_text(
        footer.read_text(encoding="utf-8") + '{{ _("Unsubscribe with %(command)s", command="/stop") }}\n',
        encoding="utf-8",
    )
    (project / "digest" / "speaks.py").write_text(
        'def greet(translations, lang):\n    return translations.gettext(lang, "Welcome back")\n',
        encoding="utf-8",
    )
    problems = catalog_problems(project, project / "locales")
    for msgid in ("Unsubscribe with %(command)s", "Welcome back"):
        for where in ("messages.pot", "en/LC_MESSAGES/messages.po", "zh/LC_MESSAGES/messages.po"):
            assert f"{where}: {msgid!r} is missing" in problems


def test_a_missing_plural_form_and_a_fuzzy_header_are_problems(project: Path) -> None:
    en = project / "locales" / "en" / "LC_MESSAGES" / "messages.po"

    def break_it(catalog: Catalog) -> None:
        catalog.fuzzy = True
        catalog.get(" (+%(count)s reader)").string = (" (+%(count)s reader)",)  # type: ignore[union-attr]

    _edit(en, break_it)
    problems = catalog_problems(project, project / "locales")
    assert "en/LC_MESSAGES/messages.po: the header is marked fuzzy" in problems
    assert "en/LC_MESSAGES/messages.po: ' (+%(count)s reader)' is untranslated" in problems


def test_a_missing_template_or_catalog_is_a_problem(project: Path) -> None:
    (project / "locales" / "messages.pot").unlink()
    assert catalog_problems(project, project / "locales") == ["messages.pot: missing (run `make catalogs`)"]
    shutil.rmtree(project / "locales")
    (project / "locales").mkdir()
    problems = catalog_problems(project, project / "locales")
    assert any(problem.startswith("no messages.po catalog") for problem in problems)
