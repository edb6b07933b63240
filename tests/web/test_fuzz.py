"""Hostile input to the web app over real HTTP on loopback: random paths and methods, form bodies of any size,
type and encoding, and forged, truncated and bit-flipped tokens. Per case: never a 5xx, nothing logged at
ERROR, an answer within a generous bound, a token accepted only when it is genuine, and the database unchanged
by anything that was refused."""

from __future__ import annotations

import base64
import binascii
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from yarl import URL

from notifier.mail.tokens import TokenSigner
from tests.support.mail import MONDAY, SECRET, MailWorld
from web import WebServer, start_web
from web.pages import CSRF_COOKIE

# Hypothesis warns when it prints a failing case of several kilobytes; huge inputs are the point here.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")
# A request costs a few milliseconds, a third of a bot update: twice the profile's cases for the same time.
FUZZ = settings(settings.get_profile("fuzz"), max_examples=2 * settings.get_profile("fuzz").max_examples)
# A bound, not a benchmark: a request takes milliseconds; only a hang comes near it.
CASE_BOUND = 3.0
SESSION = "fuzz-browser-session"


@dataclass
class Site:
    """The web app on a loopback port, a client, the genuine tokens, and a way to see the database change."""

    server: WebServer
    client: aiohttp.ClientSession
    world: MailWorld
    signer: TokenSigner
    csrf: str  # the form token of the cookie SESSION
    confirm: str  # a genuine confirmation token of a pending address
    unsubscribe: str  # a genuine unsubscribe token of a confirmed address
    watch: sqlite3.Connection
    errors: list[logging.LogRecord]

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Hypothesis prints every argument of a failing case; the site is the same every time.
        printer.text("Site(...)")

    def fingerprint(self) -> int:
        """SQLite's count of commits by other connections, read on our own read-only connection: it moves
        with every transaction the app commits that wrote anything, whatever table it touched."""
        (version,) = self.watch.execute("PRAGMA data_version").fetchone()
        return int(version)

    async def request(
        self, method: str, path: str, *, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, str]:
        """Send one request with `path` exactly as given (already percent-encoded); the status and the body.

        Asserts the request was answered in time, with no 5xx and nothing logged at ERROR.
        """
        logged = len(self.errors)
        started = time.monotonic()
        url = URL(self.server.url + path, encoded=True)
        try:
            async with self.client.request(
                method, url, data=body, headers=headers or {}, allow_redirects=False
            ) as response:
                text = (await response.read()).decode("utf-8", errors="replace")
                status = response.status
        except aiohttp.ClientResponseError as exc:
            # aiohttp's server answers a request line over 8 KiB with a 400 its own client cannot read whole.
            status, text = exc.status, exc.message
        elapsed = time.monotonic() - started
        assert elapsed < CASE_BOUND, f"{method} {path[:200]} took {elapsed:.2f} s"
        assert status < 500, (method, path[:200], status, text[:500])
        failures = [record.getMessage() for record in self.errors[logged:]]
        assert not failures, failures
        assert "Traceback" not in text
        return status, text


@pytest.fixture
async def site(world: MailWorld, tmp_path: Path, errors: list[logging.LogRecord]) -> AsyncIterator[Site]:
    """The web app over the mail world, with one pending and one confirmed address and their tokens."""
    services = world.services()
    server = await start_web(services, world.app.renderer, host="127.0.0.1", port=0)
    signer = TokenSigner(SECRET)
    async with world.app.uow() as uow:
        pending = (await uow.emails.sign_up("pending@example.com", lang="zh", now=MONDAY)).email
    confirmed_id = await world.confirmed("reader@example.com")
    async with world.app.uow() as uow:
        confirmed = await uow.emails.get(confirmed_id)
    assert confirmed is not None
    watch = sqlite3.connect(f"file:{tmp_path / 'k.sqlite3'}?mode=ro", uri=True)
    (seen,) = watch.execute("PRAGMA data_version").fetchone()
    await world.confirmed("probe@example.com")
    # The watch sees the app's commits (else every "unchanged" below would hold vacuously).
    assert watch.execute("PRAGMA data_version").fetchone()[0] != seen
    try:
        # No cookie jar: each case sends exactly the cookies it means to.
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as client:
            yield Site(
                server,
                client,
                world,
                signer,
                signer.csrf(SESSION),
                signer.make("confirm", pending.id, pending.address_hash, MONDAY),
                signer.make("unsubscribe", confirmed.id, confirmed.address_hash, MONDAY),
                watch,
                errors,
            )
    finally:
        watch.close()
        await server.stop()


