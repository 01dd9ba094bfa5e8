"""The SQLite engine: created lazily, configured for a crash-safe local store.

WAL lets the cockpit read while the runner writes; ``synchronous=NORMAL`` in
WAL mode keeps committed batches across a process kill (only an OS crash can
lose the last commit). Foreign keys are off by default in SQLite, so every
connection turns them on.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

BUSY_TIMEOUT_MS = 10_000
_engines: dict[Path, "Engine"] = {}


def _configure(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    _use_wal(cursor)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _use_wal(cursor: Any) -> None:
    """Switch a new store to WAL, waiting out a peer that is doing the same.

    Changing the journal mode needs the file to itself, and SQLite answers
    "database is locked" at once, without its busy handler, while another
    process creates the same new store; so this retries for as long as the
    busy timeout would have waited. A store already in WAL answers at once.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def _make_private(path: Path) -> None:
    """The store's folder 0700, the store 0600 before SQLite first opens it, and its WAL and SHM no looser.

    SQLite creates the WAL and SHM files with the database file's own mode, so
    a store created 0600 keeps all three owner-only whatever the umask.
    """
    from app.private import private_dir, private_file, tighten_existing

    private_dir(path.parent, "the data dir")
    private_file(path, "the store")
    for suffix in ("-wal", "-shm"):
        tighten_existing(path.with_name(path.name + suffix), "the store's journal")


def get_engine(path: Path | None = None) -> "Engine":
    """The engine for ``path`` (default: the data dir's database), upgraded to the current schema."""
    from sqlalchemy import event
    from sqlmodel import create_engine

    from app.paths import db_path
    from app.store.schema import upgrade

    path = (path or db_path()).resolve()
    engine = _engines.get(path)
    if engine is None:
        _make_private(path)
        engine = create_engine(
            f"sqlite:///{path}",
            connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        )
        event.listen(engine, "connect", _configure)
        upgrade(engine)
        _engines[path] = engine
    return engine


@contextmanager
def session(path: Path | None = None) -> Iterator["Session"]:
    """A session that commits on success and rolls back on error.

    Objects stay readable after commit (``expire_on_commit=False``) so callers
    can hand them to the UI without another query.
    """
    from sqlmodel import Session

    with Session(get_engine(path), expire_on_commit=False) as db:
        try:
            yield db
            db.commit()
        except BaseException:
            db.rollback()
            raise


def dispose(path: Path) -> None:
    """Close and forget the engine of one store (a staged copy that is about to be deleted)."""
    engine = _engines.pop(path.resolve(), None)
    if engine is not None:
        engine.dispose()


def dispose_all() -> None:
    """Close every pooled connection (tests switch data dirs; the CLI exits)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()
