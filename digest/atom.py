"""An Atom feed (RFC 4287) as bytes, from plain values: a pure function, no I/O, no clock.

The caller supplies every id, time and link; entries carry their content as HTML (`type="html"`, escaped
by the XML writer), so a feed reader shows the excerpt with its drawn formulas.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from digest import DigestError

ATOM_NS = "http://www.w3.org/2005/Atom"
CONTENT_TYPE = "application/atom+xml"
# Characters XML 1.0 does not allow at all, not even escaped: dropped, or the whole feed would not parse.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True, slots=True)
class AtomEntry:
    """One entry: a post, its link, its HTML content, and the category (series) it belongs to."""

    id: str
    title: str
    link: str
    updated: datetime
    content_html: str
    published: datetime | None = None
    categories: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AtomFeed:
    """A whole feed: its id, title, the link to itself and to the page it mirrors, and its entries."""

    id: str
    title: str
    self_url: str
    alternate_url: str
    updated: datetime
    author: str
    entries: Sequence[AtomEntry] = ()
    subtitle: str | None = None
    lang: str | None = None


def rfc3339(moment: datetime) -> str:
    """`moment` as an RFC 3339 date-time (Atom's date construct); a naive time is a DigestError."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise DigestError("an Atom date needs a time zone")
    return moment.isoformat(timespec="seconds")


def _text(parent: ET.Element, tag: str, text: str, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: _NOT_XML.sub("", v) for k, v in attributes.items()})
    element.text = _NOT_XML.sub("", text)
    return element


def build_atom(feed: AtomFeed) -> bytes:
    """The feed as a UTF-8 Atom document."""
    root = ET.Element("feed", {"xmlns": ATOM_NS})
    if feed.lang:
        root.set("xml:lang", feed.lang)
    _text(root, "id", feed.id)
    _text(root, "title", feed.title)
    if feed.subtitle:
        _text(root, "subtitle", feed.subtitle)
    _text(root, "updated", rfc3339(feed.updated))
    author = ET.SubElement(root, "author")
    _text(author, "name", feed.author)
    ET.SubElement(root, "link", {"rel": "self", "type": CONTENT_TYPE, "href": feed.self_url})
    ET.SubElement(root, "link", {"rel": "alternate", "type": "text/html", "href": feed.alternate_url})
    _text(root, "generator", "kexue-notifier")
    for entry in feed.entries:
        element = ET.SubElement(root, "entry")
        _text(element, "id", entry.id)
        _text(element, "title", entry.title)
        ET.SubElement(element, "link", {"rel": "alternate", "type": "text/html", "href": entry.link})
        if entry.published is not None:
            _text(element, "published", rfc3339(entry.published))
        _text(element, "updated", rfc3339(entry.updated))
        for category in entry.categories:
            ET.SubElement(element, "category", {"term": category})
        _text(element, "content", entry.content_html, type="html")
    body = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + body + "\n").encode("utf-8")
