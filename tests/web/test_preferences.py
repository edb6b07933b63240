"""The email preference page over real HTTP, and the weekly mail it shapes, over the loopback SMTP server.

The feature's email acceptance: a reader opens the preference page from the weekly mail, keeps only the
words 扩散模型, and the next week's mail holds the 扩散模型 post and not the 梯度下降 one; a week where
nothing matches sends no mail; one-click unsubscribe is unchanged.
"""

from __future__ import annotations

import re
from datetime import timedelta

from archive.model import Post, PostDate
from storage.preferences import EmailPreference
from tests.notifier.test_weekly import body
from tests.support.mail import BASE_URL, MONDAY, TZ, MailWorld
from tests.support.store import ingest, reads
from tests.web.test_app import Browser, browser, link_in

__all__ = ["browser"]

GD = Post(10950, "梯度下降的隐式正则化", PostDate(2025, 5, 14), excerpt="梯度下降为什么偏好平坦的极小值。")
DM = Post(10951, "生成扩散模型漫谈（三十一）", PostDate(2025, 5, 15), excerpt="扩散模型的又一个视角。")
GD_2 = Post(10952, "再谈梯度下降", PostDate(2025, 5, 21), excerpt="梯度下降与动量。")


async def announce(world: MailWorld, posts: list[Post], days: int) -> None:
    """One poll `days` after MONDAY finding `posts` new (the poller's own store-and-announce path)."""
    await ingest(world.app.db, posts, now=MONDAY + timedelta(days=days), tz=TZ, max_age_days=14)


async def test_the_preference_page_from_the_mail_keeps_only_matching_words(
    world: MailWorld, browser: Browser
) -> None:
    email_id = await world.confirmed("reader@example.com", "zh")
    # The first poll is the baseline (the seeded posts are known); the first week's mail holds every post.
    await ingest(world.app.db, [], now=MONDAY - timedelta(days=1), tz=TZ, max_age_days=14)
    report = await world.weekly().run()
    assert report.sent == 1
    first = world.smtp.messages[-1].message
    page = link_in(first, "preferences")
    assert f"{BASE_URL}/preferences/" in body(first, "html")

    # A forged or foreign token is a plain 404; a form without the CSRF token is refused and changes nothing.
    assert (await browser.get(page.replace("/preferences/", "/preferences/x")))[0] == 404
    assert (await browser.get(link_in(first, "unsubscribe").replace("unsubscribe", "preferences")))[0] == 404
    status, shown = await browser.get(page)
    assert status == 200 and 'value="all" checked' in shown and "r***@example.com" in shown
    status, _ = await browser.post(page, {"csrf": "forged", "scope": "only", "words": "扩散模型"})
    assert status == 403
    assert (await reads(world.app.db).preferences.get(email_id)).scope == "all"
    # `only` with neither series nor words is explained and changes nothing.
    status, refused = await browser.form(page, scope="only", words="  ")
    assert status == 400 and 'id="error"' in refused
    assert (await reads(world.app.db).preferences.get(email_id)).scope == "all"

    status, saved = await browser.form(page, scope="only", words="扩散模型")
    assert status == 200 and 'id="saved"' in saved and 'value="only" checked' in saved and "扩散模型" in saved
    assert await reads(world.app.db).preferences.get(email_id) == EmailPreference(
        email_id, "only", (), ("扩散模型",)
    )

    # The next week: both posts are published; the mail holds the 扩散模型 one only.
    await announce(world, [GD, DM], days=3)
    world.clock.now = MONDAY + timedelta(days=7)
    report = await world.weekly().run()
    assert report.sent == 1
    second = world.smtp.messages[-1].message
    text, html = body(second, "plain"), body(second, "html")
    assert DM.title in text and DM.title in html
    assert GD.title not in text and GD.title not in html
    # The seeded posts of the first week are not repeated, and no most-read list brings others in.
    assert "MoE" not in text

    # A week where nothing matches sends nothing.
    await announce(world, [GD_2], days=10)
    world.clock.now = MONDAY + timedelta(days=14)
    sent_before = len(world.smtp.messages)
    report = await world.weekly().run()
    assert (report.sent, report.skipped) == (0, 1)
    assert len(world.smtp.messages) == sent_before

    # One-click unsubscribe is as it was.
    status, _ = await browser.post(link_in(second, "unsubscribe"), {"List-Unsubscribe": "One-Click"})
    assert status == 200
    assert (await browser.get(page))[0] == 404


async def test_series_and_pause_on_the_preference_page(world: MailWorld, browser: Browser) -> None:
    email_id = await world.confirmed("reader@example.com", "en")
    await ingest(world.app.db, [], now=MONDAY - timedelta(days=1), tz=TZ, max_age_days=14)
    await world.weekly().run()
    page = link_in(world.smtp.messages[-1].message, "preferences")
    status, shown = await browser.get(page)
    series = re.findall(r'name="series" value="([^"]+)"', shown)
    assert status == 200 and series, shown
    moe = next(key for key in series if key.startswith("moe"))
    status, _ = await browser.form(page, scope="only", series=moe, words="")
    assert status == 200
    assert (await reads(world.app.db).preferences.get(email_id)).series_keys == (moe,)

    moe_6 = Post(10960, "MoE环游记：6、最后一篇", PostDate(2025, 5, 14), excerpt="结束。")
    await announce(world, [GD, moe_6], days=3)
    world.clock.now = MONDAY + timedelta(days=7)
    await world.weekly().run()
    text = body(world.smtp.messages[-1].message, "plain")
    assert moe_6.title in text and GD.title not in text

    # Paused: no mail at all, however much is new.
    status, _ = await browser.form(page, scope="paused")
    assert status == 200
    await announce(world, [GD_2], days=10)
    world.clock.now = MONDAY + timedelta(days=14)
    sent_before = len(world.smtp.messages)
    report = await world.weekly().run()
    assert report.sent == 0 and len(world.smtp.messages) == sent_before
    # An unknown choice is refused.
    status, _ = await browser.form(page, scope="everything")
    assert status == 400
