"""The store: lazy engine, SQLite settings, schema steps, and the audit chain."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.store import audit, session
from app.store.models import Engagement


def test_engine_is_lazy_and_configured(redline_home: Path) -> None:
    # Importing the store creates nothing on disk.
    subprocess.run([sys.executable, "-c", "import app.store, app.store.models"], check=True,
                   env={"REDLINE_HOME": str(redline_home), "PATH": ""})
    assert not (redline_home / "redline.db").exists()
    with session() as db:
        db.add(Engagement(name="acme"))
    con = sqlite3.connect(redline_home / "redline.db")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    from app.store.schema import CURRENT_VERSION

    assert con.execute("PRAGMA user_version").fetchone()[0] == CURRENT_VERSION


def test_foreign_keys_are_enforced() -> None:
    from datetime import date

    from sqlalchemy.exc import IntegrityError

    from app.store.models import TestWindow

    with pytest.raises(IntegrityError):
        with session() as db:
            db.add(TestWindow(engagement_id=999, name="Q1", start=date(2026, 1, 1), end=date(2026, 1, 2)))


def test_newer_schema_is_refused(redline_home: Path) -> None:
    from app.store.engine import dispose_all
    from app.store.schema import CURRENT_VERSION, SchemaTooNew

    with session() as db:
        db.add(Engagement(name="acme"))
    dispose_all()
    con = sqlite3.connect(redline_home / "redline.db")
    con.execute(f"PRAGMA user_version={CURRENT_VERSION + 1}")
    con.commit()
    con.close()
    with pytest.raises(SchemaTooNew):
        with session():
            pass


def _chain_of_three() -> int:
    with session() as db:
        eng = Engagement(name="acme")
        db.add(eng)
        db.flush()
        for i in range(3):
            audit.record(db, engagement_id=eng.id, action="note", payload={"i": i})
        assert eng.id is not None
        return eng.id


def test_intact_chain_verifies() -> None:
    eid = _chain_of_three()
    with session() as db:
        assert audit.verify_chain(db, eid) == []
        assert audit.head(db, eid).seq == 3  # type: ignore[union-attr]


def test_edited_event_is_detected(redline_home: Path) -> None:
    eid = _chain_of_three()
    con = sqlite3.connect(redline_home / "redline.db")
    con.execute("UPDATE auditevent SET payload='{\"i\": 99}' WHERE seq=2")
    con.commit()
    with session() as db:
        problems = audit.verify_chain(db, eid)
    assert [p.seq for p in problems] == [2]
    assert "altered" in str(problems[0])


def test_deleted_event_is_detected(redline_home: Path) -> None:
    eid = _chain_of_three()
    con = sqlite3.connect(redline_home / "redline.db")
    con.execute("DELETE FROM auditevent WHERE seq=2")
    con.commit()
    with session() as db:
        problems = audit.verify_chain(db, eid)
    messages = " ".join(str(p) for p in problems)
    assert "#2: missing" in messages and "#3: does not link" in messages


def test_older_stores_gain_the_chunk_body_columns_and_keep_their_bodies(redline_home: Path) -> None:
    """A version-1 store gains ``raw`` and ``raw_codec``; a body written at version 2 (no codec) reads as stored."""
    from app.store import dispose_all, get_engine, session
    from app.store.schema import CURRENT_VERSION
    from app.store.streamed import streamed_bodies

    get_engine()
    dispose_all()
    db = redline_home / "redline.db"
    conn = sqlite3.connect(db)
    conn.execute("ALTER TABLE turnchunk DROP COLUMN raw_codec")
    conn.execute("ALTER TABLE turnchunk DROP COLUMN raw")
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    get_engine()
    dispose_all()
    conn = sqlite3.connect(db)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(turnchunk)")}
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    # Back to version 2, with a body batch stored the way version 2 stored it.
    conn.execute("ALTER TABLE turnchunk DROP COLUMN raw_codec")
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("INSERT INTO turnchunk (turn_id, seq, text, raw, at_ms) VALUES (7, 0, 'hi', ?, 1.0)",
                 (b"data: {\"hi\"}\n\n" * 40,))
    conn.execute("PRAGMA user_version=2")
    conn.commit()
    conn.close()
    with session() as store:
        assert streamed_bodies(store, [7]) == {7: b"data: {\"hi\"}\n\n" * 40}
    assert {"raw", "raw_codec"} <= columns and version == CURRENT_VERSION


def test_a_version_3_store_gains_finding_occurrences_and_the_regression_link(redline_home: Path) -> None:
    from app.store import dispose_all, get_engine
    from app.store.schema import CURRENT_VERSION

    get_engine()
    dispose_all()
    db = redline_home / "redline.db"
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE findingoccurrence")
    kept = ", ".join(row[1] for row in conn.execute("PRAGMA table_info(finding)") if row[1] != "regression_of")
    conn.execute(f"CREATE TABLE finding_v3 AS SELECT {kept} FROM finding")  # as a version-3 store had it
    conn.execute("DROP TABLE finding")
    conn.execute("ALTER TABLE finding_v3 RENAME TO finding")
    conn.execute("PRAGMA user_version=3")
    conn.commit()
    conn.close()
    get_engine()
    dispose_all()
    conn = sqlite3.connect(db)
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    columns = {row[1] for row in conn.execute("PRAGMA table_info(finding)")}
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    conn.close()
    assert "findingoccurrence" in tables and "regression_of" in columns and version == CURRENT_VERSION >= 4


def test_older_stores_gain_the_run_system_snapshot_and_old_runs_read_as_without_one(redline_home: Path) -> None:
    """A store from before the snapshot step gains the columns; a run it already held has no snapshot."""
    from app.store import dispose_all, get_engine, session
    from app.store.models import Run
    from app.store.schema import CURRENT_VERSION, STEPS, _step_5_run_system_snapshot

    get_engine()
    dispose_all()
    db = redline_home / "redline.db"
    conn = sqlite3.connect(db)
    conn.execute("ALTER TABLE run DROP COLUMN system_snapshot")
    conn.execute("ALTER TABLE run DROP COLUMN system_sha256")
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("INSERT INTO run (engagement_id, system_id, scenario_pk, status, verdict, tool_version, model_id,"
                 " system_fingerprint, behaviour_fingerprint, metrics, created_at) VALUES (1, 1, 1, 'finished',"
                 " 'pass', '0.1', '', '', '', '{}', '2026-01-01 00:00:00.000000')")
    conn.execute(f"PRAGMA user_version={STEPS.index(_step_5_run_system_snapshot)}")
    conn.commit()
    conn.close()
    with session() as store:
        run = store.get(Run, 1)
        assert run is not None and run.system_snapshot is None and run.system_sha256 == ""
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == CURRENT_VERSION
    conn.close()


def test_raw_batches_are_packed_only_when_it_pays_and_always_read_back_whole() -> None:
    from app.store.streamed import RAW_IDENTITY, RAW_ZLIB, pack_raw, unpack_raw

    stream = b"".join(b'data: {"choices":[{"delta":{"content":"tok %d"}}]}\n\n' % i for i in range(2000))
    packed, codec = pack_raw(stream)
    assert codec == RAW_ZLIB and len(packed) * 10 < len(stream) and unpack_raw(packed, codec) == stream
    noise = os.urandom(4096)  # incompressible: stored as it came
    assert pack_raw(noise) == (noise, RAW_IDENTITY)
    tiny = b"data: [DONE]\n\n"  # too small for deflate to pay
    assert pack_raw(tiny) == (tiny, RAW_IDENTITY) and unpack_raw(tiny, RAW_IDENTITY) == tiny
    with pytest.raises(ValueError, match="codec 'lz9'"):
        unpack_raw(packed, "lz9")


def test_store_writer_runs_jobs_in_order_and_hands_back_failures(redline_home: Path) -> None:
    import asyncio

    from sqlalchemy import text

    from app.runner.writer import StoreWriter
    from app.store import get_engine

    writer = StoreWriter(get_engine())
    try:
        writer.submit(lambda conn: conn.execute(text("CREATE TABLE IF NOT EXISTS t (n INTEGER)"))).result()
        for n in range(20):
            writer.submit(lambda conn, n=n: conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": n}))
        failed = writer.submit(lambda conn: conn.execute(text("INSERT INTO no_such_table VALUES (1)")))
        rows = asyncio.run(writer.call(lambda conn: [r[0] for r in conn.execute(text("SELECT n FROM t"))]))
        assert rows == list(range(20))
        assert isinstance(failed.exception(), Exception) and "no_such_table" in str(failed.exception())
    finally:
        writer.close()
    with pytest.raises(RuntimeError):
        writer.submit(lambda conn: None)


def test_a_cancelled_waiter_does_not_cancel_its_queued_write(redline_home: Path) -> None:
    import asyncio
    import threading

    from sqlalchemy import text

    from app.runner.writer import StoreWriter
    from app.store import get_engine

    writer = StoreWriter(get_engine())
    gate = threading.Event()
    try:
        writer.submit(lambda conn: conn.execute(text("CREATE TABLE IF NOT EXISTS w (n INTEGER)"))).result()
        writer.submit(lambda conn: gate.wait(10))  # keeps the next job queued

        async def main() -> None:
            waiter = asyncio.ensure_future(writer.call(lambda conn: conn.execute(text("INSERT INTO w VALUES (7)"))))
            await asyncio.sleep(0.01)
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter

        asyncio.run(main())
        gate.set()
        rows = writer.submit(lambda conn: [r[0] for r in conn.execute(text("SELECT n FROM w"))]).result()
        assert rows == [7]
    finally:
        gate.set()
        writer.close()
