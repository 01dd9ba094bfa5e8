"""Persisting one turn while it streams: the runner's hot path.

Deltas and body bytes go into an in-memory buffer. Every ``FLUSH_INTERVAL_S``
(or every ``FLUSH_MAX_CHUNKS`` deltas or ``FLUSH_MAX_RAW_BYTES`` of body,
whichever comes first) the buffer becomes one batch for the store writer
(:mod:`app.runner.writer`): a ``TurnChunk`` row appended with the text and the
raw bytes that arrived since the last batch. A crash or a kill therefore loses
at most the last fraction of a second of text and of raw body. Nothing is
rewritten while the turn streams (the turn row only gets its chunk count), so
storing the thousandth batch costs what the first did; the whole text goes on
the turn's row with its final write. Nothing else happens per delta: no query,
no JSON, one event for the UI.

Resolved secret values are scrubbed before anything is stored or shown. A
secret may straddle two deltas, so each turn's scrubber holds back the end of
the text while it could be the start of one, and only that (see
:class:`app.secrets.StreamRedactor`); the adapter does the same for the body
bytes it passes on. A kill therefore loses the text of the last
``FLUSH_INTERVAL_S`` of the stream, plus, when the text so far ends with what
could begin a known secret (``sk-``, ``sk-liv``), that start (fewer characters
than the longest secret) with the rest of the reads that carried it, and only
then. A turn that ends before such a start is
shown not to be a secret (cancelled, a fault, a limit) does not keep it either:
its text stops before it, the turn's ``bounds`` say how many characters were
held back, and its raw body, whose frames spell them, is withheld.

Redaction of the raw body by bytes is not enough: a model that streams a key
a few characters per JSON frame never puts it whole in the bytes, yet the
frames rebuild it. So the decoded text decides. While the text held back ends
with the start of a secret, the raw bytes from the read that began it on wait
in memory instead of going to the store, and so does the text those reads
carried: a kill mid-turn leaves at most the frame that began it, and the text
stored is still what the raw body stored decodes to. Once a
secret is found in a turn's text, no more of its raw body is stored, and its
final write withholds the raw batches already stored (:func:`withhold_raw`):
the turn keeps the reason, and ``bounds`` keeps the SHA-256 of the body as
received, so the body can still be matched against the endpoint's own records.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict
from functools import partial
from typing import TYPE_CHECKING, Any

from app.events import ChunkReceived
from app.store.models import Turn, TurnChunk, utcnow

if TYPE_CHECKING:
    from concurrent.futures import Future

    from sqlalchemy.engine import Connection

    from app.events import RunnerEvent
    from app.runner.writer import StoreWriter
    from app.secrets import StreamRedactor
    from app.targets.base import RequestSent

FLUSH_INTERVAL_S = 0.1
FLUSH_MAX_CHUNKS = 4096
# A fast stream's raw body goes to the writer in pieces of about this size, so the
# writer stores it while the rest streams instead of all of it after the last byte.
# Each batch costs the writer a fixed round of commits and thread hand-overs, so on
# a fast stream fewer, larger batches keep it ahead of the network; a slow stream
# is still cut every FLUSH_INTERVAL_S.
FLUSH_MAX_RAW_BYTES = 4 * 1024 * 1024

_TURN = Turn.__table__  # type: ignore[attr-defined]
_CHUNK = TurnChunk.__table__  # type: ignore[attr-defined]


class SecretScrubber:
    """Redacts resolved secret values from text, including text that arrives in pieces."""

    def __init__(self, secrets: Iterable[str]):
        from app.secrets import StreamRedactor

        self._text = StreamRedactor(secrets, "")
        self.secrets = self._text.values

    def stream(self) -> StreamRedactor[str]:
        """A redactor for one turn's text: turns stream side by side (a burst), so each holds back its own."""
        from app.secrets import StreamRedactor

        return StreamRedactor(self.secrets, "")

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def whole(self, text: str) -> str:
        """Redact a complete text (a request, an error detail, a final body)."""
        return self._text.whole(text)

    def whole_bytes(self, raw: bytes) -> bytes:
        from app.secrets import redact_bytes

        return redact_bytes(raw, self.secrets) if self.secrets else raw

    def feed(self, text: str) -> str:
        """The part of the stream so far that can no longer be the start of a secret."""
        return self._text.feed(text)

    def finish(self) -> str:
        return self._text.finish()

    def request_dict(self, request: RequestSent | None) -> dict[str, Any]:
        """The request as stored: the adapter already redacted it; this is belt and braces."""
        if request is None:
            return {}
        data = asdict(request)
        if not self.secrets:
            return data
        return json.loads(self.whole(json.dumps(data, ensure_ascii=False, default=str)))