# -- strategies -------------------------------------------------------------------------------------------

ROUTES = ["", "subscribe", "confirm", "unsubscribe", "digest", "healthz", "metrics", "2025-W20", "2025-W99"]
RAW_SEGMENTS = [
    "..",
    ".",
    "%2e%2e",
    "%2E%2e%2f",
    "%00",
    "%ff%fe",
    "%c0%ae",
    "%",
    "%zz",
    "%25",
    "%2f",
    "~",
    ";x=1",
    "0000-W00",
    "9999-W53",
    "2025-W20",
    "2025-W01",
    "index.html",
    "%E5%AD%A6",
    "",
]
segment = st.one_of(
    st.sampled_from(ROUTES),
    st.sampled_from(RAW_SEGMENTS),
    st.text(max_size=16).map(lambda s: quote(s, safe="")),
    st.binary(max_size=12).map(lambda b: quote(b, safe="")),
    st.tuples(st.sampled_from(["a", "%00", "..", "字"]), st.integers(100, 1200)).map(
        lambda t: quote(t[0] * t[1], safe="%.")
    ),
)
query = st.one_of(
    st.just(""),
    st.sampled_from(["?lang=en", "?lang=zh", "?lang=xx", "?lang=", "?lang=en&lang=zh", "?%00=%ff", "?a"]),
    st.text(max_size=30).map(lambda s: "?lang=" + quote(s, safe="")),
)
methods = st.sampled_from(["GET", "GET", "GET", "POST", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"])
header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)
headers = st.fixed_dictionaries(
    {},
    optional={
        "Accept-Language": st.one_of(header_text, st.sampled_from(["zh-CN,zh;q=0.9", "en", ";;,,", "*"])),
        "Cookie": st.one_of(
            header_text,
            st.sampled_from(
                [f"{CSRF_COOKIE}={SESSION}", f"{CSRF_COOKIE}=", "lang=en", f"{CSRF_COOKIE}=a; lang=xx"]
            ),
        ),
        "X-Forwarded-Proto": st.sampled_from(["https", "http", "gopher"]),
        "Content-Type": st.sampled_from(
            ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain", "application/json"]
        ),
    },
)


@FUZZ
@given(
    method=methods,
    segments=st.lists(segment, min_size=1, max_size=5),
    trailing=st.booleans(),
    query=query,
    headers=headers,
    body=st.one_of(st.none(), st.binary(max_size=256)),
)
async def test_any_path_and_method(
    site: Site,
    method: str,
    segments: list[str],
    trailing: bool,
    query: str,
    headers: dict[str, str],
    body: bytes | None,
) -> None:
    before = site.fingerprint()
    path = "/" + "/".join(segments) + ("/" if trailing else "") + query
    status, _ = await site.request(method, path, body=body, headers=headers)
    # No request here carries a genuine token or a form with its CSRF token: nothing may change.
    assert site.fingerprint() == before, (method, path[:200], status)


# -- form bodies ------------------------------------------------------------------------------------------

field_value = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["reader@example.com", "a@b", "@", "x@example.com\r\nBcc: y@example.com", "en", "zh"]),
    st.tuples(st.sampled_from(["a", "字", "@"]), st.integers(500, 20_000)).map(lambda t: t[0] * t[1]),
)
field_name = st.one_of(st.sampled_from(["address", "lang", "csrf", "List-Unsubscribe"]), st.text(max_size=8))


