"""A turn's raw response body, wherever it was stored.

A streamed body is stored a batch at a time with the turn's ``TurnChunk``
rows, so a crash keeps what arrived; a body that came whole (a model listing,
a raw HTTP step, a database written before bodies were streamed to the store)
sits in ``Turn.response_raw``. Readers ask here rather than knowing both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Optional

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlmodel import Session


def streamed_bodies(db: "Session | Connection", turn_ids: Iterable[int]) -> dict[int, bytes]:
    """The bytes stored with each turn's chunks, joined in order; turns with none are left out."""
    from sqlalchemy import select

    from app.store.models import TurnChunk

    chunk = TurnChunk.__table__  # type: ignore[attr-defined]
    ids = list(turn_ids)
    parts: dict[int, list[bytes]] = {}
    for start in range(0, len(ids), 500):  # SQLite's bound-parameter limit
        query = (select(chunk.c.turn_id, chunk.c.raw)
                 .where(chunk.c.turn_id.in_(ids[start:start + 500]), chunk.c.raw.is_not(None))
                 .order_by(chunk.c.turn_id, chunk.c.seq))
        for turn_id, raw in db.execute(query):
            parts.setdefault(turn_id, []).append(bytes(raw))
    return {turn_id: b"".join(pieces) for turn_id, pieces in parts.items()}


def raw_body(whole: Optional[bytes], streamed: dict[int, bytes], turn_id: Any) -> Optional[bytes]:
    """One turn's body: the whole body if one was stored, else its streamed bytes, else None."""
    if whole is not None:
        return bytes(whole)
    return streamed.get(turn_id)
