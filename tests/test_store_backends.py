"""The store on both backends: the embedded SQLite file and a shared PostgreSQL server.

Each test here runs twice through ``store_backend`` (tests/servers/postgres.py):
the same code, chosen the way a user chooses it (``REDLINE_DATABASE_URL``).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from app.store import audit, get_engine, session
from app.store.models import Engagement

pytestmark = pytest.mark.usefixtures("store_backend")


def _execute(sql: str, **params: object) -> None:
    from sqlalchemy import text

    with get_engine().begin() as conn:
        conn.execute(text(sql), params)


def test_the_schema_is_current_and_foreign_keys_hold(store_backend: str) -> None:
    from sqlalchemy.exc import IntegrityError

    from app.store.models import TestWindow
    from app.store.schema import CURRENT_VERSION, current_version

    with get_engine().connect() as conn:
        assert current_version(conn) == CURRENT_VERSION
    assert get_engine().dialect.name == store_backend
    with pytest.raises(IntegrityError):
        with session() as db:
            db.add(TestWindow(engagement_id=999, name="Q1", start=date(2026, 1, 1), end=date(2026, 1, 2)))


def test_a_store_newer_than_this_redline_is_refused() -> None:
    from app.store import portable
    from app.store.engine import dispose_all
    from app.store.schema import CURRENT_VERSION, SchemaTooNew

    with get_engine().begin() as conn:
        portable.set_schema_version(conn, CURRENT_VERSION + 1)
    dispose_all()
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


def test_the_chain_verifies_and_an_edit_or_a_deletion_is_caught() -> None:
    eid = _chain_of_three()
    with session() as db:
        assert audit.verify_chain(db, eid) == []
    _execute("UPDATE auditevent SET payload = :p WHERE seq = 2", p='{"i": 99}')
    _execute("DELETE FROM auditevent WHERE seq = 3")
    with session() as db:
        problems = [str(p) for p in audit.verify_chain(db, eid)]
    assert problems == ["audit event #2: content was altered after it was recorded"]  # #3 is the pinned head


def test_a_streamed_body_round_trips_through_the_writer(redline_home: Path) -> None:
    from app.runner.record import append_batch, open_turn
    from app.runner.writer import StoreWriter
    from app.store.models import AISystem, Run, Scenario
    from app.store.streamed import streamed_bodies, streamed_texts

    with session() as db:
        eng = Engagement(name="acme")
        db.add(eng)
        db.flush()
        system = AISystem(engagement_id=eng.id, name="bot")
        scenario = Scenario(scenario_id="s", sha256="0" * 64)
        db.add(system)
        db.add(scenario)
        db.flush()
        run = Run(engagement_id=eng.id, system_id=system.id, scenario_pk=scenario.id)  # type: ignore[arg-type]
        db.add(run)
        db.flush()
        run_id = run.id
    writer = StoreWriter(get_engine())
    try:
        turn_id, _ = writer.submit(lambda c: open_turn(c, run_id=run_id, step=0, sample=0, kind="chat",
                                                       identity="")).result()
        body = b'data: {"x": "' + b"\x00\xff" * 400 + b'"}\n\n'
        for seq in range(3):
            writer.submit(lambda c, s=seq: append_batch(c, turn_id, s, f"part{s} ", body, 1.0, s + 1, 1.0))
    finally:
        writer.close()
    with session() as db:
        assert streamed_texts(db, [turn_id]) == {turn_id: "part0 part1 part2 "}
        assert streamed_bodies(db, [turn_id]) == {turn_id: body * 3}


def test_the_store_is_named_with_its_password_masked(store_backend: str, monkeypatch: pytest.MonkeyPatch,
                                                     redline_home: Path) -> None:
    from app.store.location import current, describe

    shown = describe()
    if store_backend == "sqlite":
        assert shown == f"SQLite {(redline_home / 'redline.db').resolve()}"
    else:
        location = current()
        assert location.url.password  # from REDLINE_KEY_DATABASE, the secret source, not the URL
        assert shown.startswith("PostgreSQL postgresql") and "://redline:***@127.0.0.1:" in shown
        assert location.url.password not in shown


def test_a_bad_url_is_named_by_its_source_and_never_echoes_a_password(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.cli import main

    monkeypatch.setenv("REDLINE_DATABASE_URL", "mysql://ana:hunter22@db/redline")
    from app.store.location import StoreURLError, current

    with pytest.raises(StoreURLError) as caught:
        current()
    assert "REDLINE_DATABASE_URL" in str(caught.value) and "hunter22" not in str(caught.value)
    assert "mysql://ana:***@db/redline" in str(caught.value)
    monkeypatch.delenv("REDLINE_DATABASE_URL")
    assert main(["--database-url", "postgresql://ana:hunter22@127.0.0.1:1/none", "runs", "acme"]) != 0


def test_backup_copies_an_sqlite_store_and_on_a_server_says_what_to_use(store_backend: str, tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli import main

    code = main(["backup", "--out", str(tmp_path / "copy.db")])
    err = capsys.readouterr().err
    if store_backend == "sqlite":
        assert code == 0 and (tmp_path / "copy.db").exists()
    else:
        assert code != 0 and "pg_dump" in err and "redline migrate" in err and "redline:***@" in err
        assert not (tmp_path / "copy.db").exists()

