"""The store's engine: created lazily, for the embedded SQLite file or a shared PostgreSQL server.

Which one is :mod:`app.store.location`'s rule. For SQLite, WAL lets the cockpit read while the runner writes; ``synchronous=NORMAL`` in
WAL mode keeps committed batches across a process kill (only an OS crash can
lose the last commit). Foreign keys are off by default in SQLite, so every
connection turns them on. A PostgreSQL server needs none of that: it is
crash-safe and checks foreign keys as it is; the driver comes from the
``postgres`` extra.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

    from app.store.location import StoreLocation

BUSY_TIMEOUT_MS = 10_000
_engines: dict[str, Engine] = {}


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
    """The data dir 0700, the store 0600 before SQLite first opens it, and its WAL and SHM no looser.

    SQLite creates the WAL and SHM files with the database file's own mode, so
    a store created 0600 keeps all three owner-only whatever the umask.
    """
    from app.paths import home_dir
    from app.private import private_dir, private_file, tighten_existing

    # The data dir is Redline's own; a folder named through --database-url (``migrate --to sqlite:///...``)
    # is the user's, so only the store's own files are made private there.
    if not path.parent.exists() or path.parent.resolve() == home_dir(create=False).resolve():
        private_dir(path.parent, "the data dir")
    private_file(path, "the store")
    for suffix in ("-wal", "-shm"):
        tighten_existing(path.with_name(path.name + suffix), "the store's journal")


def get_engine(path: Path | None = None, location: StoreLocation | None = None) -> Engine:
    """The engine for the store at ``path`` (an SQLite file) or ``location``, upgraded to the current schema.

    With neither, the store this process is configured for (:func:`app.store.location.current`).
    """
    from app.store.location import StoreLocation, current

    if location is None:
        if path is not None:
            from sqlalchemy.engine import URL

            location = StoreLocation(URL.create("sqlite", database=str(path.resolve())), str(path))
        else:
            location = current()
    key = location.url.render_as_string(hide_password=False)
    engine = _engines.get(key)
    if engine is None:
        engine = _create(location)
        _engines[key] = engine
    return engine


def _create(location: StoreLocation) -> Engine:
    from sqlalchemy import event
    from sqlmodel import create_engine

    from app.store.schema import upgrade

    path = location.sqlite_path
    if path is not None:
        _make_private(path)
        engine = create_engine(
            f"sqlite:///{path}",
            connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        )
        event.listen(engine, "connect", _configure)
    else:
        try:
            import psycopg  # noqa: F401
        except ModuleNotFoundError:
            from app.errors import RedlineError

            raise RedlineError(f"{location.origin} names a PostgreSQL store ({location.shown}), but its driver is "
                               "not installed: pip install 'redline[postgres]'") from None
        engine = create_engine(location.url, pool_pre_ping=True)
    try:
        upgrade(engine)
    except Exception as exc:
        engine.dispose()
        _explain_unreachable(location, exc)
        raise
    return engine


def _explain_unreachable(location: StoreLocation, exc: Exception) -> None:
    """A server that cannot be reached is the user's to fix: say which one (password masked) and why."""
    from sqlalchemy.exc import OperationalError

    if location.sqlite_path is None and isinstance(exc, OperationalError):
        from app.errors import RedlineError
        from app.secrets import redact

        detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else "no detail"
        secrets = [location.url.password] if location.url.password else []
        raise RedlineError(f"the store at {location.shown} (from {location.origin}) cannot be opened: "
                           f"{redact(detail, secrets, shapes=True)}") from None


@contextmanager
def session(path: Path | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error.

    Objects stay readable after commit (``expire_on_commit=False``) so callers
    can hand them to the UI without another query. A write that lost a race
    for a finding to another client is rolled back whole and raised as
    :class:`app.store.conflicts.EditConflict`.
    """
    from sqlalchemy.orm.exc import StaleDataError
    from sqlmodel import Session

    engine = get_engine(path)
    with Session(engine, expire_on_commit=False) as db:
        from app.store.conflicts import watch

        watch(db)
        try:
            yield db
            db.commit()
        except StaleDataError:  # another client changed a finding this one was writing (app.store.conflicts)
            from app.store.conflicts import from_stale_write, stale_findings

            stale = stale_findings(db)
            db.rollback()
            raise from_stale_write(engine, stale) from None
        except BaseException:
            db.rollback()
            raise


def dispose(path: Path) -> None:
    """Close and forget the engine of one store (a staged copy that is about to be deleted)."""
    from sqlalchemy.engine import URL

    engine = _engines.pop(URL.create("sqlite", database=str(path.resolve())).render_as_string(), None)
    if engine is not None:
        engine.dispose()


def dispose_all() -> None:
    """Close every pooled connection (tests switch data dirs; the CLI exits)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()
