"""Reading a response body within a byte cap, inflating gzip and deflate as it streams in."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import httpx

_INFLATE_STEP = 64 * 1024


class TooLargeError(Exception):
    """Internal: the body went past the cap."""


class DecodeError(Exception):
    """Internal: the body is not in the Content-Encoding the server declared."""


class _Inflater:
    """Undoes one gzip or deflate Content-Encoding, never producing more than one step at a time."""

    def __init__(self, coding: str) -> None:
        self._coding = coding
        self._gzip = coding in ("gzip", "x-gzip")
        # RFC 9110's deflate is zlib-wrapped; some servers send it raw, which the first bytes tell apart.
        self._raw_deflate_tried = self._gzip
        self._zlib = self._new(raw=False)

    def _new(self, *, raw: bool) -> zlib._Decompress:
        if self._gzip:
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        return zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decoded bytes of the next piece of the body, in pieces of at most one step."""
        while True:
            try:
                out = self._zlib.decompress(data, _INFLATE_STEP)
            except zlib.error as exc:
                if not self._raw_deflate_tried:
                    self._raw_deflate_tried = True
                    self._zlib = self._new(raw=True)
                    continue
                raise DecodeError(f"cannot decode the {self._coding} body: {exc}") from None
            # Once zlib has taken bytes without complaint, the deflate flavour is settled.
            self._raw_deflate_tried = True
            if out:
                yield out
            data = self._zlib.unconsumed_tail
            if self._zlib.eof:
                # Gzip may hold several members (and zero padding); anything else after the end is ignored.
                rest = self._zlib.unused_data.lstrip(b"\0")
                if not (self._gzip and rest.startswith(b"\x1f\x8b")):
                    return
                self._zlib = self._new(raw=False)
                data = rest
                continue
            # A full step may leave more output inside zlib even when all input was taken.
            if not data and len(out) < _INFLATE_STEP:
                return

    def finish(self) -> None:
        """DecodeError when the body ended inside the compressed stream (a cut download)."""
        if not self._zlib.eof:
            raise DecodeError(f"the {self._coding} body ends before its compressed stream does")


def _inflaters(content_encoding: str | None) -> list[_Inflater]:
    """One inflater per coding, in the order they are undone; DecodeError for codings we never ask for."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
    codings = [c for c in codings if c and c != "identity"]
    unknown = [c for c in codings if c not in ("gzip", "x-gzip", "deflate")]
    if unknown:
        raise DecodeError(f"unsupported Content-Encoding {content_encoding!r}")
    return [_Inflater(coding) for coding in reversed(codings)]


def _through(pieces: Iterator[bytes], inflater: _Inflater) -> Iterator[bytes]:
    """The pieces, each decoded by one inflater."""
    for piece in pieces:
        yield from inflater.feed(piece)


def _decoded(data: bytes, inflaters: list[_Inflater]) -> Iterator[bytes]:
    """The fully decoded pieces of one network read, lazily, so that no stage runs ahead of the cap."""
    pieces: Iterator[bytes] = iter((data,))
    for inflater in inflaters:
        pieces = _through(pieces, inflater)
    return pieces


async def read_capped(response: httpx.Response, limit: int) -> bytes:
    """Read and decode the body, raising TooLargeError as soon as the decoded body exceeds `limit` bytes."""
    length = response.headers.get("Content-Length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise TooLargeError(f"Content-Length {int(length)}")
    inflaters = _inflaters(response.headers.get("Content-Encoding"))
    verb = "decoding" if inflaters else "reading"
    chunks: list[bytes] = []
    total = 0
    # Raw bytes, decoded here: the cap is checked after every bounded step of inflation.
    async for raw in response.aiter_raw():
        for piece in _decoded(raw, inflaters):
            total += len(piece)
            if total > limit:
                raise TooLargeError(f"stopped {verb} at {total} bytes")
            chunks.append(piece)
    for inflater in inflaters:
        inflater.finish()
    return b"".join(chunks)
