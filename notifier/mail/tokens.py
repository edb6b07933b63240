"""Signed opaque tokens for the links of the weekly email (confirm, unsubscribe, preferences), made with
SECRET_KEY.

A token is 56 URL-safe characters: base64 of a packed (purpose, address id, issue time, an 8-byte keyed tag
of the address) and 16 bytes of HMAC-SHA256 over them; a confirmation token (66 characters) also packs the
Telegram reader who asked for it, the one reader its use may link the address to. The tag binds a token to
its address, so an id reused after `/forget` never unsubscribes someone else; it is an HMAC under the key,
not the address's plain hash, so whoever holds a token cannot test guesses of the address against it.
(Tokens made before the tag was keyed carry the plain hash prefix; they are still honoured, since their MAC
is genuine.) Confirmation tokens also expire. Only hmac and base64 from the standard library.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from storage.db import Database
from storage.uow import read_stores, unit_of_work

log = logging.getLogger(__name__)

Purpose = Literal["confirm", "unsubscribe", "preferences"]
_PURPOSES: dict[Purpose, int] = {"confirm": 1, "unsubscribe": 2, "preferences": 3}
_LAYOUT = struct.Struct(">BQQ8s")
# A confirmation link also names the Telegram reader who asked for it (0: the web), whom it links.
_ASKER = struct.Struct(">Q")
_MAC_BYTES = 16
# A confirmation link is good for three days; an unsubscribe or preference link for as long as the address
# exists.
CONFIRM_TTL = timedelta(days=3)
# Without SECRET_KEY a random key is made once and kept in the database, so links survive restarts.
SECRET_META_KEY = "secret_key"


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a valid token says: which address (id and keyed tag) and when it was issued."""

    purpose: Purpose
    email_id: int
    issued_at: datetime
    tag: str
    # The reader (subscriber id) whose /email asked for this confirmation link; None: the web.
    asker: int | None = None


class TokenSigner:
    """Makes and checks tokens with one secret key."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("an empty secret key")
        # Derived, so the raw SECRET_KEY is used for nothing but deriving (CSRF uses another derivation).
        self._key = hashlib.sha256(b"kexue-notifier tokens\0" + secret.encode("utf-8")).digest()

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_MAC_BYTES]

    def address_tag(self, address_hash: str) -> str:
        """The keyed tag of an address in its tokens (hex, 8 bytes): nobody without the key can compute it."""
        return hmac.new(self._key, b"address\0" + address_hash.encode(), hashlib.sha256).hexdigest()[:16]

    def make(
        self, purpose: Purpose, email_id: int, address_hash: str, now: datetime, *, asker: int | None = None
    ) -> str:
        """A token for `purpose` on the address `email_id` (whose hash is `address_hash`), issued `now`;
        a confirmation token also names the reader who asked for it (`asker`, None: the web)."""
        prefix = bytes.fromhex(self.address_tag(address_hash))
        payload = _LAYOUT.pack(_PURPOSES[purpose], email_id, int(now.timestamp()), prefix)
        if purpose == "confirm":
            payload += _ASKER.pack(asker or 0)
        return base64.urlsafe_b64encode(payload + self._mac(payload)).decode("ascii").rstrip("=")

    def read(
        self, token: str, purpose: Purpose, now: datetime, *, ttl: timedelta | None = None
    ) -> TokenClaims | None:
        """The claims of a genuine, unexpired token for `purpose`; None for anything else."""
        if not 40 <= len(token) <= 80 or not token.isascii():
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            return None
        # A confirmation token made before it named its asker has the short layout (and asks for no link).
        size = (
            _LAYOUT.size + _ASKER.size
            if len(raw) == _LAYOUT.size + _ASKER.size + _MAC_BYTES
            else _LAYOUT.size
        )
        payload, mac = raw[:size], raw[size:]
        if len(payload) != size or not hmac.compare_digest(mac, self._mac(payload)):
            return None
        kind, email_id, issued, prefix = _LAYOUT.unpack(payload[: _LAYOUT.size])
        (asker,) = _ASKER.unpack(payload[_LAYOUT.size :]) if size > _LAYOUT.size else (0,)
        if kind != _PURPOSES[purpose]:
            return None
        issued_at = datetime.fromtimestamp(issued, UTC)
        # A minute of slack for clocks; a token from the future is otherwise forged or from a broken clock.
        if issued_at > now + timedelta(minutes=1) or (ttl is not None and now - issued_at > ttl):
            return None
        return TokenClaims(purpose, email_id, issued_at, prefix.hex(), asker or None)

    def binds(self, claims: TokenClaims, address_hash: str) -> bool:
        """Whether the token of `claims` was made for the address with this hash."""
        keyed = hmac.compare_digest(claims.tag, self.address_tag(address_hash))
        # A token made before the tag was keyed: its MAC is genuine, so it is still honoured.
        legacy = hmac.compare_digest(claims.tag, address_hash[: len(claims.tag)])
        return keyed or legacy

    def csrf(self, session: str) -> str:
        """The form token that goes with a browser's CSRF cookie value `session`."""
        mac = hmac.new(self._key, b"csrf\0" + session.encode("utf-8"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:_MAC_BYTES]).decode("ascii").rstrip("=")


async def signer_for(db: Database, configured: str | None) -> TokenSigner:
    """The signer of SECRET_KEY, else of the key kept in the database (made and stored on first use)."""
    if configured:
        return TokenSigner(configured)
    stored = await read_stores(db).meta.get(SECRET_META_KEY)
    if not stored:
        async with unit_of_work(db) as uow:
            # Re-read under the write lock: another process may have made it meanwhile.
            stored = await uow.meta.get(SECRET_META_KEY)
            if not stored:
                stored = secrets.token_urlsafe(32)
                await uow.meta.put(SECRET_META_KEY, stored)
                log.warning("SECRET_KEY is not set: links are signed with a key kept in the database")
    return TokenSigner(stored)
