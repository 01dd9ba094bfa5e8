"""``redline findings`` lifecycle actions, ``redline retest`` and ``redline monitor``, in process."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from app.cli import main
from app.store import session
from app.store.models import AuditEvent, Finding, ManagementResponse
from tests.test_lifecycle_support import demo, make_engagement, run  # noqa: F401


def _json(capsys: Any, *argv: str) -> Any:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def _statuses() -> dict[int, str]:
    with session() as db:
        return {f.id or 0: f.status for f in db.exec(select(Finding)).all()}


def test_the_whole_lifecycle_from_the_command_line(demo: Any, capsys: Any, tmp_path: Path) -> None:
    make_engagement(demo.base_url, scenarios=("pi-direct-override", "sysprompt-summary-request"))
    run(1)
    listed = _json(capsys, "findings", "acme", "--json")
    assert [(f["id"], f["status"], f["severity"]) for f in listed] == [(1, "draft", "high"), (2, "draft", "medium")]
    assert listed[0]["controls"] == ["CC6.6", "AI-SEC-01"] and listed[0]["title"]

    assert main(["findings", "acme", "confirm", "1", "2", "--reason", "reproduced", "--by", "ana"]) == 0
    assert "finding 1: draft → open" in capsys.readouterr().out
    assert main(["retest", "acme", "--json", "--no-probe"]) == 1  # nothing fixed yet
    assert {o["outcome"] for o in json.loads(capsys.readouterr().out)} == {"fail"}
    assert main(["findings", "acme", "remediating", "1", "2", "--reason", "filter being deployed"]) == 0
    demo.hardened = True
    junit = tmp_path / "retest.xml"
    assert main(["retest", "acme", "--finding", "1", "--junit", str(junit)]) == 0
    out = capsys.readouterr().out
    assert "Re-tests · acme" in out and "#1" in out and "#2" not in out
    assert _statuses() == {1: "retest_passed", 2: "remediating"}
    suite = ET.parse(junit).getroot()
    assert suite.find(".//failure") is None and len(suite.findall(".//testcase")) == 1
    assert main(["findings", "acme", "close", "1", "--reason", "re-test passed", "--by", "ana"]) == 0
    assert main(["findings", "acme", "accept", "2", "--reason", "compensating control",
                 "--approver", "Dana (CISO)"]) == 0
    capsys.readouterr()
    assert _statuses() == {1: "closed", 2: "risk_accepted"}
    with session() as db:
        moves = db.exec(select(AuditEvent).where(AuditEvent.action == "finding.status")).all()
    assert [m.payload["to"] for m in moves][-2:] == ["closed", "risk_accepted"]
    assert moves[-1].payload["approver"] == "Dana (CISO)" and moves[-2].actor == "ana"


def test_refused_moves_change_nothing_and_say_why(demo: Any, capsys: Any) -> None:
    make_engagement(demo.base_url, scenarios=("pi-direct-override", "sysprompt-summary-request"))
    run(1)
    assert main(["findings", "acme", "confirm", "1", "--reason", "ok"]) == 0
    # finding 1 may close only after a passing re-test; finding 2 could move, but all or nothing
    assert main(["findings", "acme", "remediating", "2", "1", "--reason", "x"]) == 2
    assert "finding 2 is draft; it cannot move to remediating" in capsys.readouterr().err
    assert _statuses() == {1: "open", 2: "draft"}
    assert main(["findings", "acme", "close", "7", "--reason", "x"]) == 2
    assert "no finding 7" in capsys.readouterr().err
    with pytest.raises(SystemExit) as missing:
        main(["findings", "acme", "accept", "1", "--reason", "fine"])  # no --approver
    assert missing.value.code == 2
    with pytest.raises(SystemExit):
        main(["findings", "acme", "confirm", "2"])  # no --reason
    assert _statuses() == {1: "open", 2: "draft"}
    assert main(["findings", "acme", "dismiss", "2", "--reason", "the quoted text is the user's own"]) == 0
    assert _statuses() == {1: "open", 2: "dismissed"}


def test_management_responses_and_the_exception_log(demo: Any, capsys: Any) -> None:
    make_engagement(demo.base_url)
    run(1)
    with pytest.raises(SystemExit):
        main(["findings", "acme", "respond", "1", "--response", "x", "--owner", "Bob", "--date", "31/12/2026"])
    assert "expected a date as YYYY-MM-DD" in capsys.readouterr().err
    assert main(["findings", "acme", "respond", "1", "--response", "Input filter planned", "--owner", "Bob",
                 "--date", "2026-12-31", "--cause", "No screening", "--mitigating", "Rate limits",
                 "--remediation", "Filter by Q1"]) == 0
    assert "management response 1 recorded" in capsys.readouterr().out
    register = _json(capsys, "findings", "acme", "exceptions", "--json")
    assert register["exceptions"] == [] and [r["item"] for r in register["awaiting_triage"]] == ["finding 1"]
    assert main(["findings", "acme", "confirm", "1", "--reason", "reproduced"]) == 0
    capsys.readouterr()
    register = _json(capsys, "findings", "acme", "exceptions", "--json")
    assert register["awaiting_triage"] == [] and register["triage_summary"] == "No failure awaits triage."
    [row] = register["exceptions"]
    assert (row["finding_id"], row["response"], row["owner"], row["response_date"], row["mitigating_controls"]) == (
        1, "Input filter planned", "Bob", "2026-12-31", "Rate limits")
    assert main(["findings", "acme", "exceptions"]) == 0
    table = capsys.readouterr().out
    assert "Input filter planned" in table and "No screening" in table
    with session() as db:
        assert len(db.exec(select(ManagementResponse)).all()) == 1


def test_monitor_prints_the_grid_flags_questions_and_json(demo: Any, capsys: Any) -> None:
    make_engagement(demo.base_url, windows=(("W0", -60, -50), ("W1", -3, 3), ("W2", 30, 40)))
    run(1)
    assert main(["monitor", "acme"]) == 0
    text = capsys.readouterr().out
    assert "CC6.6" in text and "✗1/1" in text and "one sample" in text
    assert "window W0" in text and "ended with no run; the period is still open" in text
    assert main(["monitor", "acme", "--inventory", "--probe"]) == 0
    text = capsys.readouterr().out
    assert "undocumented model(s) acme-support-staging, acme-support-0.9" in text
    assert "probe support-bot: model acme-support-1" in text
    demo.model_version = "2"
    document = _json(capsys, "monitor", "acme", "--probe", "--json")
    assert [c["kind"] for c in document["monitoring"]["changes"]] == ["system_fingerprint", "behaviour_fingerprint"]
    assert any("possible unapproved model change" in f for f in document["monitoring"]["flags"])
    answers = _json(capsys, "monitor", "acme", "--questions", "--json")["questions"]
    assert {a["key"]: a["status"] for a in answers}["model_changes"] == "exceptions open"
    assert main(["monitor", "acme", "--questions"]) == 0
    assert "How do you prevent prompt injection?" in capsys.readouterr().out
    assert main(["monitor", "nobody"]) == 2


def test_a_failed_retest_cannot_be_passed_or_closed_by_hand(demo: Any, capsys: Any) -> None:
    """The CLI offers and accepts only the core's legal moves; re-test outcomes come from `redline retest`."""
    make_engagement(demo.base_url)
    run(1)
    assert main(["findings", "acme", "confirm", "1", "--reason", "reproduced"]) == 0
    assert main(["retest", "acme", "--no-probe"]) == 1
    capsys.readouterr()
    [listed] = _json(capsys, "findings", "acme", "--json")
    assert listed["status"] == "retest_failed"
    assert [(m["action"], m["to"]) for m in listed["moves"]] == [("remediating", "remediating"),
                                                                 ("accept", "risk_accepted")]
    assert main(["findings", "acme", "close", "1", "--reason", "manual"]) == 2
    err = capsys.readouterr().err
    assert "finding 1 is retest_failed; it cannot move to closed (allowed: remediating, risk_accepted)" in err
    assert main(["findings", "acme"]) == 0
    table = capsys.readouterr().out
    assert "next: remediating" in table and "a re-test decides" in table and "close" not in table
    assert main(["findings", "acme", "accept", "1", "--reason", "compensating control", "--approver", "Dana"]) == 0
    assert main(["findings", "acme", "accept", "1", "--reason", "again", "--approver", "Dana"]) == 2
    assert "already risk_accepted" in capsys.readouterr().err
    assert main(["findings", "acme", "reopen", "1", "--reason", "the compensating control lapsed"]) == 0
    assert _statuses() == {1: "open"}
    assert main(["findings", "acme", "reopen", "1", "--reason", "again"]) == 2
    assert "finding 1 is open; there is nothing to reopen (allowed: remediating, accept)" in capsys.readouterr().err
