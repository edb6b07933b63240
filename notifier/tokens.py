"""Signed opaque tokens for the links of the weekly email (confirm, unsubscribe, preferences), made with
SECRET_KEY.

A token is 56 URL-safe characters: base64 of a packed (purpose, address id, issue time, the first bytes of the
address hash) and 16 bytes of HMAC-SHA256 over them. The hash prefix binds a token to its address, so an id
reused after `/forget` never unsubscribes someone else; confirmation tokens also expire. Only hmac and base64
from the standard library: nothing to install.
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
_MAC_BYTES = 16
# A confirmation link is good for three days; an unsubscribe or preference link for as long as the address
# exists.
CONFIRM_TTL = timedelta(days=3)
# Without SECRET_KEY a random key is made once and kept in the database, so links survive restarts.
SECRET_META_KEY = "secret_key"


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a valid token says: which address (id and hash prefix) and when it was issued."""

    purpose: Purpose
    email_id: int
    issued_at: datetime
    hash_prefix: str

    def matches(self, address_hash: str) -> bool:
        """Whether the token was made for the address with this hash."""
        return hmac.compare_digest(address_hash[: len(self.hash_prefix)], self.hash_prefix)


class TokenSigner:
    """Makes and checks tokens with one secret key."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("an empty secret key")
        # Derived, so the raw SECRET_KEY is used for nothing but deriving (CSRF uses another derivation).
        self._key = hashlib.sha256(b"kexue-notifier tokens\0" + secret.encode("utf-8")).digest()

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_MAC_BYTES]

    def make(self, purpose: Purpose, email_id: int, address_hash: str, now: datetime) -> str:
        """A token for `purpose` on the address `email_id` (whose hash is `address_hash`), issued `now`."""
        prefix = bytes.fromhex(address_hash[:16])
        payload = _LAYOUT.pack(_PURPOSES[purpose], email_id, int(now.timestamp()), prefix)
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
        payload, mac = raw[: _LAYOUT.size], raw[_LAYOUT.size :]
        if len(payload) != _LAYOUT.size or not hmac.compare_digest(mac, self._mac(payload)):
            return None
        kind, email_id, issued, prefix = _LAYOUT.unpack(payload)
        if kind != _PURPOSES[purpose]:
            return None
        issued_at = datetime.fromtimestamp(issued, UTC)
        # A minute of slack for clocks; a token from the future is otherwise forged or from a broken clock.
        if issued_at > now + timedelta(minutes=1) or (ttl is not None and now - issued_at > ttl):
            return None
        return TokenClaims(purpose, email_id, issued_at, prefix.hex())

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
