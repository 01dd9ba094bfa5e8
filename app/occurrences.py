"""One weakness, one finding: a failing run joins the finding already filed for its scenario and system.

The weakness behind a failing run is named by the scenario and the system it
ran on. Its finding is the latest one filed from a run of that scenario on that
system. What a new failing run does depends on where that finding stands:

- ``draft``, ``open``, ``remediating``, ``retest_failed``, ``risk_accepted``:
  the run is added as an *occurrence* (a ``FindingOccurrence`` row and a
  ``finding.occurrence`` audit event). The status stays: the weakness is known
  and being handled, and the run is more evidence of it.
- ``dismissed``: the occurrence is added and the finding goes back to
  ``draft``. Triage called an earlier failure a false positive; a new failure
  is looked at again, never silently absorbed.
- ``retest_passed``, ``closed``: a new draft finding, linked to the old one by
  ``regression_of``. A passing re-test verified the fix at a point in time and
  a closed finding is final, so that record stays as it was; the comeback gets
  its own lifecycle, POA&M item and re-test.

Re-test runs never come here: their verdict moves the finding they re-test
(:mod:`app.retest`). Findings with no run (the inventory check's) are matched
by their own rule in :mod:`app.changes.inventory`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.findings import FindingStateError, transition
from app.store import audit
from app.store.models import Finding, FindingOccurrence, Run, TestWindow, utcnow

if TYPE_CHECKING:
    from sqlmodel import Session

OCCURRENCE_STATUSES = ("draft", "open", "remediating", "retest_failed", "risk_accepted", "dismissed")
REGRESSION_STATUSES = ("retest_passed", "closed")


@dataclass(frozen=True)
class Occurrence:
    """One run in which a finding's weakness was seen; ``first`` is the run the finding was filed from."""

    finding_id: int
    run_id: int
    turn_id: int | None
    started_at: datetime | None
    window: str
    first: bool

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run_id, "turn": self.turn_id, "window": self.window or None, "first": self.first,
                "started_at": self.started_at.isoformat() if self.started_at else None}


def finding_for_weakness(db: Session, engagement_id: int, scenario_id: str, system_id: int) -> Finding | None:
    """The latest finding filed from a run of ``scenario_id`` on ``system_id``, if any."""
    from sqlmodel import select

    query = (select(Finding).join(Run, Finding.run_id == Run.id)  # type: ignore[arg-type]
             .where(Finding.engagement_id == engagement_id, Finding.scenario_id == scenario_id,
                    Run.system_id == system_id, Run.retest_of.is_(None))  # type: ignore[union-attr]
             .order_by(Finding.id.desc()))  # type: ignore[union-attr]
    return db.exec(query).first()


def findings_of_run(db: Session, run_id: int) -> list[int]:
    """The findings a run shows: those filed from it first, then those it is an occurrence of."""
    from sqlmodel import col, select

    own = db.exec(select(Finding.id).where(Finding.run_id == run_id).order_by(col(Finding.id))).all()
    seen = db.exec(select(FindingOccurrence.finding_id).where(FindingOccurrence.run_id == run_id)).all()
    return list(dict.fromkeys([*own, *seen]))


def add_occurrence(db: Session, finding: Finding, run_id: int, turn_id: int | None,
                   evidence: dict[str, Any], *, actor: str = "") -> FindingOccurrence:
    """Record ``run_id`` as another occurrence of ``finding``; a dismissed finding goes back to triage.

    The finding is read again and held first: a tester on another machine may have moved it since the
    runner looked it up, and the runner's write must build on that move, not be refused as stale."""
    from app.store.portable import read_for_change

    finding = read_for_change(db, Finding, finding.id)
    if finding.status not in OCCURRENCE_STATUSES:
        raise FindingStateError(f"finding {finding.id} is {finding.status}: a new failure is a regression of it, "
                                "not an occurrence")
    row = FindingOccurrence(finding_id=finding.id or 0, run_id=run_id, turn_id=turn_id, evidence=dict(evidence))
    db.add(row)
    db.flush()
    audit.record(db, engagement_id=finding.engagement_id, action="finding.occurrence", actor=actor,
                 entity=f"finding:{finding.id}",
                 payload={"occurrence": row.id, "run_id": run_id, "turn_id": turn_id, "status": finding.status,
                          "detector": evidence.get("detector", ""), "reason": evidence.get("reason", "")})
    if finding.status == "dismissed":
        transition(db, finding, "draft", actor=actor,
                   reason=f"run {run_id} failed again after the finding was dismissed; back to triage")
    else:
        finding.updated_at = utcnow()
        db.add(finding)
    return row


def occurrences(db: Session, findings: Iterable[Finding]) -> dict[int, list[Occurrence]]:
    """Each finding's occurrences in run order: the run it was filed from, then every later one."""
    from sqlmodel import col, select

    findings = list(findings)
    ids = [f.id for f in findings]
    rows = list(db.exec(select(FindingOccurrence).where(col(FindingOccurrence.finding_id).in_(ids))
                        .order_by(col(FindingOccurrence.run_id))).all())
    run_ids = {f.run_id for f in findings if f.run_id is not None} | {r.run_id for r in rows}
    runs = {r.id: r for r in db.exec(select(Run).where(Run.id.in_(run_ids))).all()}  # type: ignore[union-attr]
    windows = {w.id: w.name for w in db.exec(select(TestWindow).where(
        TestWindow.id.in_({r.window_id for r in runs.values() if r.window_id}))).all()}  # type: ignore[union-attr]

    def view(finding_id: int, run_id: int, turn_id: int | None, first: bool) -> Occurrence:
        run = runs.get(run_id)
        return Occurrence(finding_id, run_id, turn_id, run.started_at if run else None,
                          windows.get(run.window_id, "") if run and run.window_id else "", first)

    out: dict[int, list[Occurrence]] = {}
    for f in findings:
        seen = [view(f.id or 0, f.run_id, f.turn_id, True)] if f.run_id is not None else []
        seen += [view(f.id or 0, r.run_id, r.turn_id, False) for r in rows if r.finding_id == f.id]
        out[f.id or 0] = seen
    return out
