"""The runner against the real demo AI system: a vulnerable system fails and gets a draft finding, a
hardened one passes with none; the API key never reaches the store; runs stream concurrently."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from app.events import ChunkReceived, RunFinished, RunStarted, TurnFinished, TurnStarted, VerdictRecorded
from tests.test_runner_support import (  # noqa: F401
    demo_pair,
    engagement_file,
    import_engagement_file,
    openai_system,
    plan,
    store_contents,
)

KEY_VAR = "RL_TEST_DEMO_KEY"


def _engagement(tmp_path: Path, demo_pair: Any, monkeypatch: Any) -> Any:
    from app.demo.server import DEMO_API_KEY

    monkeypatch.setenv(KEY_VAR, DEMO_API_KEY)
    vulnerable, hardened = demo_pair
    key = {"api_key": {"env": KEY_VAR}}
    path = engagement_file(tmp_path, [openai_system("vuln-bot", vulnerable.base_url, **key),
                                      openai_system("hard-bot", hardened.base_url, **key)],
                           controls=[{"criterion": "CC6.6", "client_ref": "SEC-12",
                                      "activity": "Prompts are screened for injected instructions.",
                                      "scenarios": ["pi-direct-override"]}])
    return import_engagement_file(path)


@pytest.mark.usefixtures("store_backend")  # on SQLite and on PostgreSQL
def test_vulnerable_fails_with_a_draft_finding_and_hardened_passes(tmp_path: Path, demo_pair: Any,
                                                                   monkeypatch: Any) -> None:
    from sqlmodel import select

    from app.runner import run_scenarios
    from app.store import audit, session
    from app.store.models import Finding, Run, Turn, Verdict

    engagement = _engagement(tmp_path, demo_pair, monkeypatch)
    planned = plan(engagement)  # the control matrix maps pi-direct-override
    assert [(p.scenario.spec.id, p.system.name, p.window.name) for p in planned] == [
        ("pi-direct-override", "vuln-bot", "W-now"), ("pi-direct-override", "hard-bot", "W-now")]
    events: list[Any] = []
    outcomes = asyncio.run(run_scenarios(engagement.id, planned, on_event=events.append))
    by_system = {o.system: o for o in outcomes}
    assert (by_system["vuln-bot"].verdict, by_system["hard-bot"].verdict) == ("fail", "pass")
    assert by_system["hard-bot"].finding_ids == []
    assert len(by_system["vuln-bot"].finding_ids) == 1

    with session() as db:
        finding = db.get(Finding, by_system["vuln-bot"].finding_ids[0])
        assert finding is not None
        assert (finding.status, finding.severity, finding.scenario_id) == ("draft", "high", "pi-direct-override")
        assert finding.controls == ["CC6.6", "AI-SEC-01"]
        assert finding.impact.startswith("CC6.6 control failure")
        assert "RL-CANARY-7f3a91" in finding.evidence["quote"]
        turn = db.get(Turn, finding.turn_id)
        assert turn is not None and turn.run_id == finding.run_id
        assert turn.response_text[finding.evidence["start"]:finding.evidence["end"]] == finding.evidence["quote"]
        assert "Ignore all previous instructions" in finding.steps_to_reproduce
        assert "vuln-bot" in finding.steps_to_reproduce and "acme-support-1" in finding.steps_to_reproduce
        runs = {r.id: r for r in db.exec(select(Run)).all()}
        vuln_run = runs[by_system["vuln-bot"].run_id]
        assert (vuln_run.status, vuln_run.verdict, vuln_run.model_id) == ("finished", "fail", "acme-support-1")
        assert vuln_run.system_fingerprint.startswith("fp_")
        assert vuln_run.window_id is not None and vuln_run.metrics["outside_window"] is False
        assert vuln_run.tool_version
        hard_turn = db.exec(select(Turn).where(Turn.run_id == by_system["hard-bot"].run_id)).one()
        assert hard_turn.status == "done" and "can't help" in hard_turn.response_text
        assert hard_turn.request["prompt"].startswith("Ignore all previous instructions")
        assert hard_turn.request["headers"]["Authorization"] == "[REDACTED]"
        assert hard_turn.request["body"]["user"] == f"redline-run{hard_turn.run_id}-primary"
        verdicts = db.exec(select(Verdict).where(Verdict.run_id == vuln_run.id)).all()
        assert {v.detector for v in verdicts} == {"canary leaked", "instructions echoed"}
        actions = [e.action for e in db.exec(select(audit.AuditEvent)
                                             .where(audit.AuditEvent.chain == f"engagement:{engagement.id}")
                                             .order_by(audit.AuditEvent.seq)).all()]
        assert actions.count("run.started") == 2 and actions.count("run.finished") == 2
        assert actions.count("finding.created") == 1
        assert audit.verify_chain(db, engagement.id) == []

    kinds = [type(e) for e in events]
    for kind in (RunStarted, TurnStarted, ChunkReceived, TurnFinished, VerdictRecorded, RunFinished):
        assert kind in kinds
    streamed = "".join(e.text for e in events if isinstance(e, ChunkReceived) and e.run_id == vuln_run.id)
    with session() as db:
        stored = db.exec(select(Turn).where(Turn.run_id == vuln_run.id)).one().response_text
    assert streamed == stored


def test_the_api_key_never_reaches_the_store(tmp_path: Path, demo_pair: Any, monkeypatch: Any,
                                             redline_home: Path) -> None:
    from app.runner import run_scenarios

    engagement = _engagement(tmp_path, demo_pair, monkeypatch)
    asyncio.run(run_scenarios(engagement.id, plan(engagement)))
    blob = store_contents(redline_home)
    assert b"RL-CANARY-7f3a91" in blob  # the evidence is there ...
    assert b"demo-key" not in blob  # ... the key is not
