"""One weakness is one finding: repeated failures become occurrences; a failure after closure is a regression."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from app.store import session
from app.store.models import Finding
from tests.test_lifecycle_support import confirm_all, demo, events, make_engagement, run  # noqa: F401


def _findings() -> list[Finding]:
    with session() as db:
        return list(db.exec(select(Finding).order_by(Finding.id)).all())


def test_a_second_failing_run_is_an_occurrence_not_a_second_draft(demo: Any) -> None:
    eid = make_engagement(demo.base_url, scenarios=("pi-direct-override", "sysprompt-summary-request"))
    first = run(eid)
    second = run(eid)
    assert [o.verdict for o in first + second] == ["fail"] * 4
    findings = _findings()
    assert len(findings) == 2  # one per scenario, not one per run
    assert [o.finding_ids for o in second] == [o.finding_ids for o in first]
    from app.occurrences import findings_of_run, occurrences
    from app.store.models import FindingOccurrence

    with session() as db:
        seen = occurrences(db, findings)
        assert [[(o.run_id, o.first) for o in seen[f.id]] for f in findings] == [
            [(first[i].run_id, True), (second[i].run_id, False)] for i in range(2)]
        assert findings_of_run(db, second[0].run_id) == [findings[0].id]
        rows = db.exec(select(FindingOccurrence)).all()
    assert all(r.evidence.get("detector") and r.turn_id for r in rows)
    logged = events(eid, "finding.occurrence")
    assert sorted(e.payload["run_id"] for e in logged) == sorted(o.run_id for o in second)
    assert {e.entity for e in logged} == {f"finding:{f.id}" for f in findings}


def test_occurrences_follow_the_findings_status(demo: Any) -> None:
    """Open: the run joins it. Dismissed: it joins and goes back to triage. Closed: a new draft, a regression."""
    from app.findings import transition
    from app.retest import retest_findings
    from app.store.models import FindingOccurrence

    eid = make_engagement(demo.base_url)
    [r1] = run(eid)
    confirm_all(eid)
    [r2] = run(eid)
    [f] = _findings()
    assert (f.status, r2.finding_ids) == ("open", [f.id])
    demo.hardened = True
    [passed] = retest_findings(eid, probe=False)
    assert passed.status == "retest_passed"
    with session() as db:
        transition(db, db.get(Finding, f.id), "closed", reason="fix verified")
    demo.hardened = False
    [r3] = run(eid)
    old, new = _findings()
    assert (old.id, old.status) == (f.id, "closed")
    assert (new.status, new.regression_of, new.run_id, r3.finding_ids) == ("draft", f.id, r3.run_id, [new.id])
    created = events(eid, "finding.created")[-1]
    assert created.payload["regression_of"] == f.id and "back after finding" in created.payload["reason"]
    with session() as db:
        transition(db, db.get(Finding, new.id), "dismissed", reason="looks like the user's own words")
    [r4] = run(eid)
    assert r4.finding_ids == [new.id]
    assert {x.id: x.status for x in _findings()} == {f.id: "closed", new.id: "draft"}  # back to triage
    assert "failed again after the finding was dismissed" in events(eid, "finding.status")[-1].payload["reason"]
    with session() as db:
        linked = db.exec(select(FindingOccurrence.finding_id, FindingOccurrence.run_id)
                         .order_by(FindingOccurrence.id)).all()
    assert [tuple(x) for x in linked] == [(f.id, r2.run_id), (new.id, r4.run_id)]
    assert r1.run_id == f.run_id


def test_retest_runs_add_no_occurrence(demo: Any) -> None:
    from app.retest import retest_findings
    from app.store.models import FindingOccurrence

    eid = make_engagement(demo.base_url)
    run(eid)
    confirm_all(eid)
    [failed] = retest_findings(eid, probe=False)
    assert failed.outcome == "fail" and len(_findings()) == 1
    with session() as db:
        assert db.exec(select(FindingOccurrence)).all() == []
