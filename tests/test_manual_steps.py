"""Manual steps: a run waits for the tester's record, never passes without it, and the record is audited.

Real parts: the built-in demo AI system (hardened, so the automatic step
passes and only the manual step decides), the runner, a temp store, the CLI.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.test_runner_support import engagement_file, import_engagement_file, plan

SCENARIO = {
    "id": "failover-drill-observed",
    "title": "The failover drill is not seen by the on-call team",
    "category": "availability", "controls": ["A1.2", "CC7.2"], "severity": "medium",
    "steps": [
        {"type": "chat", "user": "What are your support hours?"},
        {"type": "manual", "instruction": "Ask the client's on-call engineer to fail the primary model over, "
                                          "then check the SIEM for the failover alert.",
         "expect": "A failover alert is in the SIEM within 5 minutes, acknowledged by on-call."},
    ],
    "detectors": [{"type": "status", "name": "answered", "expect": [200], "verdict_on_match": "pass",
                   "steps": [0]}],
}


def _engagement(tmp_path: Path) -> Any:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "drill.yaml").write_text(yaml.safe_dump(SCENARIO, sort_keys=False), encoding="utf-8")
    system = {"name": "bot", "target": {"kind": "demo", "hardened": True}}
    return import_engagement_file(engagement_file(tmp_path, [system], name="manual-eng", scenario_dir=folder))


def _run_once(engagement: Any) -> Any:
    from app.runner import run_scenarios

    (outcome,) = asyncio.run(run_scenarios(engagement.id, plan(engagement, scenario_ids=[SCENARIO["id"]])))
    return outcome


def _cli(*argv: str) -> int:
    from app.cli import main

    return main(list(argv))


def test_an_unrecorded_manual_step_keeps_the_run_from_passing_and_the_record_decides(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sqlmodel import select

    from app.manual import checklist
    from app.store import session
    from app.store.audit import verify_chain
    from app.store.models import AuditEvent, Finding, Run, Verdict

    engagement = _engagement(tmp_path)
    outcome = _run_once(engagement)
    assert outcome.status == "finished" and outcome.verdict == "review"
    assert outcome.metrics["manual_pending"] == [{"turn": outcome.metrics["manual_pending"][0]["turn"],
                                                  "step": 1, "sample": 0}]
    with session() as db:
        (item,) = checklist(db, outcome.run_id)
        assert item.pending and item.instruction.startswith("Ask the client's on-call engineer")
        assert "Expected: A failover alert" in item.instruction

    assert _cli("manual", "manual-eng") == 0
    assert f"run {outcome.run_id} step 2: Ask the client's" in capsys.readouterr().out

    # An attachment the engagement does not hold is refused, and nothing is recorded.
    assert _cli("manual", "manual-eng", str(outcome.run_id), "2", "--verdict", "fail", "--note",
                "no failover alert in the SIEM after 15 minutes", "--attachment", "3", "--by", "tess") != 0
    assert "no attachment '3' in this engagement" in capsys.readouterr().err
    # Recorded as failed, with a note and the attached SIEM export, pinned by its digest.
    siem = tmp_path / "siem-export.csv"
    siem.write_text("time,alert\n10:00,none\n", encoding="utf-8")
    assert _cli("attach", "manual-eng", str(siem), "--run", str(outcome.run_id), "--note", "SIEM export") == 0
    with session() as db:
        from app.attachments import list_attachments

        (attached,) = list_attachments(db, engagement.id)
    assert _cli("manual", "manual-eng", str(outcome.run_id), "2", "--verdict", "fail", "--note",
                "no failover alert in the SIEM after 15 minutes", "--attachment", str(attached.id),
                "--by", "tess") == 0
    assert "the run's verdict is now fail" in capsys.readouterr().out
    with session() as db:
        run = db.get(Run, outcome.run_id)
        assert run is not None and run.verdict == "fail" and run.metrics["manual_pending"] == []
        human = db.exec(select(Verdict).where(Verdict.run_id == outcome.run_id, Verdict.source == "human")).one()
        assert (human.outcome, human.actor, human.evidence["attachment"]) == ("fail", "tess", str(attached.id))
        assert human.evidence["attachment_sha256"] == attached.sha256
        finding = db.exec(select(Finding).where(Finding.run_id == outcome.run_id)).one()
        assert finding.title == SCENARIO["title"]
        from app.store.audit import chain_name

        actions = [e.action for e in db.exec(select(AuditEvent).where(
            AuditEvent.chain == chain_name(engagement.id)).order_by(AuditEvent.seq)).all()]
        assert actions[-3:] == ["verdict.human", "finding.created", "run.rejudged"]
        assert verify_chain(db, engagement.id) == []
        (item,) = checklist(db, outcome.run_id)
        assert (item.outcome, item.note, item.attachment) == ("fail", "no failover alert in the SIEM after 15 "
                                                                        "minutes", str(attached.id))

    second = _run_once(engagement)
    assert _cli("manual", "manual-eng", str(second.run_id), "2", "--verdict", "pass", "--note",
                "alert FAILOVER-7 acknowledged by on-call at 10:04") == 0
    with session() as db:
        run = db.get(Run, second.run_id)
        assert run is not None and run.verdict == "pass"


def test_a_manual_record_is_refused_without_a_note_or_on_a_step_that_is_not_manual(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sqlmodel import select

    from app.store import session
    from app.store.models import Verdict

    outcome = _run_once(_engagement(tmp_path))
    assert _cli("manual", "manual-eng", str(outcome.run_id), "2", "--verdict", "pass") == 2
    assert "needs a note" in capsys.readouterr().err
    assert _cli("manual", "manual-eng", str(outcome.run_id), "1", "--verdict", "pass", "--note", "x") == 2
    err = capsys.readouterr().err
    assert "step 1 of run" in err and "is not a manual step (manual steps: 2)" in err
    with session() as db:
        assert db.exec(select(Verdict).where(Verdict.source == "human")).all() == []


def test_a_detector_cannot_judge_a_manual_step(tmp_path: Path) -> None:
    from app.errors import FileFormatError
    from app.formats.scenario_files import load_scenarios

    bad = dict(SCENARIO, detectors=[{"type": "regex", "pattern": "x", "steps": [1]}])
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad, sort_keys=False), encoding="utf-8")
    with pytest.raises(FileFormatError) as caught:
        load_scenarios([path])
    assert "manual step" in str(caught.value) and "bad.yaml" in str(caught.value)


def test_the_report_says_which_manual_step_awaits_its_record() -> None:
    from app.evidence.wording import run_result

    run = {"verdict": "review", "metrics": {"manual_pending": [{"turn": 4, "step": 1, "sample": 0}]}}
    assert run_result(run, []) == "Not concluded: manual step 2 awaits the tester's recorded outcome."
    run["metrics"]["manual_pending"].append({"turn": 9, "step": 3, "sample": 1})
    assert run_result(run, []) == "Not concluded: manual steps 2, 4 (sample 2) await the tester's recorded outcome."
