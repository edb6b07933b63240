"""Drawn formulas in a real headless Chromium: the digest page's MathML laid out by the browser, the series
page, and a feed entry as a feed reader shows it (its HTML content with the images the web app serves).

Screenshots are kept in `var/artifacts/` (gitignored): digest-mathml.png, series-page.png, feed-reader.png.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aiohttp
import feedparser
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.support.formulas import FORMULA_POSTS, FOUR
from tests.support.mail import BASE_URL, MONDAY, MailWorld
from tests.support.store import seed
from tests.web.test_browser import ARTIFACTS, chromium
from web import start_web

__all__ = ["chromium"]

READER_PAGE = """<!DOCTYPE html><html lang="zh"><head><meta charset="utf-8"><title>{title}</title></head>
<body style="margin:0;background:#fafafa;font:16px/1.7 sans-serif;color:#222">
<article style="max-width:620px;margin:24px auto;padding:20px 28px;background:#fff;border:1px solid #e3e3e3">
<p style="margin:0;color:#888;font-size:13px">{feed}</p><h2 style="margin:6px 0 14px">{title}</h2>
{content}</article></body></html>"""


async def test_formulas_in_the_browser_mathml_page_series_page_and_feed_reader_view(
    chromium: webdriver.Chrome, world: MailWorld
) -> None:
    await seed(world.app.db, FORMULA_POSTS, now=MONDAY - timedelta(days=1))
    server = await start_web(world.services(), world.app.renderer, host="127.0.0.1", port=0)
    run = asyncio.to_thread
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        # The digest page: every formula is a <math> element the browser lays out with a real size.
        await run(chromium.get, server.url + "/digest/2025-W19?lang=zh")
        maths = await run(chromium.find_elements, By.TAG_NAME, "math")
        assert len(maths) == len(FOUR)
        for math in maths:
            size = await run(getattr, math, "size")
            assert size["width"] > 10 and size["height"] > 8
        body = await run(lambda: chromium.find_element(By.TAG_NAME, "body").text)
        assert "\\" not in body and "pmatrix" not in body
        await run(chromium.save_screenshot, str(ARTIFACTS / "digest-mathml.png"))

        # The series page: each series, its parts and its feed link.
        await run(chromium.get, server.url + "/series?lang=zh")
        feeds = await run(chromium.find_elements, By.CSS_SELECTOR, "a.feed")
        assert len(feeds) == 2
        assert "低秩近似之路（五）：CUR分解" in await run(
            lambda: chromium.find_element(By.TAG_NAME, "body").text
        )
        await run(chromium.save_screenshot, str(ARTIFACTS / "series-page.png"))

        # A feed reader's view of the newest entry of the series feed: its images load from the web app.
        link = await run(lambda: feeds[0].get_attribute("href"))
        assert link is not None
        async with aiohttp.ClientSession() as session, session.get(link) as response:
            parsed = feedparser.parse(await response.read())
        entry = parsed.entries[0]
        content = entry.content[0].value.replace(BASE_URL, server.url)
        page = ARTIFACTS / "feed-reader.html"
        page.write_text(
            READER_PAGE.format(title=entry.title, feed=parsed.feed.title, content=content), encoding="utf-8"
        )
        await run(chromium.get, page.as_uri())
        images = await run(chromium.find_elements, By.TAG_NAME, "img")
        assert len(images) >= 2
        for image in images:
            loaded = await run(chromium.execute_script, "return arguments[0].naturalWidth", image)
            assert isinstance(loaded, int) and loaded > 0, "the image did not load"
            alt = await run(image.get_attribute, "alt")
            assert alt and "\\" not in alt
        shot = ARTIFACTS / "feed-reader.png"
        assert await run(chromium.save_screenshot, str(shot))
        print(f"\nscreenshots: {ARTIFACTS}/digest-mathml.png series-page.png feed-reader.png")
    finally:
        await server.stop()
