"""One real headless Chromium (Debian's `chromium` and `chromium-driver`, driven by Selenium) through the web
app: the sign-up form, the confirm button, the unsubscribe button, and a screenshot of the weekly mail.

The screenshot and the HTML of the mail are kept in `var/artifacts/` (gitignored), paths printed. In CI
(CI=true) a missing browser fails the test; elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from tests.support.mail import BASE_URL, MailWorld
from tests.support.store import reads
from web import start_web

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "var" / "artifacts"
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
DRIVER = "chromedriver"


def _find_browser() -> tuple[str, str]:
    browser = next((found for name in CHROMIUM if (found := shutil.which(name))), None)
    driver = shutil.which(DRIVER) or next(
        (
            str(p)
            for p in (Path("/usr/bin/chromedriver"), Path("/usr/lib/chromium/chromedriver"))
            if p.exists()
        ),
        None,
    )
    if browser is None or driver is None:
        reason = "headless Chromium is not installed (apt-get install chromium chromium-driver; .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return browser, driver


@pytest.fixture
def chromium() -> Iterator[webdriver.Chrome]:
    """A headless Chromium under chromedriver."""
    browser, driver = _find_browser()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=800,1300"):
        options.add_argument(argument)
    session = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    session.set_page_load_timeout(30)
    # A click that submits a form returns before the next page is there: look for its elements until it is.
    session.implicitly_wait(10)
    try:
        yield session
    finally:
        session.quit()


def _local(url: str, server_url: str) -> str:
    """A link of a mail (on PUBLIC_BASE_URL) as the same path on the test's server."""
    return server_url + url.removeprefix(BASE_URL)


async def test_sign_up_confirm_unsubscribe_in_a_browser_and_a_screenshot_of_the_mail(
    chromium: webdriver.Chrome, world: MailWorld
) -> None:
    server = await start_web(world.services(), world.app.renderer, host="127.0.0.1", port=0)
    run = asyncio.to_thread
    try:
        # The sign-up form.
        await run(chromium.get, server.url + "/?lang=en")
        field = await run(chromium.find_element, By.ID, "address")
        await run(field.send_keys, "browser@example.com")
        button = await run(chromium.find_element, By.ID, "subscribe")
        await run(button.click)
        message = await run(chromium.find_element, By.ID, "message")
        assert "confirmation link is on its way" in await run(lambda: message.text)
        await world.smtp.wait_for(1)
        (mail,) = world.smtp.to("browser@example.com")
        text = mail.get_body(("plain",))
        assert text is not None
        link = re.search(rf"{re.escape(BASE_URL)}/confirm/\S+", str(text.get_content()))
        assert link is not None

        # The confirm button (opening the link alone confirms nothing).
        await run(chromium.get, _local(link[0], server.url))
        stored = await reads(world.app.db).emails.find("browser@example.com")
        assert stored is not None and stored.status == "pending"
        await run(lambda: chromium.find_element(By.ID, "confirm").click())
        confirmed_text = await run(lambda: chromium.find_element(By.ID, "message").text)
        assert "will come to this address" in confirmed_text
        confirmed = await reads(world.app.db).emails.get(stored.id)
        assert confirmed is not None and confirmed.status == "confirmed"

        # The weekly mail, rendered by the browser and kept as an artifact.
        assert (await world.weekly().run(force=True)).sent == 1
        weekly = world.smtp.to("browser@example.com")[-1]
        html = weekly.get_body(("html",))
        assert html is not None
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page = ARTIFACTS / "weekly-mail.html"
        page.write_text(str(html.get_content()), encoding="utf-8")
        await run(chromium.get, page.as_uri())
        heading = await run(lambda: chromium.find_element(By.TAG_NAME, "h1").text)
        assert heading == "Scientific Spaces · New posts"
        # A title holding markup is shown as text, not run.
        assert "When <script>alert(1)</script> & friends" in await run(
            lambda: chromium.find_element(By.TAG_NAME, "body").text
        )
        shot = ARTIFACTS / "weekly-mail.png"
        assert await run(chromium.save_screenshot, str(shot))
        assert shot.stat().st_size > 10_000
        print(f"\nscreenshot of the weekly mail: {shot}\nits HTML: {page}")

        # The unsubscribe button of the mail's visible link.
        unsubscribe = weekly["List-Unsubscribe"].strip("<>")
        await run(chromium.get, _local(unsubscribe, server.url))
        await run(lambda: chromium.find_element(By.ID, "unsubscribe").click())
        done = await run(lambda: chromium.find_element(By.ID, "message").text)
        assert "no more mail" in done
        gone = await reads(world.app.db).emails.get(stored.id)
        assert gone is not None and gone.status == "unsubscribed" and gone.address is None
    finally:
        await server.stop()
