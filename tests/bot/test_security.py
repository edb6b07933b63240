"""What an attacker (or a look over an admin's shoulder) gets from the bot: no secrets, no floods."""

from __future__ import annotations

import asyncio

from tests.bot.conftest import ADMIN_ID, Harness

SOURCE = "https://reader:pa55-source-word@kexue.fm/feed?api_key=K3Y-of-the-feed&lang=zh"


async def test_stats_redacts_a_sources_password_and_api_key(harness: Harness) -> None:
    now = harness.app.clock()
    async with harness.app.uow() as uow:
        await uow.sources.record_failure(
            SOURCE, error=f"cannot fetch {SOURCE}: 401 for key K3Y-of-the-feed", now=now, retry_at=now
        )
    admin = harness.api.user("Admin", id=ADMIN_ID, language_code="en")
    text = await harness.ask(admin, "/stats")
    assert "kexue.fm/feed" in text
    assert "pa55-source-word" not in text and "K3Y-of-the-feed" not in text


async def test_inline_queries_are_under_flood_control(harness: Harness) -> None:
    api, user, other = harness.api, harness.user("en"), harness.user("en")
    floods = [api.inline_query(user, f"梯度 {n}") for n in range(300)]
    last = floods[-1]["inline_query"]["id"]
    # The flood ends; someone else is answered at once.
    update = api.inline_query(other, "梯度")
    assert (await api.wait_for_inline_answer(update["inline_query"]["id"])).results
    await asyncio.sleep(1.0)
    flooded = {update["inline_query"]["id"] for update in floods}
    answered = flooded & set(api.inline_answers)
    # Twice the message budget (20 in 10 s): a client sends one query per keystroke.
    assert 0 < len(answered) <= 40, len(answered)
    assert last not in answered