def _urlencoded(pairs: list[tuple[str, str]], charset: str) -> bytes:
    """The pairs form-encoded in `charset` (unencodable characters dropped)."""
    return "&".join(
        quote(name.encode(charset, errors="ignore"), safe="")
        + "="
        + quote(value.encode(charset, "ignore"), safe="")
        for name, value in pairs
    ).encode("ascii")


def _multipart(pairs: list[tuple[str, str]], boundary: str) -> bytes:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in pairs
    ]
    return ("".join(parts) + f"--{boundary}--\r\n").encode("utf-8", errors="surrogatepass")


@FUZZ
@given(
    target=st.sampled_from(
        ["/subscribe", "/confirm/{confirm}", "/unsubscribe/{forged}", "/confirm/{forged}"]
    ),
    pairs=st.lists(st.tuples(field_name, field_value), max_size=6),
    csrf=st.sampled_from(["genuine", "none", "forged", "twice"]),
    cookie=st.booleans(),
    encoding=st.sampled_from(
        ["urlencoded", "latin-1", "gbk", "multipart", "broken-multipart", "raw", "json"]
    ),
    raw=st.binary(max_size=2048),
)
async def test_form_bodies(
    site: Site,
    target: str,
    pairs: list[tuple[str, str]],
    csrf: str,
    cookie: bool,
    encoding: str,
    raw: bytes,
) -> None:
    path = target.format(confirm=site.confirm, forged=site.confirm[:-4] + "AAAA")
    fields = list(pairs)
    if csrf == "genuine":
        fields.append(("csrf", site.csrf))
    elif csrf == "forged":
        fields.append(("csrf", site.csrf[:-1] + ("A" if site.csrf[-1] != "A" else "B")))
    elif csrf == "twice":
        fields += [("csrf", "forged"), ("csrf", site.csrf)]
    headers = {"Cookie": f"{CSRF_COOKIE}={SESSION}"} if cookie else {}
    if encoding == "urlencoded":
        body, headers["Content-Type"] = _urlencoded(fields, "utf-8"), "application/x-www-form-urlencoded"
    elif encoding in ("latin-1", "gbk"):
        body = _urlencoded(fields, encoding)
        headers["Content-Type"] = f"application/x-www-form-urlencoded; charset={encoding}"
    elif encoding == "multipart":
        body, headers["Content-Type"] = _multipart(fields, "b0und"), "multipart/form-data; boundary=b0und"
    elif encoding == "broken-multipart":
        body, headers["Content-Type"] = _multipart(fields, "b0und")[: len(raw) % 200], "multipart/form-data"
    elif encoding == "json":
        body, headers["Content-Type"] = repr(dict(fields)).encode(), "application/json"
    else:
        body, headers["Content-Type"] = raw, "application/x-www-form-urlencoded"
    before = site.fingerprint()
    status, _ = await site.request("POST", path, body=body, headers=headers)
    # Only a sign-up with the form's CSRF token and a real address may store anything, and it says 200.
    # A genuine confirmation confirms the pending address: once, and then the world is in its next state.
    may_change = status == 200 and (path == "/subscribe" or path == f"/confirm/{site.confirm}")
    if not may_change:
        assert site.fingerprint() == before, (path, status, fields[:3])
    if status == 200 and path != "/subscribe":
        assert path == f"/confirm/{site.confirm}", path


# -- tokens -----------------------------------------------------------------------------------------------


def _raw(token: str) -> bytes | None:
    """The bytes a token stands for, as the signer decodes it (None: not base64)."""
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None


def _flip(token: str, bit: int) -> str:
    """`token` with one bit of its decoded bytes flipped, encoded again."""
    raw = bytearray(_raw(token) or b"")
    if raw:
        raw[(bit // 8) % len(raw)] ^= 1 << (bit % 8)
    return base64.urlsafe_b64encode(bytes(raw)).decode("ascii").rstrip("=")


token_edit = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 8 * 64)),
    st.tuples(st.just("cut"), st.integers(0, 80)),
    st.tuples(st.just("char"), st.tuples(st.integers(0, 80), st.sampled_from("AZaz09-_+/=.%~字\x00"))),
    st.tuples(st.just("append"), st.text(max_size=8)),
)


