"""Drawn formulas in a real headless Chromium: the digest page's MathML laid out by the browser, the series
page, a feed entry as a feed reader shows it (its HTML content with the images the web app serves), and the
weekly mail as a mail client shows it (each `cid:` resolved to its PNG part).

Screenshots are kept in `var/artifacts/` (gitignored): digest-mathml.png, series-page.png, feed-reader.png,
weekly-mail-formulas.png.
"""

from __future__ import annotations

import asyncio
import base64
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


async def test_the_weekly_mail_as_a_mail_client_shows_it(
    chromium: webdriver.Chrome, world: MailWorld
) -> None:
    await seed(world.app.db, FORMULA_POSTS, now=MONDAY - timedelta(days=1))
    await world.confirmed("reader@example.com", lang="zh")
    assert (await world.weekly().run(force=True)).sent == 1
    (mail,) = world.smtp.to("reader@example.com")
    html_part = mail.get_body(("html",))
    assert html_part is not None
    html = str(html_part.get_content())
    # A mail client resolves each cid: to the part with that Content-ID.
    for part in mail.walk():
        if part.get_content_type() == "image/png":
            cid = str(part["Content-ID"]).strip("<>")
            png = base64.b64encode(part.get_content()).decode()
            html = html.replace(f"cid:{cid}", f"data:image/png;base64,{png}")
    assert "cid:" not in html
    page = ARTIFACTS / "weekly-mail-formulas.html"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.write_text(html, encoding="utf-8")
    run = asyncio.to_thread
    await run(chromium.get, page.as_uri())
    images = await run(chromium.find_elements, By.TAG_NAME, "img")
    assert len(images) >= 2
    for image in images:
        natural = await run(chromium.execute_script, "return arguments[0].naturalWidth", image)
        shown = await run(chromium.execute_script, "return arguments[0].getBoundingClientRect().width", image)
        assert isinstance(natural, int) and natural > 0
        # Drawn at twice the size it is shown at.
        assert abs(natural / 2 - float(shown)) < 1.5
    text = await run(lambda: chromium.find_element(By.TAG_NAME, "body").text)
    assert "\\" not in text and "pmatrix" not in text and "低秩近似之路（五）：CUR分解" in text
    shot = ARTIFACTS / "weekly-mail-formulas.png"
    assert await run(chromium.save_screenshot, str(shot))
    print(f"\nscreenshot of the weekly mail with drawn formulas: {shot}")
