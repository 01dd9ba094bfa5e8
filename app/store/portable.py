"""The few things the store does differently on SQLite and on PostgreSQL, each in one place.

Everything else the core writes is plain SQLAlchemy and runs on both. What
SQLite does by itself, one file and one writer at a time, a shared server
needs said out loud:

- the schema version: ``PRAGMA user_version`` on SQLite, the one-row table
  ``redline_schema`` on PostgreSQL;
- serialising work that must not interleave (a schema upgrade, an append to
  an engagement's audit chain): SQLite's single write lock, taken up front;
  on PostgreSQL a transaction-scoped advisory lock, released by commit or
  rollback, so a crashed writer never leaves it held;
- knowing that a run is being run right now, from any machine: a file lock in
  the data dir for SQLite (:mod:`app.locks`); on PostgreSQL a session advisory
  lock on a connection held for the run's length, which the server drops when
  that connection ends, however the process ends;
- erasing withheld raw bytes from the file (``secure_delete``, a WAL
  checkpoint), which only SQLite can be asked for.

The advisory lock keys are pairs: a namespace for the kind of lock, and the id
of what it guards (0 for the global chain).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine
    from sqlmodel import Session

# Advisory lock namespaces (int4), one per kind of lock; the second key is the guarded id.
SCHEMA_LOCK = 0x52_4C_00_01
CHAIN_LOCK = 0x52_4C_00_02
RUN_LOCK = 0x52_4C_00_03
VERSION_TABLE = "redline_schema"


def dialect_of(bind: Connection | Session | Engine) -> str:
    target: Any = bind.get_bind() if hasattr(bind, "get_bind") else bind
    return str(target.dialect.name)


def schema_version(conn: Connection) -> int:
    from sqlalchemy import text

    if conn.dialect.name == "sqlite":
        return int(conn.execute(text("PRAGMA user_version")).scalar_one())
    conn.execute(text(f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version INTEGER NOT NULL)"))
    found = conn.execute(text(f"SELECT version FROM {VERSION_TABLE}")).scalar()
    return int(found or 0)


def set_schema_version(conn: Connection, number: int) -> None:
    from sqlalchemy import text

    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"PRAGMA user_version={int(number)}")
        return
    conn.execute(text(f"DELETE FROM {VERSION_TABLE}"))
    conn.execute(text(f"INSERT INTO {VERSION_TABLE} (version) VALUES (:v)"), {"v": number})


def lock_schema(conn: Connection) -> None:
    """PostgreSQL: hold off every other process's upgrade until this transaction ends."""
    from sqlalchemy import text

    conn.execute(text("SELECT pg_advisory_xact_lock(:ns, 0)"), {"ns": SCHEMA_LOCK})


def lock_chain(db: Session, engagement_id: int | None) -> None:
    """Make this transaction the only one appending to the engagement's chain until it ends.

    Read the chain's head only after this: two writers that both read the same
    head would both link to it. On PostgreSQL a transaction-scoped advisory lock
    per engagement queues them; on SQLite a write that changes nothing takes the
    store's write lock (busy-waiting as every write does) before the head is read.
    """
    from sqlalchemy import text

    if dialect_of(db) == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(:ns, :id)"), {"ns": CHAIN_LOCK, "id": engagement_id or 0})
    else:
        hold_store(db)


def hold_store(db: Session) -> None:
    """SQLite: take the store's write lock now (a write that changes nothing), so what is read next is
    what the coming write will change. PostgreSQL locks rows instead (``FOR UPDATE``); this does nothing there."""
    from sqlalchemy import text

    if dialect_of(db) == "sqlite":
        db.execute(text("UPDATE auditevent SET seq = seq WHERE 1 = 0"))


def read_for_change(db: Session, model: Any, ident: Any) -> Any:
    """A row about to be changed, read as it is now and held until this transaction ends: no other
    writer can slip a change in between this read and the write (which would then be refused as stale).

    Every change is audited, so the engagement's chain lock is taken first, then the row's: one order for
    every writer (the chain, then rows), so two writers can queue but never wait on each other in a circle.
    """
    hold_store(db)
    row = db.get(model, ident)
    if row is not None:  # read again even if this session has it: another client may have changed it since
        engagement_id = getattr(row, "engagement_id", None)
        if engagement_id is not None:
            lock_chain(db, engagement_id)
        db.refresh(row, with_for_update=True)
    return row


class ServerRunLock:
    """PostgreSQL: a run's liveness lock, held on a connection of its own for as long as the run runs."""

    def __init__(self, engine: Engine, run_id: int) -> None:
        self.engine = engine
        self.run_id = run_id
        self._conn: Any = None

    def acquire(self) -> bool:
        from sqlalchemy import text

        conn = self.engine.connect()
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:ns, :id)"),
                                {"ns": RUN_LOCK, "id": self.run_id}).scalar_one())
        conn.commit()  # the lock is the session's; no transaction stays open beside the run
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def release(self) -> None:
        from sqlalchemy import text

        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:ns, :id)"), {"ns": RUN_LOCK, "id": self.run_id})
            conn.commit()
        finally:
            conn.close()


def run_is_live_on_server(engine: Engine, run_id: int) -> bool:
    """Whether any session on the server, from any machine, holds the run's lock right now."""
    from sqlalchemy import text

    with engine.connect() as conn:
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:ns, :id)"),
                                {"ns": RUN_LOCK, "id": run_id}).scalar_one())
        if got:
            conn.execute(text("SELECT pg_advisory_unlock(:ns, :id)"), {"ns": RUN_LOCK, "id": run_id})
        conn.commit()
    return not got


def erase_on_delete(conn: Connection) -> None:
    """SQLite: overwrite deleted content in the file. A server's old row versions go when it vacuums them."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA secure_delete=ON")


def fold_log(conn: Connection) -> None:
    """SQLite: fold the write-ahead log into the file and empty it (best effort). A server manages its own."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def reset_id_sequences(conn: Connection, tables: list[Any]) -> None:
    """PostgreSQL: after rows were copied in with their ids, the next id each table hands out follows them."""
    from sqlalchemy import text

    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        column = table.autoincrement_column
        if column is None or column.name != "id":
            continue
        conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                          f"COALESCE((SELECT MAX(id) FROM \"{table.name}\"), 0) + 1, false)"))
