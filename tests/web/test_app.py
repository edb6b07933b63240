"""The weekly email's web app over real HTTP on loopback: sign-up, confirm, unsubscribe, limits, pages."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from email.message import EmailMessage

import aiohttp
import pytest

from notifier.mail.tokens import TokenSigner
from notifier.services import CONFIRMATION_MAILS_PER_DAY, SIGNUPS_PER_DAY, EmailSignUpStatus, Services
from tests.support.mail import BASE_URL, MONDAY, SECRET, MailWorld
from tests.support.store import reads
from web import WebServer, start_web
from web.pages import client_address

METRICS_TOKEN = "scrape-token-for-tests"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


class Browser:
    """A client with its own cookies, talking to the web app; `services` is the app's service layer."""

    def __init__(self, server: WebServer, session: aiohttp.ClientSession, services: Services) -> None:
        self.server = server
        self.session = session
        self.services = services

    async def get(self, path: str, **headers: str) -> tuple[int, str]:
        """GET `path`: the status and the page."""
        async with self.session.get(self.server.url + path, headers=headers) as response:
            return response.status, await response.text()

    async def post(self, path: str, data: dict[str, str], **headers: str) -> tuple[int, str]:
        """POST a form to `path`: the status and the page."""
        async with self.session.post(self.server.url + path, data=data, headers=headers) as response:
            return response.status, await response.text()

    async def form(self, path: str, **fields: str) -> tuple[int, str]:
        """Load the page at `path`, then post its form (with its CSRF token) to `path`."""
        status, page = await self.get(path)
        assert status == 200, page
        match = CSRF_FIELD.search(page)
        assert match is not None
        return await self.post(path, {"csrf": match[1], **fields})

    async def sign_up(self, address: str, lang: str = "zh", *, via: str | None = None) -> tuple[int, str]:
        """The sign-up form of `/`, filled in and sent (through a proxy saying `X-Forwarded-For: via`)."""
        status, page = await self.get("/")
        match = CSRF_FIELD.search(page)
        assert status == 200 and match is not None
        headers = {} if via is None else {"X-Forwarded-For": via}
        return await self.post("/subscribe", {"csrf": match[1], "address": address, "lang": lang}, **headers)


@pytest.fixture
async def browser(world: MailWorld) -> AsyncIterator[Browser]:
    """The web app on an ephemeral port and a client with a cookie jar."""
    services = world.services(metrics_token=METRICS_TOKEN)
    server = await start_web(services, world.app.renderer, host="127.0.0.1", port=0)
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            yield Browser(server, session, services)
    finally:
        await server.stop()


def link_in(message: EmailMessage, kind: str) -> str:
    """The path of the first `kind` link (confirm, unsubscribe) in the plain-text part."""
    part = message.get_body(("plain",))
    assert part is not None
    found = re.search(rf"{re.escape(BASE_URL)}(/{kind}/[A-Za-z0-9_-]+\?lang=[a-z]+)", str(part.get_content()))
    assert found is not None
    return found[1]


async def test_the_sign_up_page_in_both_languages_with_a_csrf_token_and_safe_headers(
    browser: Browser,
) -> None:
    status, zh = await browser.get("/", **{"Accept-Language": "zh-CN,zh;q=0.9"})
    assert status == 200 and "每周邮件" in zh and 'lang="zh-CN"' in zh
    assert CSRF_FIELD.search(zh) is not None
    status, en = await browser.get("/?lang=en")
    assert status == 200 and "The weekly email" in en and 'action="/subscribe"' in en
    # The chosen language is remembered.
    assert "Email address" in (await browser.get("/"))[1]
    async with browser.session.get(browser.server.url + "/") as response:
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


