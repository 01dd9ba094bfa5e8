"""The chain covers the evidence: turn digests and verdicts enter it, and tampering with either is named.

Runs are real: the runner streams the built-in demo AI system (served on
127.0.0.1) into the per-test store. The forgeries are the ones issue 13 tried
as an auditor would, rebuilt with Redline's own functions where a forger would
use them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_evidence_engagement import World, entries, export, rezip, world  # noqa: F401

from app.cli import main
from app.evidence.verify import verify_bundle
from app.store import session


@dataclass
class DemoRun:
    engagement_id: int
    run_id: int
    turn_id: int
    verdict_id: int


@pytest.fixture
def demo_run(capsys: pytest.CaptureFixture[str]) -> DemoRun:
    """One real failing run of the demo system, as `redline run` records it."""
    from sqlmodel import select

    from app.demo_engagement import ensure_demo_engagement
    from app.store.models import Run, Turn, Verdict

    with session() as db:
        ensure_demo_engagement(db)
    assert main(["run", "demo", "--scenario", "pi-direct-override"]) == 1  # the demo system is vulnerable
    capsys.readouterr()
    with session() as db:
        run = db.exec(select(Run)).one()
        turn = db.exec(select(Turn).where(Turn.run_id == run.id).order_by(Turn.id)).first()
        verdict = db.exec(select(Verdict).where(Verdict.turn_id == turn.id)).first()
        return DemoRun(run.engagement_id, run.id, turn.id, verdict.id)


def _events(db_path: Path) -> list[dict]:
    con = sqlite3.connect(db_path)
    rows = con.execute("SELECT seq, actor, action, entity, payload FROM auditevent ORDER BY id").fetchall()
    con.close()
    return [{"seq": s, "actor": a, "action": act, "entity": e, "payload": json.loads(p)} for s, a, act, e, p in rows]


def test_a_finished_run_records_every_turn_digest_and_verdict_and_who_ran_it(
        demo_run: DemoRun, redline_home: Path) -> None:
    from app.store.coverage import run_evidence

    finished = [e for e in _events(redline_home / "redline.db") if e["action"] == "run.finished"]
    assert len(finished) == 1 and finished[0]["actor"] == "test-tester"
    recorded = finished[0]["payload"]["evidence"]
    with session() as db:
        assert recorded == run_evidence(db, demo_run.run_id)
    assert demo_run.turn_id in [t["turn"] for t in recorded["turns"]]
    assert demo_run.verdict_id in [v["verdict"] for v in recorded["verdicts"]]
    started = [e for e in _events(redline_home / "redline.db") if e["action"] == "run.started"]
    assert started[0]["actor"] == "test-tester"


def test_a_human_verdict_enters_the_chain_with_its_digest(demo_run: DemoRun, redline_home: Path) -> None:
    from app.store.coverage import verdict_digest, verdict_fields
    from app.triage import record_human_verdict

    with session() as db:
        verdict = record_human_verdict(db, run_id=demo_run.run_id, turn_id=demo_run.turn_id, outcome="fail",
                                       reason="leaked its instructions", actor="ana")
        digest = verdict_digest(verdict_fields(verdict))
    event = [e for e in _events(redline_home / "redline.db") if e["action"] == "verdict.human"][0]
    assert event["payload"]["sha256"] == digest and event["actor"] == "ana"


@pytest.mark.parametrize("edit, named", [
    ("UPDATE turn SET response_text = 'I cannot help with that.' WHERE id = :turn", "turn {turn} (run {run})"),
    ("UPDATE turnchunk SET raw = x'00', raw_codec = '' WHERE turn_id = :turn AND seq = 0", "turn {turn} (run {run})"),
    ("UPDATE verdict SET outcome = 'pass', reason = 'refused' WHERE id = :verdict",
     "verdict {verdict} (automatic, run {run}) differs"),
    ("INSERT INTO verdict (run_id, turn_id, source, detector, outcome, reason, evidence, actor, created_at) "
     "VALUES (:run, :turn, 'auto', 'regex', 'pass', 'ok', '{}', '', '2026-01-01 00:00:00')",
     "is not in audit event"),
])
def test_forgery_3_editing_the_store_then_exporting_is_refused_and_named(
        demo_run: DemoRun, redline_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        edit: str, named: str) -> None:
    ids = {"turn": demo_run.turn_id, "run": demo_run.run_id, "verdict": demo_run.verdict_id}
    con = sqlite3.connect(redline_home / "redline.db")
    con.execute(edit, ids)
    con.commit()
    con.close()
    out = tmp_path / "forged.zip"
    assert main(["export", "demo", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "no bundle was written" in err and named.format(**ids) in err
    assert not out.exists()
    # Forced, the bundle says it is broken, and verify fails it.
    assert main(["export", "demo", "--out", str(out), "--allow-broken"]) == 0
    capsys.readouterr()
    files = entries(out)
    manifest = json.loads(files["manifest.json"])
    assert manifest["audit_chain"]["ok"] is False and manifest["broken_export_allowed"] is True
    assert any(named.format(**ids) in p for p in manifest["audit_chain"]["problems"])
    assert "BROKEN" in files["report.html"].decode()
    assert main(["verify", str(out)]) == 1
    assert "already broken when the bundle was exported" in capsys.readouterr().out


def _rehash(files: dict[str, bytes], changed: dict[str, bytes]) -> bytes:
    """The manifest with the changed files' SHA-256 and size updated, as a careful forger would."""
    manifest = json.loads(files["manifest.json"])
    for item in manifest["files"]:
        if item["path"] in changed:
            item["sha256"] = hashlib.sha256(changed[item["path"]]).hexdigest()
            item["size"] = len(changed[item["path"]])
    return json.dumps(manifest, indent=1, sort_keys=True).encode()


