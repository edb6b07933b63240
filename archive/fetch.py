"""Fetch archive sources politely: conditional GET, cookie challenge, size cap, pacing and backoff."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
import stat
import time
from dataclasses import dataclass
from email.utils import formatdate
from importlib import metadata
from types import TracebackType
from typing import Self
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit
from urllib.request import url2pathname
from urllib.robotparser import RobotFileParser

import httpx

from archive import FetchError
from archive.bodies import DecodeError, TooLargeError, read_capped

__all__ = [
    "DEFAULT_USER_AGENT",
    "MAX_REDIRECTS",
    "FetchResult",
    "Fetcher",
    "Validators",
    "backoff_delay",
    "redact_url",
    "robots_path",
]

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5
# A challenge page is a few hundred bytes; anything much bigger is a real 403 page we need not read.
_CHALLENGE_MAX_BYTES = 64 * 1024
_CHALLENGE_MARKER = b"window.location.href"
# Only codings we can undo a bounded piece at a time: httpx would inflate a whole network read at once, and
# 64 KiB of gzip inflates to 64 MiB before any size check could run.
_ACCEPT_ENCODING = "gzip, deflate"
_SENSITIVE_QUERY_KEY = re.compile(r"token|key|secret|pass|auth|sig|session|sid|code|cred", re.IGNORECASE)


def _project_version_and_url() -> tuple[str, str | None]:
    try:
        meta = metadata.metadata("kexue-notifier")
    except metadata.PackageNotFoundError:
        # Running from a source tree that was never installed.
        return "0.0.0", None
    urls = list(meta.get_all("Home-page") or [])
    urls += [entry.partition(",")[2].strip() for entry in meta.get_all("Project-URL") or []]
    version = (meta.get_all("Version") or ["0.0.0"])[0]
    return version, next((url for url in urls if url), None)


def _default_user_agent() -> str:
    version, url = _project_version_and_url()
    # Only advertise a contact URL the package metadata really declares; never an invented one.
    contact = f"+{url}; " if url else ""
    return f"kexue-notifier/{version} ({contact}polite poller of kexue.fm; one request at a time)"


DEFAULT_USER_AGENT = _default_user_agent()
# How long a host's robots.txt is trusted before it is read again.
ROBOTS_TTL = 24 * 3600.0
# The longest Crawl-delay honoured, in seconds: a larger one would stall a poll for its whole interval.
MAX_CRAWL_DELAY = 60.0


@dataclass(frozen=True)
class Validators:
    """HTTP cache validators remembered from the last answer of a source."""

    etag: str | None
    last_modified: str | None


@dataclass(frozen=True)
class FetchResult:
    """What one fetch of a source produced; `content` is None when the server said 304."""

    source: str
    content: bytes | None
    validators: Validators
    not_modified: bool
    status: int


def backoff_delay(failures: int, *, base: float, cap: float) -> float:
    """Seconds to wait after `failures` consecutive failures: base * 2**(failures-1), at most cap."""
    if failures <= 0:
        return 0.0
    try:
        delay = base * 2.0 ** (failures - 1)
    except OverflowError:
        delay = math.inf
    return max(0.0, min(cap, delay))


def redact_url(url: str) -> str:
    """The URL without userinfo, fragment or secret-looking query values, fit for logs and errors."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    netloc = parts.netloc.rpartition("@")[2]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        masked = [(k, "***" if _SENSITIVE_QUERY_KEY.search(k) else v) for k, v in pairs]
        query = urlencode(masked, safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def failure_line(source: str, message: str) -> str:
    """One line naming the source once, whether or not `message` already names it."""
    shown = redact_url(source)
    return message if shown in message else f"{shown}: {message}"


def robots_path(path: str) -> str:
    """A path as robots.txt rules are matched against it: percent-escapes read, repeated slashes folded, so
    `/%73earch/x` and `//search/x` are the `/search/x` a rule names."""
    return re.sub(r"/{2,}", "/", unquote(path)) or "/"


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _read_file(path: str, max_bytes: int) -> tuple[bytes, os.stat_result]:
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise FetchError(f"{path}: not a regular file")
        if st.st_size > max_bytes:
            raise FetchError(f"{path}: file larger than {max_bytes} bytes ({st.st_size})")
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        # The file grew between fstat and read.
        raise FetchError(f"{path}: file larger than {max_bytes} bytes")
    return data, st


def _file_path(source: str) -> str | None:
    """The local path a source names, or None when it is an http(s) URL."""
    lowered = source[:8].lower()
    if lowered.startswith(("http://", "https://")):
        return None
    if lowered.startswith("file://"):
        parts = urlsplit(source)
        if parts.netloc not in ("", "localhost"):
            raise FetchError(f"{redact_url(source)}: file URLs on other hosts are not supported")
        return url2pathname(unquote(parts.path))
    if "://" in source:
        raise FetchError(f"{redact_url(source)}: unsupported URL scheme")
    return source


class Fetcher:
    """Fetches http(s) URLs and local files; one instance per poller, used as an async context manager."""

    def __init__(
        self,
        *,
        timeout: float = 20.0,
        max_bytes: int = 10 * 1024 * 1024,
        user_agent: str = DEFAULT_USER_AGENT,
        min_interval: float = 0.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        """Configure limits; `client` is for tests and is then neither configured nor closed here."""
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._user_agent = user_agent
        self._min_interval = min_interval
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, headers={"User-Agent": user_agent}
        )
        self._pace_lock = asyncio.Lock()
        self._next_start: dict[str, float] = {}
        self._robots: dict[str, tuple[RobotFileParser | None, float]] = {}
        self._robots_lock = asyncio.Lock()

    async def __aenter__(self) -> Self:
        """Return self; the client is opened lazily by httpx."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the client if this fetcher created it."""
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client if this fetcher created it."""
        if self._owns_client:
            await self._client.aclose()

    async def fetch(self, source: str, validators: Validators | None = None) -> FetchResult:
        """Fetch an http(s) URL or a local file; raise FetchError with a one-line reason on failure."""
        path = _file_path(source)
        if path is not None:
            return await self._fetch_file(source, path)
        return await self._fetch_http(source, validators)

    async def _fetch_file(self, source: str, path: str) -> FetchResult:
        try:
            data, st = await asyncio.to_thread(_read_file, path, self._max_bytes)
        except OSError as exc:
            raise FetchError(f"{path}: cannot read file: {exc.strerror or type(exc).__name__}") from exc
        validators = Validators(
            etag=f'"{st.st_size:x}-{st.st_mtime_ns:x}"',
            last_modified=formatdate(st.st_mtime, usegmt=True),
        )
        logger.debug("read %s: %d bytes", path, len(data))
        return FetchResult(source, data, validators, not_modified=False, status=200)

    async def _fetch_http(self, source: str, validators: Validators | None) -> FetchResult:
        shown = redact_url(source)
        try:
            url = httpx.URL(source)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise FetchError(f"{shown}: invalid URL") from exc
        # Credentials leave the URL so that httpx's own request log never prints them; they go back in
        # as an auth object, only towards the origin they were written for.
        auth: httpx.BasicAuth | None = None
        if url.userinfo:
            auth = httpx.BasicAuth(url.username, url.password)
            url = url.copy_with(userinfo=b"")
        origin = (url.scheme, url.host, url.port)
        secrets = _secrets_of(source)

        headers = {"User-Agent": self._user_agent, "Accept-Encoding": _ACCEPT_ENCODING}
        if validators is not None and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators is not None and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        conditional = "If-None-Match" in headers or "If-Modified-Since" in headers

        request = self._client.build_request("GET", url, headers=headers, timeout=self._timeout)
        challenged = False
        redirects = 0
        while True:
            rules = await self._robots_of(request.url)
            path = robots_path(request.url.raw_path.decode("ascii", "replace"))
            if rules is not None and not rules.can_fetch(self._user_agent, path):
                where = "" if request.url == url else f" (redirected to {redact_url(str(request.url))})"
                raise FetchError(f"{shown}{where}: the host's robots.txt disallows {path.split('?')[0]}")
            same_origin = (request.url.scheme, request.url.host, request.url.port) == origin
            delay = _crawl_delay(rules, self._user_agent)
            response, body = await self._exchange(
                request, shown, auth if same_origin else None, secrets, delay=delay
            )
            status = response.status_code

            if response.has_redirect_location and response.next_request is not None:
                redirects += 1
                if redirects > MAX_REDIRECTS:
                    raise FetchError(f"{shown}: more than {MAX_REDIRECTS} redirects")
                request = response.next_request
                logger.debug("%s: HTTP %d redirect to %s", shown, status, redact_url(str(request.url)))
                continue

            if status == 403 and not challenged and _is_challenge(response, body):
                challenged = True
                logger.info("%s: cookie challenge, repeating the request with the cookie", shown)
                # Rebuilding picks up the cookie the client's jar took from the challenge answer.
                request = self._client.build_request(
                    "GET", request.url, headers=headers, timeout=self._timeout
                )
                continue

            if status == 304:
                if not conditional or validators is None:
                    raise FetchError(f"{shown}: HTTP 304 to an unconditional request")
                # A 304 may refresh a validator; whatever it leaves out stays as it was.
                kept = Validators(
                    etag=response.headers.get("ETag") or validators.etag,
                    last_modified=response.headers.get("Last-Modified") or validators.last_modified,
                )
                logger.debug("%s: HTTP 304 not modified", shown)
                return FetchResult(source, None, kept, not_modified=True, status=304)

            if response.is_success and body is not None:
                fresh = Validators(
                    etag=response.headers.get("ETag"),
                    last_modified=response.headers.get("Last-Modified"),
                )
                logger.debug("%s: HTTP %d, %d bytes", shown, status, len(body))
                return FetchResult(source, body, fresh, not_modified=False, status=status)

            reason = f"HTTP {status} {response.reason_phrase}".rstrip()
            if challenged:
                reason += " (after answering the cookie challenge)"
            elif 300 <= status < 400:
                reason += " (redirect without a usable Location)"
            raise FetchError(f"{shown}: {reason}", status=status)

    async def _exchange(
        self,
        request: httpx.Request,
        shown: str,
        auth: httpx.BasicAuth | None,
        secrets: tuple[str, ...],
        *,
        delay: float = 0.0,
        paced: bool = True,
    ) -> tuple[httpx.Response, bytes | None]:
        """Send one request and read the part of the body we need, all within the timeout."""
        if paced:
            await self._pace(request.url.host, max(self._min_interval, delay))
        logger.debug("%s: GET %s", shown, redact_url(str(request.url)))
        try:
            async with asyncio.timeout(self._timeout):
                if auth is None:
                    response = await self._client.send(request, follow_redirects=False, stream=True)
                else:
                    response = await self._client.send(
                        request, auth=auth, follow_redirects=False, stream=True
                    )
                try:
                    body = await self._body_of(response)
                finally:
                    await response.aclose()
        except TooLargeError as exc:
            raise FetchError(f"{shown}: response larger than {self._max_bytes} bytes ({exc})") from None
        except DecodeError as exc:
            raise FetchError(f"{shown}: {exc}") from None
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise FetchError(f"{shown}: timed out after {self._timeout:g}s") from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"{shown}: {type(exc).__name__}: {_scrub(str(exc), secrets)}") from exc
        return response, body

    async def _body_of(self, response: httpx.Response) -> bytes | None:
        if response.has_redirect_location or response.status_code == 304:
            return None
        if response.is_success:
            return await read_capped(response, self._max_bytes)
        if response.status_code == 403:
            try:
                return await read_capped(response, min(self._max_bytes, _CHALLENGE_MAX_BYTES))
            except (TooLargeError, DecodeError):
                # Not a challenge page we could read: the request fails as a plain 403.
                return None
        return None

    async def _pace(self, host: str, interval: float) -> None:
        """Keep at least `interval` seconds (CRAWL_DELAY, or the host's Crawl-delay) between the starts of
        consecutive requests to one host."""
        if interval <= 0:
            return
        async with self._pace_lock:
            # Loop because the event loop may wake a sleeper a hair before the deadline.
            while (wait := self._next_start.get(host, 0.0) - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            self._next_start[host] = time.monotonic() + interval

    async def _robots_of(self, url: httpx.URL) -> RobotFileParser | None:
        """The rules of the host's robots.txt, read through this fetcher (its timeout, its answer to the
        cookie challenge) once a day; None when the host has none (4xx) or it cannot be read now (then the
        fetch goes on, and the next one asks again)."""
        site = f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}"
        async with self._robots_lock:
            cached = self._robots.get(site)
            if cached is not None and time.monotonic() - cached[1] < ROBOTS_TTL:
                return cached[0]
            rules, keep = await self._read_robots(
                url.copy_with(path="/robots.txt", query=None, fragment=None)
            )
            if keep:
                self._robots[site] = (rules, time.monotonic())
            elif cached is not None:
                return cached[0]
            return rules

    async def _read_robots(self, url: httpx.URL) -> tuple[RobotFileParser | None, bool]:
        """(rules, whether to keep them for a day) for one robots.txt URL."""
        shown = redact_url(str(url))
        headers = {"User-Agent": self._user_agent, "Accept-Encoding": _ACCEPT_ENCODING}
        request = self._client.build_request("GET", url, headers=headers, timeout=self._timeout)
        challenged = False
        for _ in range(MAX_REDIRECTS + 2):
            try:
                response, body = await self._exchange(request, shown, None, (), paced=False)
            except FetchError as exc:
                # The error names the URL already.
                logger.info("%s: fetching without its rules for now", exc)
                return None, False
            status = response.status_code
            if response.has_redirect_location and response.next_request is not None:
                request = response.next_request
                continue
            if status == 403 and not challenged and _is_challenge(response, body):
                challenged = True
                request = self._client.build_request("GET", url, headers=headers, timeout=self._timeout)
                continue
            if response.is_success and body is not None:
                rules = RobotFileParser()
                rules.parse(body.decode("utf-8", "replace").splitlines())
                return rules, True
            if 400 <= status < 500:
                return None, True  # no robots.txt: nothing is disallowed
            logger.info("%s: HTTP %d: fetching without its rules for now", shown, status)
            return None, False
        return None, False


def _crawl_delay(rules: RobotFileParser | None, user_agent: str) -> float:
    """The host's Crawl-delay for us, in seconds (0 without one), at most MAX_CRAWL_DELAY."""
    if rules is None:
        return 0.0
    delay = rules.crawl_delay(user_agent)
    try:
        return min(MAX_CRAWL_DELAY, max(0.0, float(delay or 0)))
    except (TypeError, ValueError):
        return 0.0


def _is_challenge(response: httpx.Response, body: bytes | None) -> bool:
    return body is not None and _CHALLENGE_MARKER in body and "set-cookie" in response.headers


def _secrets_of(source: str) -> tuple[str, ...]:
    """The password and secret-looking query values a source URL carries."""
    try:
        parts = urlsplit(source)
        password = parts.password
    except ValueError:
        return ()
    found = [password] if password else []
    found += [v for k, v in parse_qsl(parts.query) if v and _SENSITIVE_QUERY_KEY.search(k)]
    # urlsplit keeps the percent-encoded spelling; texts may carry either one.
    found += [unquote(s) for s in found]
    return tuple(sorted({s for s in found if s}, key=len, reverse=True))


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    """Make an exception text one line long and free of the URL's secrets."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return _one_line(text) or "no details"