async def test_sign_up_confirm_and_one_click_unsubscribe(browser: Browser, world: MailWorld) -> None:
    status, page = await browser.sign_up("reader@example.com", "en")
    assert status == 200 and "confirmation link is on its way" in page
    await world.smtp.wait_for(1)
    (mail,) = world.smtp.to("reader@example.com")
    assert mail["Subject"] == "Confirm your weekly email from Scientific Spaces"
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]
    confirm = link_in(mail, "confirm")
    stored = await reads(world.app.db).emails.find("reader@example.com")
    assert stored is not None and stored.status == "pending" and stored.lang == "en"
    # Following the link (as a mail scanner does) shows a button and confirms nothing.
    status, page = await browser.get(confirm)
    assert status == 200 and 'id="confirm"' in page
    assert (await reads(world.app.db).emails.get(stored.id)).status == "pending"  # type: ignore[union-attr]
    # The button without the form's CSRF token is refused.
    status, _ = await browser.post(confirm, {"csrf": "forged"})
    assert status == 403
    assert (await reads(world.app.db).emails.get(stored.id)).status == "pending"  # type: ignore[union-attr]
    status, page = await browser.form(confirm)
    assert status == 200 and "will come to this address" in page
    confirmed = await reads(world.app.db).emails.get(stored.id)
    assert confirmed is not None and confirmed.status == "confirmed" and confirmed.confirmed_at == MONDAY
    # The weekly mail's List-Unsubscribe link, posted as RFC 8058 says: no cookie, no form token.
    await world.weekly().run(force=True)
    weekly = world.smtp.to("reader@example.com")[-1]
    one_click = weekly["List-Unsubscribe"].strip("<>").removeprefix(BASE_URL)
    async with (
        aiohttp.ClientSession() as bare,
        bare.post(browser.server.url + one_click, data={"List-Unsubscribe": "One-Click"}) as response,
    ):
        assert response.status == 200
    gone = await reads(world.app.db).emails.get(stored.id)
    assert gone is not None and gone.status == "unsubscribed" and gone.address is None
    assert gone.address_hash == stored.address_hash
    status, page = await browser.get(one_click)
    assert status == 200 and "no more mail" in page


async def test_the_unsubscribe_page_has_a_button(browser: Browser, world: MailWorld) -> None:
    email_id = await world.confirmed("a@example.com")
    stored = await reads(world.app.db).emails.get(email_id)
    assert stored is not None
    token = TokenSigner(SECRET).make("unsubscribe", email_id, stored.address_hash, MONDAY)
    status, page = await browser.get(f"/unsubscribe/{token}")
    assert status == 200 and 'id="unsubscribe"' in page
    assert (await reads(world.app.db).emails.get(email_id)).status == "confirmed"  # type: ignore[union-attr]
    status, _ = await browser.form(f"/unsubscribe/{token}")
    assert status == 200
    assert (await reads(world.app.db).emails.get(email_id)).status == "unsubscribed"  # type: ignore[union-attr]


async def test_forged_expired_and_misused_tokens_get_a_plain_404(browser: Browser, world: MailWorld) -> None:
    email_id = await world.confirmed("a@example.com")
    stored = await reads(world.app.db).emails.get(email_id)
    assert stored is not None
    signer = TokenSigner(SECRET)
    unsubscribe = signer.make("unsubscribe", email_id, stored.address_hash, MONDAY)
    other_key = TokenSigner("another key").make("unsubscribe", email_id, stored.address_hash, MONDAY)
    tampered = unsubscribe[:-2] + ("AA" if unsubscribe[-2:] != "AA" else "BB")
    for path in (
        f"/unsubscribe/{other_key}",
        f"/unsubscribe/{tampered}",
        "/unsubscribe/nonsense",
        f"/confirm/{unsubscribe}",  # an unsubscribe token is no confirmation
        "/no/such/page",
    ):
        status, page = await browser.get(path + "?lang=en")
        assert status == 404 and "no longer valid" in page, path
    status, _ = await browser.post(f"/unsubscribe/{other_key}", {"List-Unsubscribe": "One-Click"})
    assert status == 404
    assert (await reads(world.app.db).emails.get(email_id)).status == "confirmed"  # type: ignore[union-attr]
    # A confirmation link expires; another address's hash does not match.
    async with world.app.uow() as uow:
        pending = (await uow.emails.sign_up("late@example.com", lang="zh", now=MONDAY)).email
    confirm = signer.make("confirm", pending.id, pending.address_hash, MONDAY)
    wrong = signer.make("confirm", pending.id, stored.address_hash, MONDAY)
    assert (await browser.get(f"/confirm/{wrong}"))[0] == 404
    assert (await browser.get(f"/confirm/{confirm}"))[0] == 200
    world.clock.now = MONDAY + timedelta(days=4)
    assert (await browser.get(f"/confirm/{confirm}"))[0] == 404
    assert (await reads(world.app.db).emails.get(pending.id)).status == "pending"  # type: ignore[union-attr]


