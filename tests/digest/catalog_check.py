"""The catalogs' check: every message the code uses is in every catalog and translated, and nothing else is.

Messages are extracted exactly as `make catalogs` extracts them (Babel, with the project's `babel.cfg`:
jinja2's extractor for templates, Babel's for Python), so the check and the tool agree on what is used.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from digest.i18n import DOMAIN

# (context, msgid) → the plural msgid, or None for a message without plural forms.
Used = dict[tuple[str | None, str], str | None]


def used_messages(root: Path, mapping: Path | None = None) -> Used:
    """Every message the templates and the Python packages under `root` use, as `babel.cfg` finds them."""
    config = mapping or root / "babel.cfg"
    with config.open(encoding="utf-8") as source:
        method_map, options_map = parse_mapping_cfg(source, str(config))  # type: ignore[no-untyped-call]
    used: Used = {}
    for _filename, _lineno, message, _comments, context in extract_from_dir(
        str(root), method_map, options_map, comment_tags=("Translators:",)
    ):
        if isinstance(message, tuple):
            used[(context, message[0])] = message[1]
        else:
            used[(context, message)] = None
    return used


def _name(key: tuple[str | None, str]) -> str:
    context, msgid = key
    return f"{msgid!r}" if context is None else f"{msgid!r} (context {context!r})"


def _read(path: Path) -> Catalog:
    with path.open("rb") as source:
        return read_po(source, abort_invalid=True)


def catalog_problems(root: Path, locales_dir: Path, mapping: Path | None = None) -> list[str]:
    """What is wrong with `locales_dir`'s template and catalogs for the messages used under `root`; [] if all
    is well.

    A problem is a message missing from a catalog (or from `messages.pot`), untranslated (an empty form, or
    fuzzy), obsolete (in a catalog but used nowhere, or kept as `#~`), or translated with other placeholders.
    """
    used = used_messages(root, mapping)
    problems: list[str] = []
    template = locales_dir / f"{DOMAIN}.pot"
    catalogs = sorted(locales_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    if not catalogs:
        problems.append(f"no {DOMAIN}.po catalog under {locales_dir}")
    for path in [template, *catalogs]:
        where = path.relative_to(locales_dir)
        if not path.is_file():
            problems.append(f"{where}: missing (run `make catalogs`)")
            continue
        catalog = _read(path)
        translated = path.suffix == ".po"
        if translated and catalog.fuzzy:
            # A fuzzy header is left out of the compiled catalog, and with it the plural rule.
            problems.append(f"{where}: the header is marked fuzzy")
        for key, plural in sorted(used.items(), key=lambda item: (item[0][0] or "", item[0][1])):
            context, msgid = key
            message = catalog.get(msgid, context=context)
            if message is None:
                problems.append(f"{where}: {_name(key)} is missing")
                continue
            if (None if isinstance(message.id, str) else message.id[1]) != plural:
                problems.append(f"{where}: {_name(key)} has another plural form than the code's {plural!r}")
                continue
            if not translated:
                continue
            forms = (message.string,) if isinstance(message.string, str) else tuple(message.string or ("",))
            if message.fuzzy:
                problems.append(f"{where}: {_name(key)} is fuzzy (review it, then drop the flag)")
            elif not all(forms) or (plural is not None and len(forms) < catalog.num_plurals):
                problems.append(f"{where}: {_name(key)} is untranslated")
        for entry in catalog:
            entry_id = entry.id if isinstance(entry.id, str) else entry.id[0]
            if entry_id and (entry.context, entry_id) not in used:
                problems.append(f"{where}: {_name((entry.context, entry_id))} is obsolete (used nowhere)")
        for stale in catalog.obsolete:
            problems.append(f"{where}: {stale!r} is kept as obsolete (#~); remove it")
        if translated:
            for message, errors in catalog.check():
                problems.extend(f"{where}: {message.id!r}: {error}" for error in errors)
    return problems