def open_turn(conn: Connection, *, run_id: int, step: int, sample: int, kind: str,
              identity: str) -> tuple[int, list[dict[str, Any]]]:
    """Create the Turn row (status ``streaming``), or reset a row left unfinished by a
    previous attempt at this run; that attempt's partial text is kept in ``retries``.

    Returns the turn id and the retries recorded so far (the final write appends to them)."""
    from sqlalchemy import insert, select, update

    row = conn.execute(
        select(_TURN.c.id, _TURN.c.response_text, _TURN.c.error_type, _TURN.c.error_detail,
               _TURN.c.retries, _TURN.c.status)
        .where(_TURN.c.run_id == run_id, _TURN.c.step == step, _TURN.c.sample == sample)
    ).first()
    fresh = {"status": "streaming", "started_at": utcnow(), "kind": kind, "identity": identity,
             "response_text": "", "response_raw": None, "http_status": None, "error_type": "",
             "error_detail": "", "ttft_ms": None, "total_ms": None, "chunk_count": 0,
             "token_count": 0, "usage": {}, "model_id": "", "system_fingerprint": "",
             "finished_at": None, "bounds": {}, "raw_withheld": ""}
    if row is None:
        result = conn.execute(insert(_TURN).values(run_id=run_id, step=step, sample=sample,
                                                   request={}, retries=[], **fresh))
        key = result.inserted_primary_key
        assert key is not None  # an INSERT of one row always has its key
        return int(key[0]), []
    earlier = list(row.retries or [])
    # Only a recovered or a cancelled run is resumed, and both put the text so far on the row.
    earlier.append({"attempt": len(earlier) + 1, "status": row.status, "error_type": row.error_type,
                    "error": row.error_detail, "partial_text": row.response_text,
                    "superseded": "resumed run"})
    conn.execute(update(_TURN).where(_TURN.c.id == row.id).values(retries=earlier, **fresh))
    conn.execute(_CHUNK.delete().where(_CHUNK.c.turn_id == row.id))
    from app.store.models import Verdict

    verdicts = Verdict.__table__  # type: ignore[attr-defined]
    conn.execute(verdicts.delete().where(verdicts.c.turn_id == row.id, verdicts.c.source == "auto"))
    return int(row.id), earlier


def open_turns(conn: Connection, *, run_id: int, step: int, samples: list[int], kind: str,
               identity: str) -> dict[int, tuple[int, list[dict[str, Any]]]]:
    """:func:`open_turn` for several requests of one step in one transaction (a burst's first wave)."""
    return {sample: open_turn(conn, run_id=run_id, step=step, sample=sample, kind=kind, identity=identity)
            for sample in samples}


def discard_turns(conn: Connection, turn_ids: list[int]) -> None:
    """Turns opened for requests that were never sent: a request not sent is no turn, so a fresh row
    goes; a row that holds an earlier attempt (a resumed run) keeps it and is marked cancelled."""
    from sqlalchemy import select

    rows = conn.execute(select(_TURN.c.id, _TURN.c.retries)
                        .where(_TURN.c.id.in_(turn_ids), _TURN.c.status == "streaming")).all()
    fresh = [row.id for row in rows if not row.retries]
    if fresh:
        conn.execute(_TURN.delete().where(_TURN.c.id.in_(fresh)))
    for row in rows:
        if row.retries:
            update_turn(conn, row.id, status="cancelled", error_detail="never sent: the run was stopped",
                        finished_at=utcnow())


def update_turn(conn: Connection, turn_id: int, **values: Any) -> None:
    """Write the given Turn columns (a job for :class:`~app.runner.writer.StoreWriter`)."""
    from sqlalchemy import update

    conn.execute(update(_TURN).where(_TURN.c.id == turn_id).values(**values))


def append_batch(conn: Connection, turn_id: int, seq: int, text: str, raw: bytes | None, at_ms: float,
                 chunk_count: int, ttft_ms: float | None) -> None:
    """One batch: a ``TurnChunk`` row appended (its raw bytes packed here, on the writer's
    thread), and the turn's chunk count and time to first token brought up to date."""
    from sqlalchemy import insert, update

    from app.store.streamed import RAW_IDENTITY, pack_raw

    stored, codec = pack_raw(raw) if raw else (raw, RAW_IDENTITY)
    conn.execute(insert(_CHUNK).values(turn_id=turn_id, seq=seq, text=text, raw=stored, raw_codec=codec,
                                       at_ms=at_ms))
    if text:
        conn.execute(update(_TURN).where(_TURN.c.id == turn_id).values(chunk_count=chunk_count, ttft_ms=ttft_ms))


