"""Finding status rules: allowed moves, mandatory reasons, risk acceptance, audit trail."""

from __future__ import annotations

from typing import Any

import pytest

from app.findings import FindingStateError, create_finding, transition, update_finding
from app.store import audit, session
from app.store.models import Engagement
from tests.test_lifecycle_support import confirm_all, demo, events, make_engagement, run  # noqa: F401


def _engagement(db) -> int:  # type: ignore[no-untyped-def]
    eng = Engagement(name="acme")
    db.add(eng)
    db.flush()
    return eng.id


@pytest.mark.usefixtures("store_backend")  # on SQLite and on PostgreSQL
def test_full_lifecycle_is_recorded() -> None:
    with session() as db:
        eid = _engagement(db)
        f = create_finding(db, engagement_id=eid, title="Injection", severity="high", controls=["CC6.6"])
        for to in ("open", "remediating", "risk_accepted", "open"):
            transition(db, f, to, reason=f"step to {to}", actor="ana", approver="CISO")
        assert f.status == "open"
        actions = [e.action for e in db.exec(__import__("sqlmodel").select(audit.AuditEvent)).all()]
        assert actions == ["finding.created"] + ["finding.status"] * 4
        assert audit.verify_chain(db, eid) == []


@pytest.mark.usefixtures("store_backend")  # on SQLite and on PostgreSQL
def test_illegal_moves_and_missing_reasons_are_refused() -> None:
    with session() as db:
        eid = _engagement(db)
        f = create_finding(db, engagement_id=eid, title="x")
        with pytest.raises(FindingStateError, match="cannot move to closed"):
            transition(db, f, "closed", reason="skip ahead")
        with pytest.raises(FindingStateError, match="needs a reason"):
            transition(db, f, "open", reason="  ")
        with pytest.raises(FindingStateError, match="approver"):
            transition(db, f, "risk_accepted", reason="compensating control")
        transition(db, f, "risk_accepted", reason="compensating control", approver="CISO")
        assert (f.accepted_by, f.status) == ("CISO", "risk_accepted")


def test_edits_record_before_and_after() -> None:
    with session() as db:
        eid = _engagement(db)
        f = create_finding(db, engagement_id=eid, title="x", controls=["CC6.6"])
        update_finding(db, f, controls=["CC6.6", "AI-SEC-01"], reason="crosswalk")
        event = audit.head(db, eid)
        assert event is not None and event.payload["changes"]["controls"]["to"] == ["CC6.6", "AI-SEC-01"]
        with pytest.raises(FindingStateError):
            update_finding(db, f, status="closed")


def test_retest_outcomes_come_only_from_a_linked_retest_run(demo: Any) -> None:
    """A failed re-test cannot be passed by hand ("manual"), and so never closes; a passing re-test run can."""
    from app.retest import retest_findings
    from app.store.models import Finding

    eid = make_engagement(demo.base_url)
    [first] = run(eid)
    confirm_all(eid)
    [failed] = retest_findings(eid, probe=False)
    assert failed.status == "retest_failed"
    with session() as db:
        f = db.get(Finding, failed.finding_id)
        with pytest.raises(FindingStateError, match="only a re-test run can set retest_passed"):
            transition(db, f, "retest_passed", reason="manual")
        with pytest.raises(FindingStateError, match="already retest_failed"):
            transition(db, f, "retest_failed", reason="again")
        with pytest.raises(FindingStateError, match="not a re-test of finding"):
            transition(db, f, "retest_passed", reason="manual", retest_run=first.run_id)
        with pytest.raises(FindingStateError, match="needs a finished re-test that says pass"):
            transition(db, f, "retest_passed", reason="manual", retest_run=failed.run_id)
        with pytest.raises(FindingStateError, match="cannot move to closed"):
            transition(db, f, "closed", reason="manual")
        assert f.status == "retest_failed"
        from app.findings import legal_moves

        assert [m.to for m in legal_moves(f)] == ["remediating", "risk_accepted"]
    [again] = retest_findings(eid, probe=False)  # a second failing re-test is recorded and moves nothing
    assert (again.before, again.status, again.outcome) == ("retest_failed", "retest_failed", "fail")
    demo.hardened = True
    [passed] = retest_findings(eid, probe=False)
    assert passed.status == "retest_passed"
    with session() as db:
        f = db.get(Finding, passed.finding_id)
        assert [m.to for m in legal_moves(f)] == ["closed"]
        transition(db, f, "closed", reason="remediation verified")
        assert legal_moves(f) == []
    moves = [(e.payload["from"], e.payload["to"], e.payload.get("retest_run")) for e in events(eid, "finding.status")]
    assert moves == [("draft", "open", None), ("open", "retest_failed", failed.run_id),
                     ("retest_failed", "retest_passed", passed.run_id), ("retest_passed", "closed", None)]


def test_legal_moves_say_what_each_move_means() -> None:
    from app.findings import STATUSES, legal_moves

    for status in STATUSES:
        for move in legal_moves(status):
            assert move.to not in ("retest_passed", "retest_failed") and move.meaning and move.action
    assert [(m.action, m.needs_approver) for m in legal_moves("draft")] == [
        ("confirm", False), ("accept", True), ("dismiss", False)]
    assert [m.action for m in legal_moves("risk_accepted")] == ["reopen"]


def test_a_finding_is_created_only_where_its_lifecycle_starts() -> None:
    with session() as db:
        eid = _engagement(db)
        for status in ("retest_passed", "closed", "risk_accepted"):
            with pytest.raises(FindingStateError, match="starts as"):
                create_finding(db, engagement_id=eid, title="x", status=status)
        with pytest.raises(FindingStateError, match="exception type"):
            create_finding(db, engagement_id=eid, title="x", exception_kind="bad")