async def test_a_post_without_the_csrf_token_is_refused(browser: Browser, world: MailWorld) -> None:
    await browser.get("/")
    status, _ = await browser.post("/subscribe", {"address": "a@example.com", "lang": "en"})
    assert status == 403
    async with (
        aiohttp.ClientSession() as other,
        other.post(browser.server.url + "/subscribe", data={"csrf": "x", "address": "a@b.cd"}) as r,
    ):
        assert r.status == 403
    assert await reads(world.app.db).emails.find("a@example.com") is None
    assert world.smtp.messages == []


async def test_limits_and_answers_that_reveal_nothing(browser: Browser, world: MailWorld) -> None:
    await world.confirmed("known@example.com")
    answers = []
    # An IP starts at most SIGNUPS_PER_DAY sign-ups a day; an address gets at most three confirmation mails.
    for _ in range(CONFIRMATION_MAILS_PER_DAY + 1):
        answers.append(await browser.sign_up("target@example.com", "en"))
        # The mail goes out after the answer; one still waiting would take the next sign-up's place.
        await browser.services.confirmations.send_due()
    answers.append(await browser.sign_up("known@example.com", "en"))
    await browser.services.confirmations.send_due()
    assert len(answers) == SIGNUPS_PER_DAY
    assert {status for status, _ in answers} == {200}
    assert len({page for _, page in answers}) == 1
    assert len(world.smtp.to("target@example.com")) == CONFIRMATION_MAILS_PER_DAY
    assert world.smtp.to("known@example.com") == []
    status, page = await browser.sign_up("sixth@example.com", "en")
    assert status == 429 and "tomorrow" in page
    # A day later the limits are lifted.
    world.clock.now += timedelta(days=1, minutes=1)
    assert (await browser.sign_up("sixth@example.com", "en"))[0] == 200
    status, page = await browser.sign_up("not an address", "en")
    assert status == 400


async def test_the_bot_operations_share_the_limits_and_show_masked_state(world: MailWorld) -> None:
    services = world.services()
    result = await services.email.sign_up("me@example.com", "zh", telegram_user=42)
    assert result.status is EmailSignUpStatus.ACCEPTED
    state = await services.email.state(42)
    assert [(v.masked, v.status) for v in state.addresses] == [("m***@example.com", "pending")]
    for i in range(SIGNUPS_PER_DAY - 1):
        await services.email.sign_up(f"x{i}@example.com", "zh", telegram_user=42)
    limited = await services.email.sign_up("more@example.com", "zh", telegram_user=42)
    assert limited.status is EmailSignUpStatus.LIMITED
    # Nothing confirmed yet: /email off stops no mail, and withdraws what the chat asked for.
    assert len((await services.email.state(42)).addresses) == SIGNUPS_PER_DAY
    assert await services.email.off(42) == 0
    assert (await services.email.state(42)).addresses == ()
    off = world.services(smtp_host=None)
    assert (
        await off.email.sign_up("me@example.com", "zh", telegram_user=7)
    ).status is EmailSignUpStatus.EMAIL_OFF