def token_count(usage: dict[str, Any], chunks: int) -> int:
    """Completion tokens as the API reported them (OpenAI, Anthropic, Ollama names), else the chunk count."""
    for key in ("completion_tokens", "output_tokens", "eval_count"):
        value = usage.get(key)
        if isinstance(value, int):
            return value
    return chunks


RAW_WITHHELD = ("a secret value was found in the decoded response text; the raw body is withheld because its "
                "frames would let the secret be rebuilt (SHA-256 of the body as received: {sha256})")


RAW_SECRET_START = ("the stream stopped while its text could be spelling a secret value; the raw body is withheld "
                    "because its frames hold the start of it (SHA-256 of the body as received: {sha256})")
RAW_ESCAPED = ("a secret value is spelled with escapes in the response body; the raw body is withheld because no "
               "byte replacement removes it (SHA-256 of the body as received: {sha256})")


def withhold_raw(conn: Connection, turn_id: int) -> None:
    """Drop the raw bytes stored with a turn's chunks, overwriting them in an SQLite file (``secure_delete``)."""
    from sqlalchemy import update

    from app.store.portable import erase_on_delete

    erase_on_delete(conn)
    conn.execute(update(_CHUNK).where(_CHUNK.c.turn_id == turn_id, _CHUNK.c.raw.is_not(None))
                 .values(raw=None, raw_codec=""))


def checkpoint(conn: Connection) -> None:
    """Fold the write-ahead log into the store and empty it, so withheld bytes leave its older frames too.

    Best effort: while another process reads, SQLite leaves the log as it is."""
    from app.store.portable import fold_log

    fold_log(conn)


