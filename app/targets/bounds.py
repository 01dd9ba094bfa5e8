"""Reading a hostile endpoint's body within bounds: size on the wire, once unpacked, per line, per turn.

An endpoint under test is not trusted to end its stream, to keep its lines
short or to compress honestly. Each bound here stops the read with a typed
``too_large`` fault: the connection is closed, what arrived before the bound
stands, and the turn records which limit stopped it and how many bytes had
come (see :class:`app.formats.engagement.Limits` for the defaults).

Redline asks for an uncompressed body (``Accept-Encoding: identity``). A
server that compresses anyway is unpacked here, never by httpx (whose decoder
would unpack a whole network read at once, a gigabyte from one megabyte):
gzip and deflate a slice at a time, with the unpacked size and the ratio to
the bytes on the wire both capped. Any other encoding is refused.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from app.formats.engagement import Limits
from app.targets.common import TargetFault

if TYPE_CHECKING:
    import httpx

DEFAULT_LIMITS = Limits()
_SLICE = 256 * 1024  # most bytes unpacked per decompress call
_IN_SLICE = 16 * 1024  # compressed bytes fed at a time, so the ratio is judged finely within one network read
_RATIO_GRACE = 1024 * 1024  # the ratio is judged once this much has been unpacked (small bodies vary)


def limits_for(spec: Any) -> Limits:
    """The limits in force for a target spec (its own, else the defaults)."""
    return getattr(spec, "limits", None) or DEFAULT_LIMITS


def limit_fault(limit: str, detail: str) -> TargetFault:
    """The fault for a body that passed one of the target's limits; ``limit`` names the field."""
    fault = TargetFault("too_large", detail)
    fault.limit = limit
    return fault


class BodyMeter:
    """What one attempt's body cost: bytes on the wire, their SHA-256, and which limit stopped it.

    The digest is of the bytes exactly as received (before any redaction), so a
    raw body withheld because it carried a secret can still be matched against
    the endpoint's own logs.
    """

    __slots__ = ("limits", "received", "unpacked", "_fed", "_sha", "limit")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.received = 0
        self.unpacked = 0
        self._fed = 0  # compressed bytes handed to the unpacker so far
        self._sha = hashlib.sha256()
        self.limit = ""  # the Limits field that stopped the read, or ""

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()

    def facts(self) -> dict[str, Any]:
        """The evidence a turn keeps about its body's bounds."""
        return {"limits": self.limits.model_dump(), "bytes_received": self.received,
                "stopped_by": self.limit, "raw_sha256": self.sha256}

    def stop(self, fault: TargetFault) -> TargetFault:
        self.limit = fault.limit or self.limit
        return fault

    async def chunks(self, response: httpx.Response) -> AsyncIterator[bytes]:
        """The body's bytes after content decoding, read within the limits; raises ``too_large``."""
        encoding = response.headers.get("content-encoding", "").strip().lower()
        unpack: Any | None = None
        if encoding in ("gzip", "x-gzip"):
            unpack = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif encoding == "deflate":
            unpack = zlib.decompressobj()
        elif encoding not in ("", "identity"):
            raise TargetFault("malformed", f"the response uses content-encoding '{encoding[:40]}', which Redline "
                                           "did not ask for and does not read")
        raw_deflate = encoding == "deflate"
        async for piece in response.aiter_raw():
            self.received += len(piece)
            self._sha.update(piece)
            if unpack is None:
                yield piece
                continue
            for at in range(0, len(piece), _IN_SLICE):
                part = piece[at:at + _IN_SLICE]
                self._fed += len(part)
                try:
                    data = unpack.decompress(part, _SLICE)
                except zlib.error:
                    if not raw_deflate:
                        raise TargetFault("malformed", f"the {encoding} body could not be unpacked") from None
                    unpack = zlib.decompressobj(-zlib.MAX_WBITS)  # deflate without its zlib header
                    data = unpack.decompress(part, _SLICE)
                raw_deflate = False
                while True:
                    if data:
                        self._count(len(data))
                        yield data
                    tail = unpack.unconsumed_tail
                    if not tail:
                        break
                    data = unpack.decompress(tail, _SLICE)

    def _count(self, size: int) -> None:
        self.unpacked += size
        limits = self.limits
        if self.unpacked > limits.decompressed_bytes:
            raise self.stop(limit_fault("decompressed_bytes", f"the compressed body unpacks to more than "
                                        f"{limits.decompressed_bytes} bytes (limits.decompressed_bytes); "
                                        f"stopped after {self.received} bytes received"))
        if self.unpacked > _RATIO_GRACE and self.unpacked > limits.compression_ratio * self._fed:
            raise self.stop(limit_fault("compression_ratio", f"the compressed body unpacks more than "
                                        f"{limits.compression_ratio} times its size (limits.compression_ratio); "
                                        f"stopped after {self.received} bytes received"))


class TextBudget:
    """The response text one turn may take (``limits.text_bytes``, counted in UTF-8 bytes)."""

    __slots__ = ("cap", "used")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.used = 0

    def take(self, text: str) -> tuple[str, bool]:
        """The part of ``text`` within the budget, and whether the budget ran out on it."""
        size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
        if self.used + size <= self.cap:
            self.used += size
            return text, False
        room = self.cap - self.used
        kept = text.encode("utf-8", "surrogatepass")[:room].decode("utf-8", "ignore")
        self.used = self.cap
        return kept, True

    def fault(self, meter: BodyMeter) -> TargetFault:
        return meter.stop(limit_fault("text_bytes", f"the response text reached {self.cap} bytes "
                                      f"(limits.text_bytes); stopped reading after {meter.received} bytes received"))
