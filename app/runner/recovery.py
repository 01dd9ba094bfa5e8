"""Runs that a crash or a kill left behind, and who is still running what.

While a process runs a Run it holds an exclusive lock on
``<data dir>/runs/<id>.lock``. The OS drops the lock when the process dies
however it dies, so at start-up any Run still marked ``running`` whose lock is
free was interrupted; one whose lock is held belongs to a live process (the
cockpit and a CLI run can share a store) and is left alone. Where file locks
are unavailable (no ``fcntl``), every ``running`` run found at start-up is
taken as interrupted. On a shared server the process may be on another
machine, so there the lock is the server's own (:class:`app.store.portable.ServerRunLock`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from app import locks
from app.store import audit
from app.store.coverage import run_evidence
from app.store.models import Run, Turn, utcnow
from app.store.portable import ServerRunLock, run_is_live_on_server

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

# A run in one of these states can be finished later with ``redline run --resume`` (or from the cockpit).
RESUMABLE = ("interrupted", "cancelled")
INTERRUPTED = "interrupted: the process running it stopped before the turn ended"
UNRECOVERABLE = "unrecoverable: the process running it stopped, and its streamed text could not be joined"
# One turn's text joined back by recovery; beyond it the run is unrecoverable, not a crash at start-up.
MAX_RECOVERED_CHARS = 64 * 1024 * 1024

def _lock_path(run_id: int) -> Path:
    from app.paths import home_dir
    from app.private import private_dir

    return private_dir(home_dir() / "runs", "the run locks folder") / f"{run_id}.lock"


def _server() -> Engine | None:
    """The store's engine when it is a shared server (whose runs may be on other machines), else None."""
    from app.store import get_engine

    engine = get_engine()
    return None if engine.dialect.name == "sqlite" else engine


class RunLock:
    """Held for as long as this process is running the Run."""

    def __init__(self, run_id: int):
        self.run_id = run_id
        self._fd: int | None = None
        self._server: ServerRunLock | None = None

    def acquire(self) -> RunLock:
        from app.errors import RedlineError

        busy = RedlineError(f"run {self.run_id} is being run by another Redline process")
        engine = _server()
        if engine is not None:
            held = ServerRunLock(engine, self.run_id)
            if not held.acquire():
                raise busy
            self._server = held
            return self
        if not locks.AVAILABLE:
            return self
        fd = locks.acquire(_lock_path(self.run_id))
        if fd is None:
            raise busy
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._server is not None:
            held, self._server = self._server, None
            held.release()
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        locks.release(_lock_path(self.run_id), fd)


def is_live(run_id: int) -> bool:
    """Whether some process (this one included; on a server, on any machine) holds the run's lock right now."""
    engine = _server()
    if engine is not None:
        return run_is_live_on_server(engine, run_id)
    return locks.is_held(_lock_path(run_id))


def recover_interrupted(db: Session, *, max_chars: int = MAX_RECOVERED_CHARS,
                        on_unrecoverable: Callable[[int, str], None] | None = None) -> list[int]:
    """Mark every abandoned ``running`` Run as ``interrupted``; returns their ids.

    The text each turn had streamed is kept: a turn caught mid-stream gets its
    stored chunks' text on its row (where a finished turn has it) and becomes
    an ``error`` of type ``stream_error`` saying it was interrupted, so a
    resume knows to redo it. Each recovery is an audit event.

    A run that cannot be recovered (its streamed text is longer than
    ``max_chars`` for one turn, or its rows cannot be read or written) must
    not stop the store from opening: its work is rolled back, it is marked
    ``unrecoverable`` with the reason (:func:`mark_unrecoverable`), and its
    chunks stay in the store as they were. Its id is not returned, since it
    cannot be resumed; ``on_unrecoverable`` hears its id and the reason.
    """
    from sqlmodel import select

    recovered: list[int] = []
    runs = db.exec(select(Run.id).where(Run.status == "running").order_by(Run.id)).all()  # type: ignore[arg-type]
    for run_id in runs:
        if run_id is None or is_live(run_id):
            continue
        try:
            with db.begin_nested():
                if not _recover_one(db, run_id, max_chars):
                    continue  # it finished between the look and the lock: nothing was abandoned
            recovered.append(run_id)
        except Exception as exc:  # noqa: BLE001 - whatever broke this run, the store must still open
            mark_unrecoverable(db, run_id, _reason(exc))
            if on_unrecoverable is not None:
                on_unrecoverable(run_id, _reason(exc))
        if _server() is None:
            _lock_path(run_id).unlink(missing_ok=True)
    db.flush()
    return recovered


