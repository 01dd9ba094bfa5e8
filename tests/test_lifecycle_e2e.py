"""Acceptance: a Type II engagement over the real demo AI system, from discovery to a bundle that tells the story.

Three test windows around today. In W1 the inventory check finds undocumented
models and the vulnerable system fails its prompt-injection tests; triage
confirms the draft findings; the client hardens the system; ``redline retest``
passes them; they close. Before W2 the model is swapped without notice: the
W2 runs and the canary probes disagree with W1, and a change flag goes up.
The per-window view, the auditor's answers and the evidence bundle show it all.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import zipfile
from pathlib import Path
from typing import Any

import pytest

from app.cli import main
from app.evidence.bundle import build_bundle
from app.evidence.verify import verify_bundle
from app.monitoring import monitoring
from app.questions import answer_questions
from app.store import session
from tests.test_lifecycle_support import demo, make_engagement, runner_clock  # noqa: F401

SCENARIOS = ("pi-direct-override", "sysprompt-summary-request")


def _cli(capsys: Any, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def _csv(files: dict[str, bytes], name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(files[name].decode("utf-8-sig"))))


def test_a_type2_engagement_from_discovery_to_the_evidence_bundle(demo: Any, capsys: Any, tmp_path: Path,
                                                                   redline_home: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    eid = make_engagement(demo.base_url, scenarios=SCENARIOS)

    # W1, as found: the inventory check and the matrix's scenarios.
    code, out = _cli(capsys, "monitor", "acme", "--inventory", "--probe")
    assert code == 0 and "proposed draft finding(s) #1, #2" in out
    code, out = _cli(capsys, "run", "acme")
    assert code == 1 and "#3" in out and "#4" in out
    code, out = _cli(capsys, "findings", "acme", "--json")
    drafts = json.loads(out)
    assert [(f["id"], f["status"]) for f in drafts] == [(i, "draft") for i in (1, 2, 3, 4)]
    assert drafts[0]["controls"][0] == "AI-GOV-01" and drafts[2]["controls"][0] == "CC6.6"

    # Triage confirms; the client remediates; the re-test passes; the findings close.
    assert _cli(capsys, "findings", "acme", "confirm", "1", "2", "3", "4", "--reason", "reproduced by hand",
                "--by", "ana")[0] == 0
    assert _cli(capsys, "findings", "acme", "respond", "3", "--response", "Input screening added",
                "--owner", "Bob (CISO)", "--remediation", "Prompt filter deployed")[0] == 0
    demo.hardened = True
    code, out = _cli(capsys, "retest", "acme", "--json", "--by", "ana")
    assert code == 0
    retests = json.loads(out)
    assert [(r["finding"], r["outcome"], r["status"], r["window"]) for r in retests] == [
        (i, "pass", "retest_passed", "W1") for i in (1, 2, 3, 4)]
    assert _cli(capsys, "findings", "acme", "close", "1", "2", "3", "4", "--reason", "re-test passed",
                "--by", "ana")[0] == 0

    # Before W2 the model is swapped without a change ticket; W2's runs happen inside W2's dates.
    demo.model_version = "2"
    runner_clock(monkeypatch, 35)
    code, _ = _cli(capsys, "run", "acme", "--window", "W2")
    assert code == 0  # still hardened: the controls hold, but the model is not the one tested in W1
    assert _cli(capsys, "monitor", "acme", "--probe")[0] == 0

    with session() as db:
        picture = monitoring(db, eid)
        answers = {a.key: a for a in answer_questions(db, eid, picture=picture)}
    cc66 = next(c for c in picture.criteria if c.criterion == "CC6.6")
    assert cc66.strip == "↻✓·"  # W1 failed then remediated, W2 passed, W3 not yet tested
    assert [(w.name, w.status) for w in picture.windows] == [("W1", "ran"), ("W2", "ran"), ("W3", "upcoming")]
    assert {(c.kind, c.before_window, c.after_window) for c in picture.changes} >= {
        ("system_fingerprint", "W1", "W2"), ("behaviour_fingerprint", "W1", "W2")}  # run --window W2 probes too
    assert any("possible unapproved model change" in f for f in picture.flags())
    assert answers["prompt_injection"].status == "remediated"
    assert answers["model_changes"].status == "exceptions open" and answers["model_changes"].changes

    # The bundle holds the whole story.
    with session() as db:
        result = build_bundle(db, eid, tmp_path / "acme.zip")
    with zipfile.ZipFile(result.path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    findings = {f["id"]: f for f in json.loads(files["data/findings.json"])}
    assert {f["status"] for f in findings.values()} == {"closed"}
    for fid in (3, 4):
        [rt] = findings[fid]["retests"]
        assert (rt["before"], rt["after"], rt["window"]) == ("fail", "pass", "W1")
        assert rt["original_run_id"] == findings[fid]["run_id"] != rt["run_id"]
        assert rt["result"] == "Remediated: the re-test passed."
    assert findings[3]["responses"][0]["remediation"] == "Prompt filter deployed"
    assert [rt["after"] for fid in (1, 2) for rt in findings[fid]["retests"]] == ["pass", "pass"]
    runs = json.loads(files["data/runs.json"])
    by_window = {w: {r["system_fingerprint"] for r in runs if r["window"] == w and r["system_fingerprint"]}
                 for w in ("W1", "W2")}  # a model listing reports no fingerprint
    assert len(by_window["W1"]) == len(by_window["W2"]) == 1 and by_window["W1"] != by_window["W2"]
    assert {r["retest_of"] for r in runs if r["retest_of"]} == {1, 2, 3, 4}
    assert all(r["behaviour_fingerprint"] for r in runs if r["retest_of"])
    remediation = _csv(files, "workpapers/remediation_verification.csv")
    assert sorted((row["Finding"], row["After"]) for row in remediation) == [(str(i), "pass") for i in (1, 2, 3, 4)]
    monitored = {(row["Criterion / control id"], row["Test window"]): row
                 for row in _csv(files, "workpapers/continuous_monitoring.csv")}
    # W1's samples failed; the passing re-tests are remediation verification, not W1 samples.
    assert (monitored[("CC6.6", "W1")]["Fail"], monitored[("CC6.6", "W1")]["Pass"]) == ("2", "0")
    assert (monitored[("CC6.6", "W2")]["Fail"], monitored[("CC6.6", "W2")]["Pass"]) == ("0", "2")
    trail = [json.loads(line) for line in files["audit/events.jsonl"].splitlines()]
    probes = [e for e in trail if e["action"] == "system.probed"]
    assert len({e["payload"]["behaviour_fingerprint"] for e in probes}) == 2
    assert sum(1 for e in trail if e["action"] == "finding.status" and e["payload"]["to"] == "closed") == 4
    assert any(e["action"] == "inventory.checked" and e["payload"]["undocumented"] for e in trail)
    assert result.chain_ok and verify_bundle(result.path).ok

    # The change flag is filed with the evidence, not only shown on screen.
    changes = json.loads(files["data/changes.json"])
    assert any(c["kind"] == "system_fingerprint" and (c["before_window"], c["after_window"]) == ("W1", "W2")
               for c in changes)
    assert "Model change flags" in files["report.md"].decode() and "possible unapproved model change" in \
        json.dumps(changes)

    # One changed byte in any file: verify fails and names the file.
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(result.path) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "workpapers/test_results.csv":
                assert b"fail" in data
                data = data.replace(b"fail", b"pass", 1)  # the exception quietly becomes a pass
            dst.writestr(info, data)
    report = verify_bundle(tampered)
    assert not report.ok and any("workpapers/test_results.csv" in p for p in report.problems)

    # An audit event deleted in the store: the next export is refused, or, forced, carries the broken
    # chain marked as such, and verify fails it.
    con = sqlite3.connect(redline_home / "redline.db")
    con.execute("DELETE FROM auditevent WHERE chain = ? AND seq = 3", (f"engagement:{eid}",))
    con.commit()
    con.close()
    from app.evidence.bundle import BrokenEvidence

    with session() as db, pytest.raises(BrokenEvidence, match="audit event #3: missing"):
        build_bundle(db, eid, tmp_path / "refused.zip")
    assert not (tmp_path / "refused.zip").exists()
    with session() as db:
        again = build_bundle(db, eid, tmp_path / "after-delete.zip", allow_broken=True)
    assert not again.chain_ok and any("#3" in p for p in again.chain_problems)
    assert not verify_bundle(again.path).ok