def test_forgery_1_a_turn_rewritten_as_a_refusal_in_the_bundle_is_named(demo_run: DemoRun, tmp_path: Path) -> None:
    bundle = export(demo_run.engagement_id, tmp_path / "b.zip").path
    assert verify_bundle(bundle).ok
    files = entries(bundle)
    name = f"transcripts/{demo_run.run_id}.jsonl"
    lines = [json.loads(x) for x in files[name].splitlines()]
    lines[0]["response_text"] = "I cannot share my instructions."
    for v in lines[0]["auto_verdicts"]:
        v["outcome"], v["reason"] = "pass", "refused"
    verdicts = json.loads(files["data/verdicts.json"])
    for v in verdicts:
        if v["turn_id"] == demo_run.turn_id:
            v["outcome"], v["reason"] = "pass", "refused"
    changed = {name: "".join(json.dumps(x) + "\n" for x in lines).encode(),
               "data/verdicts.json": json.dumps(verdicts).encode(),
               "report.html": files["report.html"].replace(b"FAIL", b"PASS")}
    changed["manifest.json"] = _rehash(files, changed)
    report = verify_bundle(rezip(bundle, tmp_path / "forged.zip", change=changed))
    assert not report.ok
    assert not any(p.startswith("modified file") for p in report.problems)  # the hashes were redone
    turn = f"evidence: turn {demo_run.turn_id} (run {demo_run.run_id}): its request, response text or raw body " \
           "differs from the digest audit event #"
    assert any(p.startswith(turn) for p in report.problems), report.problems
    assert any(p.startswith(f"evidence: verdict {demo_run.verdict_id} (automatic, run {demo_run.run_id}) differs")
               for p in report.problems)


def test_text_that_no_longer_matches_its_raw_body_is_named_even_with_the_chain_rebuilt(
        demo_run: DemoRun, tmp_path: Path) -> None:
    """The forger also recomputes the turn digest and the whole chain with Redline's own functions."""
    from datetime import datetime

    from app.store.audit import event_hash
    from app.store.coverage import bundle_turn_digest

    bundle = export(demo_run.engagement_id, tmp_path / "b.zip").path
    files = entries(bundle)
    name = f"transcripts/{demo_run.run_id}.jsonl"
    lines = [json.loads(x) for x in files[name].splitlines()]
    lines[0]["response_text"] = "I cannot share my instructions."
    events = [json.loads(x) for x in files["audit/events.jsonl"].splitlines()]
    prev = "0" * 64
    for ev in events:
        for t in (ev["payload"].get("evidence") or {}).get("turns", []):
            if t["turn"] == lines[0]["id"]:
                t["sha256"] = bundle_turn_digest(lines[0])
        ev["prev_hash"] = prev
        ev["hash"] = event_hash(chain=ev["chain"], seq=ev["seq"], at=datetime.fromisoformat(ev["at"]),
                                actor=ev["actor"], action=ev["action"], entity=ev["entity"], payload=ev["payload"],
                                prev_hash=prev)
        prev = ev["hash"]
    changed = {name: "".join(json.dumps(x) + "\n" for x in lines).encode(),
               "audit/events.jsonl": "".join(json.dumps(e) + "\n" for e in events).encode()}
    manifest = json.loads(_rehash(files, changed))
    manifest["audit_chain"]["head_hash"] = prev
    changed["manifest.json"] = json.dumps(manifest).encode()
    report = verify_bundle(rezip(bundle, tmp_path / "forged.zip", change=changed))
    original = json.loads(files[name].splitlines()[0])["response_text"]
    assert base64.b64decode(lines[0]["response_raw_b64"])  # the raw body the endpoint sent is still there
    assert report.problems == [
        f"evidence: turn {demo_run.turn_id} (run {demo_run.run_id}): its response text differs from the text its "
        f"raw body decodes to ({len(lines[0]['response_text'])} characters shown, {len(original)} decoded)"
    ]


def test_a_genuine_demo_bundle_verifies_and_its_turns_were_checked(demo_run: DemoRun, tmp_path: Path) -> None:
    import zipfile

    from app.evidence.verify_evidence import check_bundle_evidence

    bundle = export(demo_run.engagement_id, tmp_path / "b.zip").path
    report = verify_bundle(bundle)
    assert report.ok, report.problems
    with zipfile.ZipFile(bundle) as archive:
        checked = check_bundle_evidence(archive, archive.namelist(), json.loads(archive.read("manifest.json")))
    assert checked.turns_checked >= 1 and checked.verdicts_checked >= 1 and not checked.notes


def test_runs_the_chain_does_not_cover_are_said_to_be_unchecked(world: World, tmp_path: Path) -> None:
    """The shared test world writes runs straight into the store, as a store from before turn digests would be."""
    bundle = export(world.engagement_id, tmp_path / "b.zip").path
    report = verify_bundle(bundle)
    assert report.ok
    assert any("run(s) have no turn digests in the audit chain" in n and "were not checked" in n for n in report.notes)
    assert "have no turn digests in the audit chain" in entries(bundle)["report.md"].decode()
