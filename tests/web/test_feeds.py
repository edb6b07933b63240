"""Atom feeds, the series page, formula images and the MathML digest page, over real HTTP on loopback."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import timedelta
from html import unescape

import aiohttp
import feedparser
import pytest
from multidict import CIMultiDict
from PIL import Image

from archive.model import Post, PostDate
from tests.digest.atom_check import atom_problems
from tests.support.formulas import FORMULA_POSTS, FOUR
from tests.support.mail import BASE_URL, MONDAY, MailWorld
from tests.support.store import seed
from web import WebServer, start_web
from web.feeds import MAX_DRAWN_PER_ENTRY

IMG_TAG = re.compile(r"<img\b[^>]*>")
ATTRIBUTE = re.compile(r'(\w+)="([^"]*)"')


def images_in(html: str) -> list[tuple[str, str]]:
    """(src, alt) of each image of `html`, whatever the order of its attributes."""
    found = []
    for tag in IMG_TAG.findall(html):
        attributes = dict(ATTRIBUTE.findall(tag))
        found.append((unescape(attributes["src"]), unescape(attributes["alt"])))
    return found


MATHML = "{http://www.w3.org/1998/Math/MathML}"


@pytest.fixture
async def site(world: MailWorld) -> AsyncIterator[tuple[WebServer, aiohttp.ClientSession]]:
    """The web app over the mail world with the formula posts seeded, and a client."""
    await seed(world.app.db, FORMULA_POSTS, now=MONDAY - timedelta(days=1))
    server = await start_web(world.services(), world.app.renderer, host="127.0.0.1", port=0)
    try:
        async with aiohttp.ClientSession() as session:
            yield server, session
    finally:
        await server.stop()


async def _get(
    site: tuple[WebServer, aiohttp.ClientSession], path: str, **headers: str
) -> tuple[int, bytes, CIMultiDict[str]]:
    server, session = site
    async with session.get(server.url + path, headers=headers) as response:
        return response.status, await response.read(), CIMultiDict(response.headers)


async def _series_feed_path(site: tuple[WebServer, aiohttp.ClientSession], name: str) -> str:
    status, body, _ = await _get(site, "/series")
    assert status == 200
    page = body.decode()
    found = re.search(r'<section id="series-(\d+)"[^>]*>\s*<h2[^>]*>' + re.escape(name), page)
    assert found is not None, page
    return f"/series/{found[1]}/feed.atom"


async def test_the_feed_of_new_posts_is_valid_atom_with_drawn_formulas_and_unicode_alt(
    site: tuple[WebServer, aiohttp.ClientSession],
) -> None:
    status, body, headers = await _get(site, "/feed.atom")
    assert status == 200 and headers["Content-Type"].startswith("application/atom+xml")
    assert atom_problems(body) == []
    parsed = feedparser.parse(body)
    assert not parsed.bozo and parsed.version == "atom10"
    assert parsed.feed.title == "科学空间 · 全部新文章"
    titles = [entry.title for entry in parsed.entries]
    assert titles[0] == "When <script>alert(1)</script> & friends"
    assert "低秩近似之路（五）：CUR分解" in titles and len(titles) == 4
    entry = parsed.entries[titles.index("低秩近似之路（五）：CUR分解")]
    assert entry.link == "https://kexue.fm/archives/10903"
    assert entry.tags[0].term == "低秩近似之路"
    html = entry.content[0].value
    images = images_in(html)
    assert len(images) >= 2
    for src, alt in images:
        assert src.startswith(f"{BASE_URL}/formula/") and src.endswith(".png")
        assert alt and "\\" not in alt
    assert "ℝ" in images[0][1]
    # No raw LaTeX: the pmatrix mathtext cannot draw is its Unicode text.
    text_only = re.sub(r"<[^>]+>", "", html)
    assert "\\" not in text_only and "pmatrix" not in html
    assert "det(a, b; c, d) = ad - bc" in text_only
    # An excerpt without formulas is escaped once, as any other text.
    plain = parsed.entries[titles.index("When <script>alert(1)</script> & friends")].content[0].value
    assert "a &lt; b &gt; c" in plain and "&amp;lt;" not in plain


async def test_the_feed_answers_304_to_its_etag_and_speaks_english_on_request(
    site: tuple[WebServer, aiohttp.ClientSession],
) -> None:
    status, _body, headers = await _get(site, "/feed.atom")
    etag = headers["ETag"]
    assert status == 200 and etag.startswith('"')
    status, again, headers = await _get(site, "/feed.atom", **{"If-None-Match": etag})
    assert status == 304 and again == b"" and headers["ETag"] == etag
    status, again, _ = await _get(site, "/feed.atom", **{"If-None-Match": f'"other", W/{etag}'})
    assert status == 304
    status, english, headers = await _get(site, "/feed.atom?lang=en")
    assert status == 200 and headers["ETag"] != etag
    assert feedparser.parse(english).feed.title == "Scientific Spaces · every new post"
    assert b"Read the whole post" in english


async def test_a_series_feed_holds_only_that_series_and_the_series_page_lists_every_series(
    site: tuple[WebServer, aiohttp.ClientSession],
) -> None:
    path = await _series_feed_path(site, "低秩近似之路")
    status, body, _ = await _get(site, path)
    assert status == 200 and atom_problems(body) == []
    parsed = feedparser.parse(body)
    assert [entry.title for entry in parsed.entries] == [
        "低秩近似之路（五）：CUR分解",
        "低秩近似之路（四）：ID",
    ]
    assert "低秩近似之路" in parsed.feed.title
    assert images_in(parsed.entries[0].content[0].value)
    moe = await _series_feed_path(site, "MoE环游记")
    parsed = feedparser.parse((await _get(site, moe))[1])
    assert [entry.title for entry in parsed.entries] == ["MoE环游记：5、均匀分布的反思"]
    status, _, _ = await _get(site, "/series/999999/feed.atom")
    assert status == 404
    # By name too, as the bot's /series takes it.
    status, by_name, _ = await _get(site, "/series/低秩近似之路/feed.atom")
    assert status == 200 and by_name == body
    assert (await _get(site, "/series/没有这个系列/feed.atom"))[0] == 404
    status, page, _ = await _get(site, "/series?lang=en")
    assert status == 200
    assert b"CUR" in page and b"Atom feed" in page and path.encode() in page


@pytest.mark.parametrize("path", ["/", "/series", "/digest/2025-W19"])
async def test_every_page_links_the_feed(site: tuple[WebServer, aiohttp.ClientSession], path: str) -> None:
    status, body, _ = await _get(site, path)
    assert status == 200
    assert re.search(
        rb'<link rel="alternate" type="application/atom\+xml" title="[^"]+" href="/feed.atom', body
    )


async def test_formula_images_are_immutable_pngs_found_again_after_a_restart(
    world: MailWorld, site: tuple[WebServer, aiohttp.ClientSession]
) -> None:
    _, body, _ = await _get(site, "/feed.atom")
    sources = [src for src, _ in images_in(feedparser.parse(body).entries[1].content[0].value)]
    assert sources
    path = sources[0].removeprefix(BASE_URL)
    status, png, headers = await _get(site, path)
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert "immutable" in headers["Cache-Control"] and "max-age=31536000" in headers["Cache-Control"]
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.getchannel("A").getextrema()[1] == 255
    assert (await _get(site, path, **{"If-None-Match": headers["ETag"]}))[0] == 304
    assert (await _get(site, "/formula/" + "0" * 32 + ".png"))[0] == 404
    assert (await _get(site, "/formula/not-a-key.png"))[0] == 404
    # A new process knows no key until it re-reads its feeds: a feed reader's cached link still works.
    restarted = await start_web(world.services(), world.app.renderer, host="127.0.0.1", port=0)
    try:
        async with aiohttp.ClientSession() as session, session.get(restarted.url + path) as response:
            assert response.status == 200 and await response.read() == png
    finally:
        await restarted.stop()


async def test_the_digest_page_writes_each_formula_as_mathml(
    site: tuple[WebServer, aiohttp.ClientSession],
) -> None:
    status, body, _ = await _get(site, "/digest/2025-W19?lang=zh")
    assert status == 200
    page = body.decode()
    maths = re.findall(r"<math .*?</math>", page, flags=re.S)
    assert len(maths) == len(FOUR)
    for markup in maths:
        root = ET.fromstring(markup)
        assert root.tag == MATHML + "math" and root.get("alttext")
    assert any(ET.fromstring(m).find(f".//{MATHML}mtable") is not None for m in maths)
    assert "\\boldsymbol" not in page and "pmatrix" not in page


async def test_an_entry_draws_at_most_its_share_of_formulas_and_the_rest_is_text(
    world: MailWorld, site: tuple[WebServer, aiohttp.ClientSession]
) -> None:
    many = " ".join(f"$x_{{{n}}}^2$" for n in range(40))
    await seed(world.app.db, [Post(10999, "公式很多的一篇", PostDate(2025, 5, 11), excerpt=many)], now=MONDAY)
    _, body, _ = await _get(site, "/feed.atom")
    parsed = feedparser.parse(body)
    (entry,) = [e for e in parsed.entries if e.title == "公式很多的一篇"]
    html = entry.content[0].value
    assert len(images_in(html)) == MAX_DRAWN_PER_ENTRY
    assert "x₃₉²" in re.sub(r"<[^>]+>", "", html)
