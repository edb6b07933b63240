"""What a chat's /email lists depends only on what that chat did: never on what others did with an address."""

from __future__ import annotations

from tests.support.mail import MailWorld


async def test_a_chat_lists_every_address_it_asked_for_as_waiting_whatever_others_did(
    world: MailWorld,
) -> None:
    services = world.services()
    await world.confirmed("confirmed.elsewhere@example.org")
    for n in range(3):
        # Someone else used up this address's confirmation mails for the day.
        await services.email.sign_up("busy@example.org", "en", ip=f"198.51.100.{n}")
        await services.confirmations.send_due()
    for address in ("confirmed.elsewhere@example.org", "busy@example.org", "new@example.org"):
        await services.email.sign_up(address, "en", telegram_user=42)
    await services.confirmations.send_due()
    state = await services.email.state(42)
    assert [(view.masked, view.status) for view in state.addresses] == [
        ("c***@example.org", "pending"),
        ("b***@example.org", "pending"),
        ("n***@example.org", "pending"),
    ]
    # Someone's web sign-up of an address this chat asked for changes nothing of what it sees.
    await services.email.sign_up("new@example.org", "en", ip="203.0.113.9")
    assert await services.email.state(42) == state
    # /email off withdraws it all, and stops nothing this chat did not confirm.
    assert await services.email.off(42) == 0
    assert (await services.email.state(42)).addresses == ()
