"""Runs that a crash or a kill left behind, and who is still running what.

While a process runs a Run it holds an exclusive lock on
``<data dir>/runs/<id>.lock``. The OS drops the lock when the process dies
however it dies, so at start-up any Run still marked ``running`` whose lock is
free was interrupted; one whose lock is held belongs to a live process (the
cockpit and a CLI run can share a store) and is left alone. Where file locks
are unavailable (no ``fcntl``), every ``running`` run found at start-up is
taken as interrupted.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from app.store import audit
from app.store.coverage import run_evidence
from app.store.models import Run, Turn, utcnow

if TYPE_CHECKING:
    from sqlmodel import Session

# A run in one of these states can be finished later with ``redline run --resume`` (or from the cockpit).
RESUMABLE = ("interrupted", "cancelled")
INTERRUPTED = "interrupted: the process running it stopped before the turn ended"

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def _lock_path(run_id: int) -> Path:
    from app.paths import home_dir

    folder = home_dir() / "runs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{run_id}.lock"


class RunLock:
    """Held for as long as this process is running the Run."""

    def __init__(self, run_id: int):
        self.run_id = run_id
        self._fd: Optional[int] = None

    def acquire(self) -> "RunLock":
        if fcntl is None:
            return self
        fd = os.open(_lock_path(self.run_id), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            from app.errors import RedlineError

            raise RedlineError(f"run {self.run_id} is being run by another Redline process") from None
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None or fcntl is None:
            return
        try:
            _lock_path(self.run_id).unlink(missing_ok=True)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def is_live(run_id: int) -> bool:
    """Whether some process (this one included) holds the run's lock right now."""
    if fcntl is None:
        return False
    path = _lock_path(run_id)
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def recover_interrupted(db: "Session") -> list[int]:
    """Mark every abandoned ``running`` Run as ``interrupted``; returns their ids.

    The text each turn had streamed is kept: a turn caught mid-stream gets its
    stored chunks' text on its row (where a finished turn has it) and becomes
    an ``error`` of type ``stream_error`` saying it was interrupted, so a
    resume knows to redo it. Each recovery is an audit event.
    """
    from sqlmodel import select

    from app.runner.judge import settle
    from app.store.streamed import streamed_texts

    recovered: list[int] = []
    for run in db.exec(select(Run).where(Run.status == "running").order_by(Run.id)).all():  # type: ignore[arg-type]
        if run.id is None or is_live(run.id):
            continue
        cut = db.exec(select(Turn).where(Turn.run_id == run.id,
                                         Turn.status.in_(("pending", "streaming")))).all()  # type: ignore[attr-defined]
        texts = streamed_texts(db, [t.id for t in cut if t.id is not None])
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
                              "evidence": run_evidence(db, run.id)})
        recovered.append(run.id)
        _lock_path(run.id).unlink(missing_ok=True)
    db.flush()
    return recovered
