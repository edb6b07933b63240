"""A checker of the RFC 4287 rules a feed reader relies on (the tests' Atom validator)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

ATOM = "{http://www.w3.org/2005/Atom}"
# RFC 3339 date-time, as Atom's date construct requires (section 3.3).
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def atom_problems(body: bytes) -> list[str]:
    """What makes `body` invalid Atom: not XML, a missing or repeated required element, a bad date, a bad
    link or content type; [] when it is valid."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        return [f"not XML: {exc}"]
    problems: list[str] = []
    if root.tag != ATOM + "feed":
        return [f"root is {root.tag}, not atom:feed"]
    problems += _once(root, "feed", ("id", "title", "updated"))
    feed_author = root.find(ATOM + "author") is not None
    if not any(link.get("rel") == "self" for link in root.findall(ATOM + "link")):
        problems.append("feed: no rel=self link")
    ids: set[str] = set()
    for index, entry in enumerate(root.findall(ATOM + "entry")):
        where = f"entry {index}"
        problems += _once(entry, where, ("id", "title", "updated"))
        if not feed_author and entry.find(ATOM + "author") is None:
            problems.append(f"{where}: no author (and none on the feed)")
        links = entry.findall(ATOM + "link")
        content = entry.find(ATOM + "content")
        if content is None and not any(link.get("rel", "alternate") == "alternate" for link in links):
            problems.append(f"{where}: neither content nor an alternate link")
        if content is not None and content.get("type", "text") not in ("text", "html", "xhtml"):
            problems.append(f"{where}: content type {content.get('type')}")
        entry_id = entry.findtext(ATOM + "id") or ""
        if entry_id in ids:
            problems.append(f"{where}: id {entry_id} repeated")
        ids.add(entry_id)
    for element in root.iter():
        if element.tag in (ATOM + "updated", ATOM + "published") and not _DATE.fullmatch(element.text or ""):
            problems.append(f"{element.tag}: {element.text!r} is not an RFC 3339 date")
        if element.tag == ATOM + "link" and not element.get("href"):
            problems.append("a link without href")
        if element.tag == ATOM + "id" and ":" not in (element.text or ""):
            problems.append(f"id {element.text!r} is not an IRI")
    return problems


def _once(parent: ET.Element, where: str, names: tuple[str, ...]) -> list[str]:
    problems = []
    for name in names:
        count = len(parent.findall(ATOM + name))
        if count != 1:
            problems.append(f"{where}: {count} atom:{name} elements (exactly one needed)")
    return problems
