"""Re-tests over the real demo AI system: open findings are re-run, linked and moved; management responses."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlmodel import select

from app.errors import RedlineError, UsageError
from app.findings import FindingStateError, find, status_after_retest, transition
from app.retest import exception_log, exit_code, record_response, retest_findings
from app.store import audit, session
from app.store.models import Finding, ManagementResponse, Retest, Run
from tests.test_lifecycle_support import confirm_all, demo, events, make_engagement, run  # noqa: F401

SCENARIOS = ("pi-direct-override", "sysprompt-summary-request")


def test_retest_outcome_rule() -> None:
    assert status_after_retest("pass") == "retest_passed"
    assert status_after_retest("fail") == "retest_failed"
    assert status_after_retest("review") is None and status_after_retest("error") is None


def test_remediated_findings_pass_their_retest_and_every_link_is_recorded(demo: Any) -> None:
    eid = make_engagement(demo.base_url, scenarios=SCENARIOS)
    first = run(eid)
    assert [o.verdict for o in first] == ["fail", "fail"]
    assert retest_findings(eid) == []  # drafts are not open: nothing to re-test yet
    opened = confirm_all(eid)
    assert len(opened) == 2

    demo.hardened = True  # the client remediates the live system
    outcomes = retest_findings(eid, actor="ana")
    assert [(o.outcome, o.before, o.status, o.window) for o in outcomes] == [("pass", "open", "retest_passed", "W1")] * 2
    assert exit_code(outcomes) == 0
    with session() as db:
        for outcome in outcomes:
            finding = db.get(Finding, outcome.finding_id)
            new_run = db.get(Run, outcome.run_id)
            assert finding is not None and new_run is not None
            assert outcome.original_run_id == finding.run_id != new_run.id
            assert (new_run.retest_of, new_run.verdict, new_run.scenario_pk) == (
                finding.id, "pass", db.get(Run, finding.run_id).scenario_pk)  # the same scenario snapshot
            assert new_run.behaviour_fingerprint  # the canary probe ran once and stamped the re-test runs
            retest = db.exec(select(Retest).where(Retest.finding_id == finding.id)).one()
            assert (retest.run_id, retest.outcome) == (new_run.id, "pass")
        assert len(find(db, eid)) == 2  # no finding was added
        assert audit.verify_chain(db, eid) == []
    moves = [e for e in events(eid, "finding.status") if e.payload["to"] == "retest_passed"]
    assert len(moves) == 2 and all(e.actor == "ana" for e in moves)
    for move, outcome in zip(moves, outcomes, strict=True):
        assert f"re-test run {outcome.run_id}" in move.payload["reason"]
        assert f"original run {outcome.original_run_id}" in move.payload["reason"]
    assert len(events(eid, "retest.recorded")) == 2
    probes = events(eid, "system.probed")
    assert len(probes) == 1 and sorted(probes[0].payload["runs"]) == sorted(o.run_id for o in outcomes)


def test_a_failing_retest_moves_the_finding_and_files_no_second_finding(demo: Any) -> None:
    eid = make_engagement(demo.base_url)
    run(eid)
    [finding_id] = confirm_all(eid)
    outcomes = retest_findings(eid, [finding_id], probe=False)  # nothing was fixed
    assert [(o.outcome, o.status) for o in outcomes] == [("fail", "retest_failed")]
    assert "canary" in outcomes[0].reason or "echo" in outcomes[0].reason
    assert exit_code(outcomes) == 1
    with session() as db:
        assert [f.id for f in find(db, eid)] == [finding_id]
        assert db.exec(select(Retest)).one().outcome == "fail"
        assert not db.get(Run, outcomes[0].run_id).behaviour_fingerprint  # no probe asked for
    demo.hardened = True
    again = retest_findings(eid, probe=False)  # retest_failed is still open: it is re-tested
    assert [(o.before, o.status) for o in again] == [("retest_failed", "retest_passed")]


def test_only_open_findings_can_be_retested_and_nothing_runs_otherwise(demo: Any) -> None:
    eid = make_engagement(demo.base_url)
    run(eid)
    with session() as db:
        [draft] = find(db, eid)
    with pytest.raises(FindingStateError, match=f"finding {draft.id} is draft"):
        retest_findings(eid, [draft.id])
    with pytest.raises(UsageError, match="no finding 999"):
        retest_findings(eid, [999])
    with session() as db:
        assert len(db.exec(select(Run)).all()) == 1 and db.exec(select(Retest)).all() == []


def test_management_responses_feed_the_exception_log(demo: Any) -> None:
    eid = make_engagement(demo.base_url)
    run(eid)
    [finding_id] = confirm_all(eid)
    with session() as db:
        finding = db.get(Finding, finding_id)
        with pytest.raises(RedlineError, match="owner"):
            record_response(db, finding, response="We will filter prompts", owner=" ")
        record_response(db, finding, response="We will filter prompts", owner="Bob (CISO)",
                        response_date=date(2026, 3, 1), cause="No input screening",
                        mitigating_controls="Rate limits", remediation="Input filter by Q2", actor="ana")
    with session() as db:
        assert len(db.exec(select(ManagementResponse)).all()) == 1
        rows = exception_log(db, eid)
    [row] = [r for r in rows if r["finding_id"] == finding_id]
    assert (row["response"], row["owner"], row["cause"], row["response_date"]) == (
        "We will filter prompts", "Bob (CISO)", "No input screening", "2026-03-01")
    [event] = events(eid, "finding.response")
    assert event.actor == "ana" and event.payload["remediation"] == "Input filter by Q2"


def test_a_risk_acceptance_needs_an_approver_and_leaves_the_retest_queue(demo: Any) -> None:
    eid = make_engagement(demo.base_url)
    run(eid)
    [finding_id] = confirm_all(eid)
    with session() as db:
        finding = db.get(Finding, finding_id)
        transition(db, finding, "risk_accepted", reason="compensating control", approver="CISO")
    assert retest_findings(eid) == []
