"""Schema versions, upgraded forward in numbered steps, the same steps on SQLite and on PostgreSQL.

On SQLite the version lives in ``PRAGMA user_version``; on PostgreSQL, which
has no such slot, in the one-row table ``redline_schema``. Each step runs
once, in order, all of them in one transaction with the version check, held
against every other process opening the same store (SQLite's write lock taken
by ``BEGIN IMMEDIATE``; a transaction-scoped advisory lock on PostgreSQL, whose
DDL is transactional). A database newer than this code is refused rather than
silently misread. Add a step by appending a function to ``STEPS``; never edit a
released one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine


class SchemaTooNew(RuntimeError):
    """The database was written by a newer Redline."""


def _step_1_initial(conn: Connection) -> None:
    from sqlmodel import SQLModel

    import app.store.models  # noqa: F401  (registers the tables)

    SQLModel.metadata.create_all(conn)


def add_column_if_missing(conn: Connection, table: str, column: str, ddl: str) -> None:
    """For later steps: ``ALTER TABLE ... ADD COLUMN`` that tolerates a fresh database.

    ``ddl`` is written in SQLite's words; the one type PostgreSQL names
    otherwise (``BLOB``, which it calls ``BYTEA``) is translated here, so a step
    reads the same for both.
    """
    from sqlalchemy import inspect, text

    existing = {col["name"] for col in inspect(conn).get_columns(table)}
    if column not in existing:
        if conn.dialect.name == "postgresql":
            ddl = ddl.replace("BLOB", "BYTEA")
        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}"))


def _step_2_chunk_raw(conn: Connection) -> None:
    """Streamed turns keep their raw body with their text batches, so a crash keeps both."""
    add_column_if_missing(conn, "turnchunk", "raw", "BLOB")


def _step_3_chunk_raw_codec(conn: Connection) -> None:
    """Raw body batches may be stored deflated; rows written before this step are as received."""
    add_column_if_missing(conn, "turnchunk", "raw_codec", "VARCHAR NOT NULL DEFAULT ''")


def _step_4_finding_occurrences(conn: Connection) -> None:
    """One weakness is one finding: later failing runs are its occurrences; a comeback names what it regresses."""
    from app.store.models import FindingOccurrence

    FindingOccurrence.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]
    add_column_if_missing(conn, "finding", "regression_of", "INTEGER REFERENCES finding(id)")


def _step_5_run_system_snapshot(conn: Connection) -> None:
    """Each run keeps the configuration of the system it was tested against, and that snapshot's SHA-256.

    Runs stored before this step have none; the bundle says so rather than
    showing today's configuration as theirs.
    """
    add_column_if_missing(conn, "run", "system_snapshot", "JSON")
    add_column_if_missing(conn, "run", "system_sha256", "VARCHAR NOT NULL DEFAULT ''")


def _step_6_turn_bounds(conn: Connection) -> None:
    """Each turn records the read limits it ran under and what its body cost (PI1.2), and a raw body
    withheld because it would let a secret be rebuilt says so (the reason; the digest is in ``bounds``)."""
    add_column_if_missing(conn, "turn", "bounds", "JSON NOT NULL DEFAULT '{}'")
    add_column_if_missing(conn, "turn", "raw_withheld", "VARCHAR NOT NULL DEFAULT ''")


def _step_audit_payload_digest(conn: Connection) -> None:
    """Events hash their payload's digest from now on (version 2), so an export can redact a payload and
    still prove the chain; events recorded before keep version 1 and verify as they always did."""
    add_column_if_missing(conn, "auditevent", "hash_version", "INTEGER NOT NULL DEFAULT 1")


def _step_strategy_variants(conn: Connection) -> None:
    """A run may be a strategy variant of its scenario: the chain, and each step's original message beside
    the one sent; a control row may name the strategies its scenarios also run under."""
    add_column_if_missing(conn, "run", "strategy", "VARCHAR NOT NULL DEFAULT ''")
    add_column_if_missing(conn, "run", "variant", "JSON")
    add_column_if_missing(conn, "controlmapping", "strategies", "JSON NOT NULL DEFAULT '[]'")


def _step_finding_priority(conn: Connection) -> None:
    """Findings carry a remediation priority and a due date; older rows are left empty and derived on read."""
    add_column_if_missing(conn, "finding", "priority", "VARCHAR NOT NULL DEFAULT ''")
    add_column_if_missing(conn, "finding", "due_date", "DATE")


def _step_attachments(conn: Connection) -> None:
    """Files attached as evidence: one row each, the bytes in the store's attachment folder."""
    from app.store.models import Attachment

    Attachment.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]


def _step_finding_version(conn: Connection) -> None:
    """Each finding counts its edits, so two testers changing it at once cannot silently overwrite each other."""
    add_column_if_missing(conn, "finding", "version", "INTEGER NOT NULL DEFAULT 1")


STEPS: list[Callable[[Connection], None]] = [_step_1_initial, _step_2_chunk_raw, _step_3_chunk_raw_codec,
                                               _step_4_finding_occurrences, _step_5_run_system_snapshot,
                                               _step_6_turn_bounds, _step_audit_payload_digest,
                                               _step_strategy_variants, _step_finding_priority, _step_attachments,
                                               _step_finding_version]
CURRENT_VERSION = len(STEPS)


def current_version(conn: Connection) -> int:
    from app.store import portable

    return portable.schema_version(conn)


def upgrade(engine: Engine) -> int:
    """Bring the database to ``CURRENT_VERSION``; returns the version found before."""
    if engine.dialect.name == "sqlite":
        return _upgrade_sqlite(engine)
    return _upgrade_server(engine)


def _run_steps(conn: Connection, found: int) -> None:
    from app.store import portable

    for number in range(found + 1, CURRENT_VERSION + 1):
        STEPS[number - 1](conn)
        portable.set_schema_version(conn, number)


def _upgrade_server(engine: Engine) -> int:
    """PostgreSQL: the version check and every step in one transaction, under an advisory lock
    that every process opening the store takes first, so the second finds the work done."""
    from app.store import portable

    with engine.begin() as conn:
        portable.lock_schema(conn)
        found = current_version(conn)
        _refuse_newer(found)
        _run_steps(conn, found)
    return found


def _upgrade_sqlite(engine: Engine) -> int:
    """SQLite: the version is read again, and every step run, inside one ``BEGIN IMMEDIATE``
    transaction: two processes that open a new store at once queue on SQLite's
    write lock, and the second finds the work done instead of creating the same
    tables again. The driver's own transaction handling (which leaves DDL in
    autocommit) is switched off for that one transaction so the DDL is inside it.
    """
    with engine.connect() as conn:
        found = current_version(conn)
        if found == CURRENT_VERSION:
            return found
        _refuse_newer(found)
        driver = conn.connection.driver_connection
        saved = driver.isolation_level  # type: ignore[union-attr]
        conn.rollback()  # leave the read above; the check that counts is the one under the lock
        driver.isolation_level = None  # type: ignore[union-attr]
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            found = current_version(conn)
            _refuse_newer(found)
            _run_steps(conn, found)
            conn.exec_driver_sql("COMMIT")
        except BaseException:
            if not driver.in_transaction:  # type: ignore[union-attr]
                raise
            conn.exec_driver_sql("ROLLBACK")
            raise
        finally:
            conn.rollback()
            driver.isolation_level = saved  # type: ignore[union-attr]
    return found


def _refuse_newer(found: int) -> None:
    if found > CURRENT_VERSION:
        raise SchemaTooNew(
            f"this database is at schema version {found}, newer than this Redline "
            f"(version {CURRENT_VERSION}); upgrade Redline to open it"
        )
