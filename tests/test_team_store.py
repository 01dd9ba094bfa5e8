"""Acceptance: one engagement, several testers, on SQLite and on a shared PostgreSQL server.

The end-to-end path and the edit conflict run on both backends (``store_backend``);
two processes writing at once need a server, so that test is PostgreSQL's alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from app.cli import main
from app.store import audit, session
from app.store.models import Finding
from tests.test_lifecycle_support import demo, make_engagement  # noqa: F401

REPO = Path(__file__).resolve().parents[1]


def _json(capsys: Any, *argv: str) -> Any:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def _failing_turn(run_id: int) -> tuple[int, str]:
    from sqlmodel import select

    from app.store.models import Turn, Verdict

    with session() as db:
        verdict = db.exec(select(Verdict).where(Verdict.run_id == run_id, Verdict.outcome == "fail")).first()
        assert verdict is not None and verdict.turn_id is not None
        turn = db.get(Turn, verdict.turn_id)
        assert turn is not None
        return turn.id or 0, turn.response_text


@pytest.mark.usefixtures("store_backend")
def test_run_triage_finding_retest_export_verify(demo: Any, capsys: Any, tmp_path: Path) -> None:  # noqa: F811
    from app.triage import finding_from_span, record_human_verdict

    eid = make_engagement(demo.base_url, scenarios=("pi-direct-override",))
    assert main(["run", "acme"]) == 1
    [draft] = _json(capsys, "findings", "acme", "--json")
    turn_id, text = _failing_turn(draft["run"])

    with session() as db:  # triage: a tester's verdict on the failing turn, and a finding quoting it
        record_human_verdict(db, run_id=draft["run"], turn_id=turn_id, outcome="fail", reason="leaks the prompt")
        quoted = finding_from_span(db, run_id=draft["run"], turn_id=turn_id, start=0, end=min(40, len(text)),
                                   title="Injected instruction obeyed", severity="high", impact="CC6.6",
                                   controls=["CC6.6"])
        quoted_id = quoted.id
    assert main(["findings", "acme", "dismiss", str(quoted_id), "--reason", "same weakness as the draft"]) == 0
    assert main(["findings", "acme", "confirm", str(draft["id"]), "--reason", "reproduced"]) == 0

    demo.hardened = True
    assert main(["retest", "acme", "--no-probe"]) == 0
    assert main(["findings", "acme", "close", str(draft["id"]), "--reason", "the re-test passed"]) == 0
    statuses = {f["id"]: f["status"] for f in _json(capsys, "findings", "acme", "--json")}
    assert statuses == {draft["id"]: "closed", quoted_id: "dismissed"}

    bundle = tmp_path / "bundle.zip"
    assert main(["export", "acme", "--out", str(bundle)]) == 0
    capsys.readouterr()
    assert main(["verify", str(bundle)]) == 0
    assert capsys.readouterr().out.startswith("OK: bundle.zip: ")
    with zipfile.ZipFile(bundle) as archive:
        actions = [json.loads(line)["action"] for line in archive.read("audit/events.jsonl").splitlines()]
    assert {"run.finished", "verdict.human", "finding.created", "finding.status", "retest.recorded"} <= set(actions)
    with session() as db:
        assert audit.verify_chain(db, eid) == []


@pytest.mark.usefixtures("store_backend")
def test_two_clients_change_one_finding_the_second_is_told_and_the_first_change_stands(
        demo: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    from app.findings import transition, update_finding
    from app.store.conflicts import EditConflict

    make_engagement(demo.base_url, scenarios=("pi-direct-override",))
    assert main(["run", "acme"]) == 1
    [seen] = _json(capsys, "findings", "acme", "--json")  # both testers list the finding: version 1
    fid, version = str(seen["id"]), str(seen["version"])

    monkeypatch.setenv("REDLINE_TESTER", "bea")
    assert main(["findings", "acme", "confirm", fid, "--reason", "reproduced", "--if-version", version]) == 0
    monkeypatch.setenv("REDLINE_TESTER", "ana")
    capsys.readouterr()
    assert main(["findings", "acme", "dismiss", fid, "--reason", "false positive", "--if-version", version]) == 3
    err = capsys.readouterr().err
    assert f"finding {fid} was changed by bea (finding.status" in err and "Your change was not saved" in err
    [now] = _json(capsys, "findings", "acme", "--json")
    assert (now["status"], now["version"]) == ("open", seen["version"] + 1)

    # The same race inside one moment: both read, the first writes, the second's write is refused by the store.
    with pytest.raises(EditConflict, match=f"finding {fid} was changed by bea"):
        with session() as second:
            stale = second.get(Finding, int(fid))
            monkeypatch.setenv("REDLINE_TESTER", "bea")
            with session() as first:
                update_finding(first, first.get(Finding, int(fid)), severity="low", reason="agreed with client")
            monkeypatch.setenv("REDLINE_TESTER", "ana")
            transition(second, stale, "risk_accepted", reason="accepted", approver="cfo")
    with session() as db:
        kept = db.get(Finding, int(fid))
        assert kept is not None and (kept.severity, kept.status) == ("low", "open")
        assert audit.verify_chain(db, kept.engagement_id) == []


SECOND_CLIENT = """
import sys
from pathlib import Path
from app.cli import main
ids, stop = sys.argv[1].split(","), Path(sys.argv[2])
moves = 0
while not stop.exists():  # until the run in the other process has ended
    for fid in ids:
        assert main(["findings", "acme", "accept", fid, "--approver", "lead", "--reason", f"move {moves}"]) == 0
        assert main(["findings", "acme", "reopen", fid, "--reason", f"move {moves + 1}"]) == 0
        moves += 2
