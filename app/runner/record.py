"""Persisting one turn while it streams: the runner's hot path.

Deltas go into an in-memory buffer. Every ``FLUSH_INTERVAL_S`` (or every
``FLUSH_MAX_CHUNKS`` deltas, whichever comes first) one short transaction
appends a ``TurnChunk`` row holding the text that arrived since the last flush
and grows ``Turn.response_text`` by the same text, so a crash or a kill loses
at most the last fraction of a second. Nothing else happens per delta: no
query, no JSON, one event object for the UI.

Resolved secret values are scrubbed before anything is stored or shown. A
secret may straddle two deltas, so the scrubber holds back the last
``len(longest secret) - 1`` characters until the next delta proves they are
not the start of one (see :class:`SecretScrubber`).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional

from app.events import ChunkReceived
from app.store.models import Turn, TurnChunk, utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from app.events import RunnerEvent
    from app.targets.base import RequestSent

FLUSH_INTERVAL_S = 0.1
FLUSH_MAX_CHUNKS = 4096

_TURN = Turn.__table__  # type: ignore[attr-defined]
_CHUNK = TurnChunk.__table__  # type: ignore[attr-defined]


class SecretScrubber:
    """Redacts resolved secret values from text, including text that arrives in pieces."""

    def __init__(self, secrets: Iterable[str]):
        from app.secrets import MIN_SECRET_LENGTH

        self.secrets = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
        self.hold = max((len(s) for s in self.secrets), default=1) - 1
        self._held = ""

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def whole(self, text: str) -> str:
        """Redact a complete text (a request, an error detail, a final body)."""
        from app.secrets import redact

        return redact(text, self.secrets) if self.secrets else text

    def whole_bytes(self, raw: bytes) -> bytes:
        from app.secrets import redact_bytes

        return redact_bytes(raw, self.secrets) if self.secrets else raw

    def feed(self, text: str) -> str:
        """The part of the stream so far that can no longer be the start of a secret."""
        window = self.whole(self._held + text)
        if len(window) <= self.hold:
            self._held = window
            return ""
        cut = len(window) - self.hold
        self._held = window[cut:]
        return window[:cut]

    def finish(self) -> str:
        rest, self._held = self._held, ""
        return rest

    def request_dict(self, request: "RequestSent | None") -> dict[str, Any]:
        """The request as stored: the adapter already redacted it; this is belt and braces."""
        if request is None:
            return {}
        data = asdict(request)
        if not self.secrets:
            return data
        return json.loads(self.whole(json.dumps(data, ensure_ascii=False, default=str)))


def open_turn(engine: "Engine", *, run_id: int, step: int, sample: int, kind: str,
              identity: str) -> tuple[int, list[dict[str, Any]]]:
    """Create the Turn row (status ``streaming``), or reset a row left unfinished by a
    previous attempt at this run; that attempt's partial text is kept in ``retries``.

    Returns the turn id and the retries recorded so far (the final write appends to them)."""
    from sqlalchemy import insert, select, update

    with engine.begin() as conn:
        row = conn.execute(
            select(_TURN.c.id, _TURN.c.response_text, _TURN.c.error_type, _TURN.c.error_detail,
                   _TURN.c.retries, _TURN.c.status)
            .where(_TURN.c.run_id == run_id, _TURN.c.step == step, _TURN.c.sample == sample)
        ).first()
        fresh = {"status": "streaming", "started_at": utcnow(), "kind": kind, "identity": identity,
                 "response_text": "", "response_raw": None, "http_status": None, "error_type": "",
                 "error_detail": "", "ttft_ms": None, "total_ms": None, "chunk_count": 0,
                 "token_count": 0, "usage": {}, "model_id": "", "system_fingerprint": "",
                 "finished_at": None}
        if row is None:
            result = conn.execute(insert(_TURN).values(run_id=run_id, step=step, sample=sample,
                                                       request={}, retries=[], **fresh))
            return int(result.inserted_primary_key[0]), []
        earlier = list(row.retries or [])
        earlier.append({"attempt": len(earlier) + 1, "status": row.status, "error_type": row.error_type,
                        "error": row.error_detail, "partial_text": row.response_text,
                        "superseded": "resumed run"})
        conn.execute(update(_TURN).where(_TURN.c.id == row.id).values(retries=earlier, **fresh))
        conn.execute(_CHUNK.delete().where(_CHUNK.c.turn_id == row.id))
        from app.store.models import Verdict

        verdicts = Verdict.__table__  # type: ignore[attr-defined]
        conn.execute(verdicts.delete().where(verdicts.c.turn_id == row.id, verdicts.c.source == "auto"))
        return int(row.id), earlier


def update_turn(engine: "Engine", turn_id: int, **values: Any) -> None:
    """One short transaction writing the given Turn columns."""
    from sqlalchemy import update

    with engine.begin() as conn:
        conn.execute(update(_TURN).where(_TURN.c.id == turn_id).values(**values))


class TurnRecorder:
    """Buffers one turn's deltas and flushes them to the store in small batches."""

    __slots__ = ("engine", "run_id", "turn_id", "t0", "scrubber", "emit", "ttft_ms", "chunk_count",
                 "pending", "pending_count", "parts", "seq", "last_flush", "last_at_ms")

    def __init__(self, engine: "Engine", *, run_id: int, turn_id: int, t0: float,
                 scrubber: Optional[SecretScrubber], emit: Optional[Callable[["RunnerEvent"], None]]):
        self.engine = engine
        self.run_id = run_id
        self.turn_id = turn_id
        self.t0 = t0  # perf_counter() when the turn began
        self.scrubber = scrubber if scrubber else None
        self.emit = emit
        self.ttft_ms: Optional[float] = None
        self.chunk_count = 0
        self.pending: list[str] = []
        self.pending_count = 0
        self.parts: list[str] = []  # everything flushed so far, in order
        self.seq = 0
        self.last_flush = t0
        self.last_at_ms = 0.0

    def add(self, text: str, chunks: int = 1) -> None:
        """One delta from the target (``chunks`` stream chunks read at once): the only per-read work."""
        now = time.perf_counter()
        if self.ttft_ms is None:
            self.ttft_ms = round((now - self.t0) * 1000.0, 3)
        self.chunk_count += chunks
        if self.scrubber is not None:
            text = self.scrubber.feed(text)
        if text:
            self.pending.append(text)
            if self.emit is not None:
                self.emit(ChunkReceived(self.run_id, self.turn_id, text, self.ttft_ms))
        self.pending_count += 1
        self.last_at_ms = (now - self.t0) * 1000.0
        if self.pending_count >= FLUSH_MAX_CHUNKS or now - self.last_flush >= FLUSH_INTERVAL_S:
            self.flush(now)

    def flush(self, now: Optional[float] = None) -> None:
        """Append the buffered text to the store in one transaction."""
        from sqlalchemy import insert, update

        self.last_flush = time.perf_counter() if now is None else now
        self.pending_count = 0
        if not self.pending:
            return
        text = "".join(self.pending)
        self.pending.clear()
        self.parts.append(text)
        with self.engine.begin() as conn:
            conn.execute(insert(_CHUNK).values(turn_id=self.turn_id, seq=self.seq, text=text,
                                               at_ms=round(self.last_at_ms, 3)))
            conn.execute(update(_TURN).where(_TURN.c.id == self.turn_id).values(
                response_text=_TURN.c.response_text + text, chunk_count=self.chunk_count,
                ttft_ms=self.ttft_ms))
        self.seq += 1

    def final_text(self) -> str:
        """Flush what is left (including text held back by the scrubber) and return the whole text."""
        if self.scrubber is not None:
            rest = self.scrubber.finish()
            if rest:
                self.pending.append(rest)
                if self.emit is not None:
                    self.emit(ChunkReceived(self.run_id, self.turn_id, rest, self.ttft_ms))
        self.flush()
        return "".join(self.parts)