def _recover_one(db: Session, run_id: int, max_chars: int) -> bool:
    """Recover one run; False if it is no longer ``running`` when read again under its lock (its process
    finished it, and let go of its run lock, between the list of running runs and the liveness check)."""
    from sqlmodel import select

    from app.runner.judge import settle
    from app.store.portable import read_for_change
    from app.store.streamed import streamed_lengths, streamed_texts

    run = read_for_change(db, Run, run_id)
    if run is None or run.status != "running":
        return False
    cut = db.exec(select(Turn).where(Turn.run_id == run_id,
                                     Turn.status.in_(("pending", "streaming")))).all()  # type: ignore[attr-defined]
    ids = [t.id for t in cut if t.id is not None]
    for turn_id, length in streamed_lengths(db, ids).items():
        if length > max_chars:
            raise Unrecoverable(f"turn {turn_id} streamed {length:,} characters, more than recovery joins "
                                f"into one turn ({max_chars:,}); its chunks are kept as stored")
    texts = streamed_texts(db, ids)
    for turn in cut:
        turn.response_text = texts.get(turn.id, turn.response_text)  # type: ignore[arg-type]
        turn.status, turn.error_type, turn.error_detail = "error", "stream_error", INTERRUPTED
        turn.finished_at = utcnow()
        db.add(turn)
    run.status = "interrupted"
    run.verdict = settle(run.verdict, run.status)  # e.g. a resumed run keeps its earlier verdict until judged
    db.add(run)
    db.flush()  # the digests below read the rows as recovered
    audit.record(db, engagement_id=run.engagement_id, action="run.interrupted", entity=f"run:{run.id}",
                 payload={"turns_cut": [t.id for t in cut],
                          "chars_kept": sum(len(t.response_text) for t in cut),
                          "evidence": run_evidence(db, run_id)})
    db.flush()
    return True


class Unrecoverable(Exception):
    """A run whose interrupted turns cannot be joined back onto their rows."""


def _reason(exc: Exception) -> str:
    if isinstance(exc, Unrecoverable):
        return str(exc)
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else 'no detail'}"


def mark_unrecoverable(db: Session, run_id: int, reason: str) -> None:
    """Set the run ``unrecoverable`` and audit why, touching nothing else of it.

    Plain ``UPDATE`` statements, not ORM objects: the run's own rows may be
    what could not be read. If even that fails, the run is left as it was and
    the store still opens; the next start tries again.
    """
    from sqlalchemy import text

    from app.runner.judge import settle

    try:
        with db.begin_nested():
            engagement_id, verdict = db.execute(text("SELECT engagement_id, verdict FROM run WHERE id = :id"),
                                                {"id": run_id}).one()
            db.execute(text("UPDATE run SET status = 'unrecoverable', verdict = :verdict, finished_at = :at "
                            "WHERE id = :id"),
                       {"id": run_id, "at": utcnow().isoformat(timespec="microseconds"),
                        "verdict": settle(verdict, "unrecoverable")})
            db.execute(text("UPDATE turn SET status = 'error', error_type = 'stream_error', error_detail = :detail "
                            "WHERE run_id = :id AND status IN ('pending', 'streaming')"),
                       {"id": run_id, "detail": f"{UNRECOVERABLE}: {reason}"})
            audit.record(db, engagement_id=engagement_id, action="run.unrecoverable", entity=f"run:{run_id}",
                         payload={"reason": reason})
            db.flush()
    except Exception:  # noqa: BLE001
        return