async def test_the_digest_in_the_browser_and_health(browser: Browser, world: MailWorld) -> None:
    status, page = await browser.get("/digest/2025-W19")
    assert status == 200 and "MoE环游记：5、均匀分布的反思" in page
    assert "&lt;script&gt;" in page and "<script>" not in page
    status, page = await browser.get("/digest/2025-W19?lang=en")
    assert status == 200 and "New posts" in page
    assert (await browser.get("/digest/2030-W01"))[0] == 404
    assert (await browser.get("/digest/2025-W99"))[0] == 404
    # The period a weekly email covered, as its "view in the browser" link names it.
    status, page = await browser.get("/digest/2025-05-05..2025-05-12")
    assert status == 200 and "MoE环游记：5、均匀分布的反思" in page
    for bad in (
        "2025-05-12..2025-05-05",
        "2025-02-30..2025-03-01",
        "2030-01-01..2030-01-02",
    ):
        assert (await browser.get(f"/digest/{bad}"))[0] == 404, bad
    # A span longer than a page covers says so, not "not found".
    status, page = await browser.get("/digest/2025-01-01..2025-05-12?lang=en")
    assert status == 400 and "at most 31 days" in page
    async with browser.session.get(browser.server.url + "/healthz") as response:
        assert response.status == 200 and await response.json() == {"status": "ok"}


async def test_metrics_in_prometheus_text_format(browser: Browser, world: MailWorld) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    await browser.sign_up("metrics@example.com")
    now = world.app.clock()
    async with world.app.uow() as uow:
        await uow.subscribers.start(42, chat_type="private", lang="zh", now=now)
        await uow.sources.record_failure(
            "https://reader:s3cret@kexue.fm/feed", error="x", now=now, retry_at=now
        )
        assert await uow.deliveries.enqueue("42", "post:1", "post", now)
    # The weekly email: one accepted, one refused for good (a bounce), each counted once.
    await world.confirmed("fine@example.com")
    await world.confirmed("gone@example.com")
    world.smtp.refuse["gone@example.com"] = (550, "5.1.1 no such user")
    await world.weekly().run()
    await world.weekly().run()
    url = browser.server.url + "/metrics"
    async with browser.session.get(url) as response:
        assert response.status == 401 and "kexue_posts" not in await response.text()
    for wrong in ("Bearer nope", f"Basic {METRICS_TOKEN}", f"Bearer {METRICS_TOKEN}x", "Bearer ☃"):
        async with browser.session.get(url, headers={"Authorization": wrong}) as response:
            assert response.status == 401, wrong
    bearer = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    async with browser.session.get(url, headers=bearer) as response:
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert samples[("kexue_posts", ())] == 2
    assert samples[("kexue_subscribers", (("mode", "instant"),))] == 1
    assert samples[("kexue_email_addresses", (("state", "pending"),))] == 1
    assert samples[("kexue_deliveries", (("channel", "telegram"), ("state", "pending")))] == 1
    # Every channel and state is there from the start, at 0 until it happens.
    assert samples[("kexue_deliveries", (("channel", "telegram"), ("state", "dead")))] == 0
    failing = [key for key in samples if key[0] == "kexue_source_consecutive_failures"]
    assert failing and all("s3cret" not in str(key) for key in failing)
    assert samples[failing[0]] == 1
    assert samples[("kexue_emails_sent_total", ())] == 1
    assert samples[("kexue_emails_bounced_total", ())] == 1
    assert samples[("kexue_messages_sent_total", ())] == samples[("kexue_telegram_429_total", ())] == 0
    assert samples[("kexue_messages_failed_total", (("reason", "server_error"),))] == 0