class TurnRecorder:
    """Buffers one turn's deltas and body bytes and hands them to the writer in small batches."""

    __slots__ = ("writer", "run_id", "turn_id", "t0", "scrubber", "emit", "ttft_ms", "chunk_count",
                 "pending", "pending_raw", "pending_raw_size", "pending_count", "settled", "parts", "seq", "last_flush",
                 "last_at_ms", "batches", "text", "secret_elsewhere", "held_back")

    def __init__(self, writer: StoreWriter, *, run_id: int, turn_id: int, t0: float,
                 scrubber: SecretScrubber | None, emit: Callable[[RunnerEvent], None] | None):
        self.writer = writer
        self.run_id = run_id
        self.turn_id = turn_id
        self.t0 = t0  # perf_counter() when the turn began
        self.scrubber = scrubber if scrubber else None
        self.text: StreamRedactor[str] | None = scrubber.stream() if scrubber else None
        self.secret_elsewhere = False  # a secret was found in another decoded part, e.g. an error message
        self.held_back = 0  # characters not kept at the end of a cut turn: they could begin a secret
        self.emit = emit
        self.ttft_ms: float | None = None
        self.chunk_count = 0
        self.pending: list[str] = []
        self.pending_raw: list[bytes] = []
        self.pending_raw_size = 0
        self.pending_count = 0
        # How many of the pending texts and raw pieces came before the text began to spell what may be a
        # secret: while it may, only those are stored, so the text and the raw body stored stay alike.
        self.settled = (0, 0)
        self.parts: list[str] = []  # everything flushed so far, in order
        self.seq = 0
        self.last_flush = t0
        self.last_at_ms = 0.0
        self.batches: list[Future[None]] = []  # queued writes not yet known to have succeeded

    def add(self, text: str, chunks: int = 1) -> None:
        """One delta from the target (``chunks`` stream chunks read at once): the only per-read work."""
        now = time.perf_counter()
        if self.ttft_ms is None:
            self.ttft_ms = round((now - self.t0) * 1000.0, 3)
        self.chunk_count += chunks
        if self.text is not None:
            text = self.text.feed(text)
        if text:
            self.pending.append(text)
            if self.emit is not None:
                self.emit(ChunkReceived(self.run_id, self.turn_id, text, self.ttft_ms))
        if self.text is not None and not self.text.arriving():
            self.settled = (len(self.pending), len(self.pending_raw))
        self.pending_count += 1
        self.last_at_ms = (now - self.t0) * 1000.0
        if self.pending_count >= FLUSH_MAX_CHUNKS or now - self.last_flush >= FLUSH_INTERVAL_S:
            self.flush(now)

    def add_raw(self, data: bytes) -> None:
        """Body bytes as received (the adapter already redacted them); stored with a later batch,
        unless a secret has shown in the text: then the raw body is withheld (see the module's notes).

        A batch that is due goes before these bytes join the buffer: the text they carry comes after
        them (as the read's delta), so they are stored only once the redactor has seen that text."""
        if self.text is not None and self.text.found:
            self.pending_raw.clear()
            self.pending_raw_size = 0
            return
        now = time.perf_counter()
        if self.pending_raw_size >= FLUSH_MAX_RAW_BYTES or now - self.last_flush >= FLUSH_INTERVAL_S:
            self.flush(now)
        if self.text is not None and not self.text.arriving():
            self.settled = (self.settled[0], len(self.pending_raw))  # the text of the bytes before these is read
        self.pending_raw.append(data)
        self.pending_raw_size += len(data)

    def flush(self, now: float | None = None) -> None:
        """Queue the buffered text and bytes as one batch for the writer."""
        batch = self._take_batch(now)
        if batch is not None:
            self.batches = [f for f in self.batches if not f.done() or f.exception() is not None]
            self.batches.append(self.writer.submit(batch))

    def _take_batch(self, now: float | None = None) -> Callable[[Connection], None] | None:
        """The buffered text and bytes as a write job (None if nothing is buffered); the buffer empties."""
        self.last_flush = time.perf_counter() if now is None else now
        self.pending_count = 0
        # While the text may be spelling a secret, what arrived since it began to waits here, text and
        # raw bytes alike: a kill before the turn ends must not leave the frames that rebuild it, and the
        # text stored must still be what the raw body stored decodes to (see the module's notes).
        hold = self.text is not None and not self.withheld and self.text.arriving()
        texts, raws = self.settled if hold else (len(self.pending), len(self.pending_raw))
        if not texts and not (raws and not self.withheld):
            if not hold:
                self.pending_raw.clear()
                self.pending_raw_size = 0
            return None
        text = "".join(self.pending[:texts])
        raw = b"".join(self.pending_raw[:raws]) if raws and not self.withheld else None
        del self.pending[:texts]
        del self.pending_raw[:raws]
        self.pending_raw_size = sum(len(piece) for piece in self.pending_raw)
        self.settled = (0, 0)
        if text:
            self.parts.append(text)
        job = partial(append_batch, turn_id=self.turn_id, seq=self.seq, text=text, raw=raw,
                      at_ms=round(self.last_at_ms, 3), chunk_count=self.chunk_count, ttft_ms=self.ttft_ms)
        self.seq += 1
        return job

    def final(self, complete: bool = True) -> tuple[str, Callable[[Connection], None] | None]:
        """The whole text, and the last batch (text held back by the scrubber included) for the final write.

        ``complete``: the endpoint ended the answer. A turn cut short (cancelled, a fault, a limit) may
        have stopped in the middle of a secret, so the text held back as its possible start is not kept
        (:attr:`held_back` counts it), as a kill would not have kept it. The caller writes that batch in
        the same transaction as the turn's final row, so no reader ever sees the whole text on a turn
        still marked streaming.
        """
        if self.text is not None:
            rest = self.text.finish()
            if rest and not complete:
                self.held_back, rest = len(rest), ""
            if rest:
                self.pending.append(rest)
                if self.emit is not None:
                    self.emit(ChunkReceived(self.run_id, self.turn_id, rest, self.ttft_ms))
        batch = self._take_batch()
        return "".join(self.parts), batch

    @property
    def withheld(self) -> bool:
        """True when the turn's raw body must not be kept: a secret was found in its decoded text."""
        return self.secret_elsewhere or self.held_back > 0 or (self.text is not None and self.text.found > 0)

    def scrub_detail(self, detail: str, found: bool = False) -> str:
        """The turn's error detail, redacted. A secret in it (``found``: the adapter already redacted
        one) was decoded from the body, whose bytes may spell it with escapes no byte search sees,
        so the raw body is withheld as for a secret in the text."""
        clean = self.scrubber.whole(detail) if self.scrubber is not None else detail
        if found or clean != detail:
            self.secret_elsewhere = True
        return clean

    def evidence(self, bounds: dict[str, Any] | None) -> dict[str, Any]:
        """The turn's bounds and, when withheld, why its raw body is not kept (columns of its final row)."""
        facts = dict(bounds or {})
        sha256 = facts.get("raw_sha256") or "not known"
        reason = ""
        if self.withheld:
            found = self.secret_elsewhere or (self.text is not None and self.text.found > 0)
            reason = (RAW_WITHHELD if found else RAW_SECRET_START).format(sha256=sha256)
        if self.held_back:
            facts["secret_start_held_back"] = self.held_back  # characters of text not kept (see final)
        return {"bounds": facts, "raw_withheld": reason}

    def raise_failed(self) -> None:
        """Raise what a batch raised, once the writer has run them all (the turn's final write comes after)."""
        for batch in self.batches:
            error = batch.exception() if batch.done() else None
            if error is not None:
                raise error
