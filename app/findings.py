"""The finding lifecycle. Status rules live here once; the CLI, the runner and the cockpit call them.

``draft → open → remediating → retest_passed | retest_failed → closed``, with
``risk_accepted`` (needs a reason and an approver) and ``dismissed`` (a draft
that triage showed to be a false positive). Every change is an AuditEvent made
by a named tester with a reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from app.errors import RedlineError
from app.store import audit
from app.store.models import Finding, utcnow

if TYPE_CHECKING:
    from sqlmodel import Session

STATUSES = ("draft", "open", "remediating", "retest_passed", "retest_failed", "closed", "risk_accepted", "dismissed")
OPEN_STATUSES = ("open", "remediating", "retest_failed")  # POA&M items; re-tests target these
SEVERITIES = ("high", "medium", "low")

TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"open", "dismissed", "risk_accepted"}),
    "open": frozenset({"remediating", "retest_passed", "retest_failed", "risk_accepted"}),
    "remediating": frozenset({"retest_passed", "retest_failed", "risk_accepted"}),
    "retest_failed": frozenset({"remediating", "retest_passed", "retest_failed", "risk_accepted"}),
    "retest_passed": frozenset({"closed", "retest_failed"}),
    "risk_accepted": frozenset({"open"}),
    "dismissed": frozenset({"draft"}),
    "closed": frozenset(),
}

EDITABLE = ("title", "severity", "impact", "controls", "evidence", "steps_to_reproduce", "notes", "exception_kind")

# A re-test run's verdict decides the finding's next status; review and error decide nothing
# (the re-test is recorded, the finding waits for a tester or another re-test).
RETEST_OUTCOMES: dict[str, str] = {"pass": "retest_passed", "fail": "retest_failed"}


def status_after_retest(verdict: str) -> str | None:
    """The status a re-test with this run verdict moves an open finding to, or None to stay put."""
    return RETEST_OUTCOMES.get(verdict)


class FindingStateError(RedlineError):
    exit_code = 2


def create_finding(db: "Session", *, engagement_id: int, title: str, actor: str = "",
                   reason: str = "", **fields: Any) -> Finding:
    """A new finding (``draft`` unless ``status`` says otherwise), recorded in the audit chain."""
    severity = fields.get("severity", "medium")
    if severity not in SEVERITIES:
        raise FindingStateError(f"severity must be one of {', '.join(SEVERITIES)}, not {severity!r}")
    finding = Finding(engagement_id=engagement_id, title=title, created_by=actor or audit.default_actor(), **fields)
    if finding.status not in STATUSES:
        raise FindingStateError(f"unknown finding status {finding.status!r}")
    db.add(finding)
    db.flush()
    audit.record(db, engagement_id=engagement_id, action="finding.created", actor=actor,
                 entity=f"finding:{finding.id}",
                 payload={"title": title, "status": finding.status, "severity": finding.severity,
                          "controls": list(finding.controls), "run_id": finding.run_id,
                          "turn_id": finding.turn_id, "reason": reason})
    return finding


def transition(db: "Session", finding: Finding, to: str, *, reason: str, actor: str = "",
               approver: str = "") -> Finding:
    """Move a finding to ``to`` if the lifecycle allows it; the reason is mandatory."""
    if to not in STATUSES:
        raise FindingStateError(f"unknown finding status {to!r}")
    if to not in TRANSITIONS[finding.status]:
        allowed = ", ".join(sorted(TRANSITIONS[finding.status])) or "none (final)"
        raise FindingStateError(
            f"finding {finding.id} is {finding.status}; it cannot move to {to} (allowed: {allowed})"
        )
    if not reason.strip():
        raise FindingStateError("a status change needs a reason")
    if to == "risk_accepted":
        if not approver.strip():
            raise FindingStateError("accepting a risk needs the approver's name")
        finding.accepted_reason = reason
        finding.accepted_by = approver
    before = finding.status
    finding.status = to
    finding.updated_at = utcnow()
    db.add(finding)
    audit.record(db, engagement_id=finding.engagement_id, action="finding.status", actor=actor,
                 entity=f"finding:{finding.id}",
                 payload={"from": before, "to": to, "reason": reason, "approver": approver})
    return finding


def update_finding(db: "Session", finding: Finding, *, actor: str = "", reason: str = "",
                   **changes: Any) -> Finding:
    """Edit a finding's descriptive fields; the audit event carries before and after."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise FindingStateError(f"cannot edit {', '.join(sorted(unknown))} directly")
    if "severity" in changes and changes["severity"] not in SEVERITIES:
        raise FindingStateError(f"severity must be one of {', '.join(SEVERITIES)}")
    diff: dict[str, Any] = {}
    for key, value in changes.items():
        old = getattr(finding, key)
        if old != value:
            diff[key] = {"from": old, "to": value}
            setattr(finding, key, value)
    if diff:
        finding.updated_at = utcnow()
        db.add(finding)
        audit.record(db, engagement_id=finding.engagement_id, action="finding.edited", actor=actor,
                     entity=f"finding:{finding.id}", payload={"changes": diff, "reason": reason})
    return finding


def find(db: "Session", engagement_id: int, ids: Iterable[int] | None = None,
         statuses: Iterable[str] | None = None) -> list[Finding]:
    from sqlmodel import select

    query = select(Finding).where(Finding.engagement_id == engagement_id)
    if ids is not None:
        query = query.where(Finding.id.in_(list(ids)))  # type: ignore[union-attr]
    if statuses is not None:
        query = query.where(Finding.status.in_(list(statuses)))  # type: ignore[attr-defined]
    return list(db.exec(query.order_by(Finding.id)).all())
