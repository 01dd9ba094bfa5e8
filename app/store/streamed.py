"""What a turn streamed, as the store keeps it: its text and its raw body.

While a turn streams, the runner appends ``TurnChunk`` rows, each holding the
text and the raw body bytes that arrived since the previous one; nothing is
rewritten, so a long answer costs the store the same per byte at its end as at
its start. The turn's final write puts the whole text on ``Turn.response_text``.
A turn cut off by a crash has only its chunks until start-up recovery joins
them onto the row (:func:`app.runner.recovery.recover_interrupted`).

A raw body batch is stored deflated when that makes it smaller (``raw_codec``
``"zlib"``). Model streams repeat the same JSON frame around every few
characters of text, so bodies shrink a great deal (the demo system's 11 KB
answers about 13 times, the benchmark's 16.8 MB body over 100 times): a Type II
monitoring store that runs the library daily keeps its bodies for the whole
period without growing by gigabytes. Compression runs on the store writer's thread,
never on the event loop. Every reader of a body asks here, so nothing else
knows the codec.

A body that came whole (a model listing, a raw HTTP step, a database written
before bodies were streamed to the store) sits in ``Turn.response_raw``.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlmodel import Session

RAW_IDENTITY = ""
RAW_ZLIB = "zlib"
# Below this a batch is stored as it came: deflate's framing would eat most of the gain.
_PACK_MIN_BYTES = 256


def pack_raw(raw: bytes) -> tuple[bytes, str]:
    """A raw batch as stored, and its codec. Level 1: this runs beside a live stream."""
    if len(raw) >= _PACK_MIN_BYTES:
        packed = zlib.compress(raw, 1)
        if len(packed) < len(raw):
            return packed, RAW_ZLIB
    return raw, RAW_IDENTITY


def unpack_raw(stored: bytes, codec: str) -> bytes:
    """A stored raw batch as it came off the wire."""
    if codec == RAW_IDENTITY:
        return bytes(stored)
    if codec == RAW_ZLIB:
        return zlib.decompress(stored)
    raise ValueError(f"a raw body batch uses codec {codec!r}, which this Redline cannot read")


def _chunks(db: Session | Connection, turn_ids: Iterable[int], *columns: str,
            raw_only: bool = False) -> Iterable[tuple[Any, ...]]:
    """Each turn's chunk rows, in turn and ``seq`` order, a bounded ``IN`` list at a time."""
    from sqlalchemy import select

    from app.store.models import TurnChunk

    chunk = TurnChunk.__table__  # type: ignore[attr-defined]
    ids = list(turn_ids)
    for start in range(0, len(ids), 500):  # SQLite's bound-parameter limit
        query = (select(chunk.c.turn_id, *(chunk.c[name] for name in columns))
                 .where(chunk.c.turn_id.in_(ids[start:start + 500])).order_by(chunk.c.turn_id, chunk.c.seq))
        if raw_only:
            query = query.where(chunk.c.raw.is_not(None))
        yield from db.execute(query)


def streamed_texts(db: Session | Connection, turn_ids: Iterable[int]) -> dict[int, str]:
    """The text stored with each turn's chunks, joined in order; turns with no chunks are left out."""
    parts: dict[int, list[str]] = {}
    for turn_id, text in _chunks(db, turn_ids, "text"):
        parts.setdefault(turn_id, []).append(text)
    return {turn_id: "".join(pieces) for turn_id, pieces in parts.items()}


def streamed_lengths(db: Session | Connection, turn_ids: Iterable[int]) -> dict[int, int]:
    """How many characters each turn's chunks hold, counted by SQLite without reading the text."""
    from sqlalchemy import func, select

    from app.store.models import TurnChunk

    chunk = TurnChunk.__table__  # type: ignore[attr-defined]
    ids = list(turn_ids)
    lengths: dict[int, int] = {}
    for start in range(0, len(ids), 500):
        query = (select(chunk.c.turn_id, func.sum(func.length(chunk.c.text)))
                 .where(chunk.c.turn_id.in_(ids[start:start + 500])).group_by(chunk.c.turn_id))
        lengths.update({turn_id: int(total or 0) for turn_id, total in db.execute(query)})
    return lengths


def streamed_bodies(db: Session | Connection, turn_ids: Iterable[int]) -> dict[int, bytes]:
    """The raw bytes stored with each turn's chunks, unpacked and joined in order; turns with none are left out."""
    parts: dict[int, list[bytes]] = {}
    for turn_id, raw, codec in _chunks(db, turn_ids, "raw", "raw_codec", raw_only=True):
        parts.setdefault(turn_id, []).append(unpack_raw(raw, codec))
    return {turn_id: b"".join(pieces) for turn_id, pieces in parts.items()}


def raw_body(whole: bytes | None, streamed: dict[int, bytes], turn_id: Any) -> bytes | None:
    """One turn's body: the whole body if one was stored, else its streamed bytes, else None."""
    if whole is not None:
        return bytes(whole)
    return streamed.get(turn_id)
