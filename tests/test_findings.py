"""Finding status rules: allowed moves, mandatory reasons, risk acceptance, audit trail."""

from __future__ import annotations

import pytest

from app.findings import FindingStateError, create_finding, transition, update_finding
from app.store import audit, session
from app.store.models import Engagement


def _engagement(db) -> int:  # type: ignore[no-untyped-def]
    eng = Engagement(name="acme")
    db.add(eng)
    db.flush()
    return eng.id


def test_full_lifecycle_is_recorded() -> None:
    with session() as db:
        eid = _engagement(db)
        f = create_finding(db, engagement_id=eid, title="Injection", severity="high", controls=["CC6.6"])
        for to in ("open", "remediating", "retest_passed", "closed"):
            transition(db, f, to, reason=f"step to {to}", actor="ana")
        assert f.status == "closed"
        actions = [e.action for e in db.exec(__import__("sqlmodel").select(audit.AuditEvent)).all()]
        assert actions == ["finding.created"] + ["finding.status"] * 4
        assert audit.verify_chain(db, eid) == []


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
