"""Golden parses of every fixture page: the JSON of the posts, compared exactly.

Rewrite the golden files with `UPDATE_GOLDEN=1 .venv/bin/pytest tests/archive/test_golden.py`, then read
the diff by eye before committing it.
"""

from __future__ import annotations

import json
import os
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from archive.detect import detect, parse
from archive.formats.listing import parse_listing_page
from tests.support.fixtures import ARCHIVE_FIXTURES, read_fixture

TZ = ZoneInfo("Asia/Shanghai")
GOLDEN = ARCHIVE_FIXTURES / "golden"
PAGES = [
    ("feed.xml", "feed"),
    ("atom.xml", "feed"),
    ("category.html", "listing"),
    ("category-empty.html", "listing"),
    ("homepage.html", "listing"),
    ("content.html", "content"),
    ("capture-category.txt", "capture"),
    ("capture-homepage.txt", "capture"),
]


def _snapshot(name: str) -> dict[str, Any]:
    """What the golden file of one fixture holds."""
    data = read_fixture(name)
    posts = parse(data, tz=TZ)
    snapshot: dict[str, Any] = {
        "format": detect(data),
        "posts": [
            # to_json is the --json contract; content and title_is_live are checked here too.
            {
                **post.to_json(link_host="kexue.fm"),
                "title_is_live": post.title_is_live,
                "content": post.content,
            }
            for post in posts
        ],
    }
    if snapshot["format"] == "listing":
        snapshot["next_url"] = parse_listing_page(data).next_url
    return snapshot


@pytest.mark.parametrize(("name", "kind"), PAGES)
def test_fixture_matches_golden(name: str, kind: str) -> None:
    snapshot = _snapshot(name)
    assert snapshot["format"] == kind
    path = GOLDEN / (name.rsplit(".", 1)[0] + ".json")
    rendered = json.dumps(snapshot, ensure_ascii=False, indent=2) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(rendered, encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8")) == snapshot