print(moves)
"""


@pytest.mark.postgresql
def test_a_streaming_run_and_a_second_client_share_one_engagement(postgres_url: str, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """``redline run`` streams in one process while another makes lifecycle moves: one chain, nothing lost."""
    from sqlmodel import select

    from app.demo.server import start_demo_server
    from app.store.models import AuditEvent, Run, Turn

    monkeypatch.setenv("REDLINE_DATABASE_URL", postgres_url)
    scenarios = ("pi-direct-override", "sysprompt-summary-request")
    server = start_demo_server(chunk_delay=0, service_time=0)
    try:
        eid = make_engagement(server.base_url, scenarios=scenarios)
        assert main(["run", "acme"]) == 1
        ids = [str(f.id) for f in _findings(eid)]
        assert main(["findings", "acme", "confirm", *ids, "--reason", "reproduced"]) == 0
        server.chunk_delay = 0.01  # the next run streams for a while
        stop = tmp_path / "stop"
        client = subprocess.Popen([sys.executable, "-c", SECOND_CLIENT, ",".join(ids), str(stop)], cwd=REPO,
                                  env={**os.environ, "REDLINE_TESTER": "bea"}, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        _wait_for(client, lambda db: db.exec(select(AuditEvent).where(AuditEvent.actor == "bea")).first())
        runner = subprocess.Popen([sys.executable, "-m", "app.cli", "run", "acme", "--concurrency", "2"],
                                  cwd=REPO, env={**os.environ, "REDLINE_TESTER": "runner"},
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # This process is another machine's cockpit: it sees the turn's text while the turn still streams.
        seen_streaming = _wait_for(runner, _text_of_a_streaming_turn)
        out, err = runner.communicate(timeout=600)
        stop.touch()
        moved, client_err = client.communicate(timeout=600)
    finally:
        server.stop()
    for text in (client_err, err, out):
        assert "database is locked" not in text and "could not serialize" not in text
    assert client.returncode == 0, client_err
    assert seen_streaming, "no turn's text was seen while it streamed"
    assert runner.returncode == 1, err  # the system is still vulnerable: the run fails, as it should

    with session() as db:
        assert audit.verify_chain(db, eid) == []
        events = db.exec(select(AuditEvent).where(AuditEvent.chain == f"engagement:{eid}")
                         .order_by(AuditEvent.seq)).all()  # type: ignore[arg-type]
        runs = db.exec(select(Run).where(Run.engagement_id == eid)).all()
        turns = db.exec(select(Turn).where(Turn.run_id.in_([r.id for r in runs]))).all()  # type: ignore[union-attr]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    moves = [e for e in events if e.action == "finding.status" and e.actor == "bea"]
    assert len(moves) == int(moved.split()[-1])  # every move the second client made is in the chain
    second_run = [e.seq for e in events if e.action.startswith("run.") and e.actor == "runner"]
    assert any(second_run[0] < m.seq < second_run[-1] for m in moves)  # and they interleaved with the run
    assert len(runs) == 2 * len(scenarios), [(r.id, r.status, r.verdict) for r in runs]
    assert all(r.status == "finished" for r in runs), [(r.id, r.status, r.verdict) for r in runs]
    assert turns and all(t.status == "done" for t in turns)
    assert {f.status for f in _findings(eid)} == {"open"}


def _findings(eid: int) -> list[Finding]:
    from app.findings import find

    with session() as db:
        return find(db, eid)


def _wait_for(process: subprocess.Popen[str], seen: Any) -> Any:
    """Until ``seen(db)`` finds what the child wrote (None if the child ended first); the store says, not a clock."""
    import time

    while process.poll() is None:
        with session() as db:
            found = seen(db)
            if found:
                return found
        time.sleep(0.01)
    return None


def _text_of_a_streaming_turn(db: Any) -> Any:
    from sqlmodel import select

    from app.store.models import Turn
    from app.store.streamed import streamed_texts

    streaming = [t.id for t in db.exec(select(Turn).where(Turn.status == "streaming")).all()]
    return any(streamed_texts(db, streaming).values()) if streaming else None


def test_every_change_records_the_tester_their_signing_key_and_the_os_login(monkeypatch: pytest.MonkeyPatch,
                                                                           capsys: Any) -> None:
    """Before a key exists the event names the tester and the OS login; after, the key's fingerprint too."""
    import getpass

    from app.evidence import keys
    from app.findings import create_finding
    from app.store.models import AuditEvent, Engagement

    monkeypatch.setenv("REDLINE_TESTER", "ana")
    with session() as db:
        engagement = Engagement(name="acme")
        db.add(engagement)
        db.flush()
        before = create_finding(db, engagement_id=engagement.id or 0, title="one")
    key = keys.create("ana").key
    with session() as db:
        after = create_finding(db, engagement_id=engagement.id or 0, title="two", actor="bea")
        events = {e.entity: e for e in db.exec(__import__("sqlmodel").select(AuditEvent)).all()}
    first, second = events[f"finding:{before.id}"], events[f"finding:{after.id}"]
    assert first.payload["by"] == {"tester": "ana", "os_user": getpass.getuser()}
    # Attributed to bea (--by), made from ana's seat with ana's key: both are on the record.
    assert second.actor == "bea"
    assert second.payload["by"] == {"tester": "ana", "os_user": getpass.getuser(), "key": key.fingerprint}