async def test_behind_a_trusted_proxy_the_limit_counts_each_client_not_the_proxy(
    browser: Browser, world: MailWorld
) -> None:
    # The proxy on loopback (trusted by default) names each client: many readers sign up the same day.
    for n in range(SIGNUPS_PER_DAY + 2):
        assert (await browser.sign_up(f"reader{n}@example.com", "en", via=f"203.0.113.{n + 1}"))[0] == 200
    # One client is still held to the limit, whatever it claims further left in the header.
    for n in range(SIGNUPS_PER_DAY):
        assert (await browser.sign_up(f"same{n}@example.com", "en", via=f"10.9.9.{n}, 198.51.100.7"))[
            0
        ] == 200
    assert (await browser.sign_up("one-more@example.com", "en", via="198.51.100.7"))[0] == 429


async def test_an_untrusted_peer_cannot_choose_its_address_with_x_forwarded_for(world: MailWorld) -> None:
    services = world.services(trusted_proxies=())
    server = await start_web(services, world.app.renderer, host="127.0.0.1", port=0)
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            browser = Browser(server, session, services)
            for n in range(SIGNUPS_PER_DAY):
                assert (await browser.sign_up(f"r{n}@example.com", "en", via=f"203.0.113.{n + 1}"))[0] == 200
            assert (await browser.sign_up("r9@example.com", "en", via="203.0.113.99"))[0] == 429
    finally:
        await server.stop()


@pytest.mark.parametrize(
    ("remote", "forwarded", "trusted", "client"),
    [
        ("192.0.2.1", [], ["127.0.0.1"], "192.0.2.1"),
        ("192.0.2.1", ["203.0.113.5"], ["127.0.0.1"], "192.0.2.1"),  # not a trusted proxy: header ignored
        ("127.0.0.1", ["203.0.113.5"], ["127.0.0.1"], "203.0.113.5"),
        (
            "127.0.0.1",
            ["6.6.6.6, 203.0.113.5"],
            ["127.0.0.1"],
            "203.0.113.5",
        ),  # the left part is the client's word
        ("127.0.0.1", ["203.0.113.5, 10.0.0.2"], ["127.0.0.1", "10.0.0.0/8"], "203.0.113.5"),
        ("127.0.0.1", ["203.0.113.5", "10.0.0.2"], ["127.0.0.1", "10.0.0.0/8"], "203.0.113.5"),  # two headers
        ("127.0.0.1", ["not-an-ip"], ["127.0.0.1"], "127.0.0.1"),
        ("127.0.0.1", [""], ["127.0.0.1"], "127.0.0.1"),
        ("::1", ["2001:db8::7"], ["::1"], "2001:db8::7"),
        (None, ["203.0.113.5"], ["127.0.0.1"], "unknown"),
    ],
)
def test_the_client_address_through_trusted_proxies(
    remote: str | None, forwarded: list[str], trusted: list[str], client: str
) -> None:
    networks = [ipaddress.ip_network(net) for net in trusted]
    assert client_address(remote, forwarded, networks) == client


async def test_digest_pages_link_the_weeks_around_and_the_sign_up_and_an_empty_week_says_so(
    browser: Browser, world: MailWorld
) -> None:
    status, page = await browser.get("/digest/2025-W19?lang=en")
    assert status == 200
    assert 'href="/digest/2025-W18"' in page and 'href="/"' in page and "Get the weekly email" in page
    status, empty = await browser.get("/digest/2025-W10?lang=en")
    assert status == 200 and "No post was published in these days" in empty
    assert 'href="/digest/2025-W09"' in empty and 'href="/digest/2025-W11"' in empty


async def test_a_refused_sign_up_keeps_what_was_typed_and_the_confirm_page_names_the_address(
    browser: Browser, world: MailWorld
) -> None:
    status, page = await browser.sign_up("bob at example")
    assert status == 400 and 'value="bob at example"' in page and 'id="error"' in page
    assert "<title>The weekly email · The weekly email" not in page
    await browser.sign_up("carol@example.com")
    await world.smtp.wait_for(1)
    (mail,) = world.smtp.to("carol@example.com")
    status, page = await browser.get(link_in(mail, "confirm"))
    assert status == 200 and 'id="address"' in page and "carol@example.com" in page