def _edit(token: str, edit: tuple[str, Any]) -> str:
    kind, value = edit
    if kind == "flip":
        return _flip(token, value)
    if kind == "cut":
        return token[:value]
    if kind == "char":
        at, char = value
        at %= len(token) + 1
        return token[:at] + str(char) + token[at + 1 :]
    return token + str(value)


@FUZZ
@given(
    which=st.sampled_from(["confirm", "unsubscribe"]),
    route=st.sampled_from(["confirm", "unsubscribe"]),
    edits=st.lists(token_edit, min_size=1, max_size=3),
    other=st.one_of(st.none(), st.text(max_size=90), st.from_regex(r"[A-Za-z0-9_-]{40,80}", fullmatch=True)),
    method=st.sampled_from(["GET", "POST"]),
)
async def test_forged_tokens_are_never_accepted(
    site: Site, which: str, route: str, edits: list[tuple[str, Any]], other: str | None, method: str
) -> None:
    genuine = site.confirm if which == "confirm" else site.unsubscribe
    token = genuine
    for edit in edits:
        token = _edit(token, edit) if other is None else other
    before = site.fingerprint()
    headers = {"Cookie": f"{CSRF_COOKIE}={SESSION}", "Content-Type": "application/x-www-form-urlencoded"}
    body = f"csrf={site.csrf}".encode()
    status, page = await site.request(method, f"/{route}/{quote(token, safe='')}", body=body, headers=headers)
    if status == 200:
        # Accepted: the genuine token for this route, or the same bytes under another spelling of base64
        # (padding bits and stray characters the decoder skips). A POST then confirms or unsubscribes the
        # address, and the genuine token keeps answering 200.
        assert route == which and _raw(token) == _raw(genuine), (route, which, token)
    else:
        assert status == 404, (route, token, status, page[:300])
        assert site.fingerprint() == before
        assert not (token == genuine and route == which), "the genuine token was refused"


# -- what the fuzzing found, kept as plain cases ------------------------------------------------------------


async def test_an_unreadable_multipart_form_is_a_400_page(site: Site) -> None:
    # Found by test_form_bodies: a part header with a control character made request.post() raise
    # aiohttp's InvalidHeader, a 500 with a traceback in the log.
    body = b'--b0und\r\nContent-Disposition: form-data; name="\x1f"\r\n\r\nx\r\n--b0und--\r\n'
    before = site.fingerprint()
    for path in ("/subscribe", f"/confirm/{site.confirm}"):
        status, page = await site.request(
            "POST",
            path,
            body=body,
            headers={
                "Cookie": f"{CSRF_COOKIE}={SESSION}",
                "Content-Type": "multipart/form-data; boundary=b0und",
            },
        )
        assert status == 400 and "请重试" in page
    assert site.fingerprint() == before


async def test_a_csrf_field_with_non_ascii_characters_is_refused(site: Site) -> None:
    # Found by test_form_bodies: hmac.compare_digest raises TypeError on a str with non-ASCII characters, so
    # a form whose first csrf field was "\x80" got a 500.
    status, _ = await site.request(
        "POST",
        "/subscribe",
        body=_urlencoded([("csrf", "\x80"), ("csrf", site.csrf), ("address", "new@example.com")], "utf-8"),
        headers={"Cookie": f"{CSRF_COOKIE}={SESSION}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 403


async def test_a_request_line_over_8_kib_is_refused_without_an_error_in_the_log(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    # Found by test_any_path_and_method: aiohttp answers 400 and logs the parse failure at ERROR with a
    # traceback; the web app's server log turns it into one INFO line.
    caplog.set_level(logging.INFO, logger="web")
    status, _ = await site.request("GET", "/" + "%E5%AD%97" * 1000)  # asserts nothing at ERROR
    assert status == 400
    assert any("malformed request" in r.getMessage() and r.levelno == logging.INFO for r in caplog.records)
    assert not any(r.exc_info for r in caplog.records)