@pytest.mark.postgresql
def test_a_migrated_engagement_verifies_and_its_bundle_matches_the_original(
        demo: Any, postgres_url: str, redline_home: Path, tmp_path: Path, capsys: Any,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A laptop's SQLite engagement moves to the team's server: same chain, same bundle, file for file."""
    from app.store.engine import dispose_all

    eid = make_engagement(demo.base_url, scenarios=("pi-direct-override", "sysprompt-summary-request"))
    make_engagement(demo.base_url, name="other", scenarios=("pi-direct-override",))
    assert main(["run", "acme"]) == 1
    assert main(["findings", "acme", "confirm", "1", "--reason", "reproduced"]) == 0
    demo.hardened = True
    assert main(["retest", "acme", "--no-probe"]) == 0
    original = tmp_path / "original.zip"
    assert main(["export", "acme", "--out", str(original)]) == 0

    sqlite_url = f"sqlite:///{redline_home / 'redline.db'}"
    capsys.readouterr()
    assert main(["migrate", "--from", sqlite_url, "--to", postgres_url, "--engagement", "acme"]) == 0
    said = capsys.readouterr().out
    assert "acme: chain verified" in said and "test-only-db-secret" not in said and "redline:***@" in said
    assert main(["migrate", "--from", sqlite_url, "--to", postgres_url, "--engagement", "acme"]) == 2
    assert "already holds engagement 'acme'" in capsys.readouterr().err  # nothing copied twice

    monkeypatch.setenv("REDLINE_DATABASE_URL", postgres_url)
    dispose_all()
    with session() as db:
        from app.engagements import find_engagement

        assert find_engagement(db, "acme").id == eid
        assert audit.verify_chain(db, eid) == []
    moved = tmp_path / "moved.zip"
    assert main(["export", "acme", "--out", str(moved)]) == 0
    assert main(["verify", str(moved)]) == 0
    with zipfile.ZipFile(original) as a, zipfile.ZipFile(moved) as b:
        assert sorted(a.namelist()) == sorted(b.namelist())
        differ = [name for name in a.namelist() if a.read(name) != b.read(name)]
    # Only the export's own metadata may differ: when it was made (the same second gives the same bytes).
    assert set(differ) <= {"manifest.json"}, differ
    with zipfile.ZipFile(original) as a, zipfile.ZipFile(moved) as b:
        first, second = json.loads(a.read("manifest.json")), json.loads(b.read("manifest.json"))
    assert {k for k in first if first[k] != second[k]} <= {"exported_at"}
    # The server keeps handing out fresh ids after the copied ones.
    assert main(["run", "acme"]) == 0
    # And back again, server to a file: the copy verifies there too.
    back = tmp_path / "back" / "redline.db"
    assert main(["migrate", "--from", postgres_url, "--to", f"sqlite:///{back}"]) == 0
    with session(back) as db:
        assert audit.verify_chain(db, eid) == [] and audit.head(db, eid) is not None


def test_without_server_binaries_the_postgresql_half_skips_saying_why_and_fails_under_ci(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import tests.servers.postgres as pg

    monkeypatch.setattr(pg.shutil, "which", lambda _name: None)
    monkeypatch.setattr(pg.glob, "glob", lambda _pattern: [])
    monkeypatch.setenv("REDLINE_PG_BIN", "/nonexistent")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="install the `postgresql` package"):
        next(pg.start_server())
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI runs both backends: no PostgreSQL server binaries"):
        next(pg.start_server())


@pytest.mark.postgresql
def test_two_processes_opening_a_fresh_server_store_create_its_schema_once(postgres_url: str,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The schema steps run under an advisory lock: the second process finds the work done, not half of it."""
    from sqlalchemy import text

    from app.store import get_engine
    from app.store.schema import CURRENT_VERSION

    opener = "from app.store import get_engine; get_engine()"
    env = {**os.environ, "REDLINE_DATABASE_URL": postgres_url}
    both = [subprocess.Popen([sys.executable, "-c", opener], cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    errors = [p.communicate(timeout=300)[1] for p in both]
    assert [p.returncode for p in both] == [0, 0], errors
    monkeypatch.setenv("REDLINE_DATABASE_URL", postgres_url)
    with get_engine().connect() as conn:
        assert conn.execute(text("SELECT version FROM redline_schema")).scalars().all() == [CURRENT_VERSION]
