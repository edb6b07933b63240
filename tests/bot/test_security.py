"""What an attacker (or a look over an admin's shoulder) gets from the bot: no secrets, no floods."""

from __future__ import annotations

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
