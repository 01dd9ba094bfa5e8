"""The finding lifecycle. Status rules live here once; the CLI, the runner and the cockpit call them.

``draft → open → remediating → retest_passed | retest_failed → closed``, with
``risk_accepted`` (needs a reason and an approver) and ``dismissed`` (a draft
that triage showed to be a false positive). Every change is an AuditEvent made
by a named tester with a reason.

``retest_passed`` and ``retest_failed`` are a re-test run's word, never a
tester's: moving there needs the id of a finished re-test run of this finding
whose verdict says so (:mod:`app.retest` passes it). A finding therefore closes
only after a passing re-test, or it is risk-accepted with a named approver.
:func:`legal_moves` is what a tester may do by hand, with a line saying what
each move means; the CLI and the cockpit offer exactly that. :func:`classify`
sets an exception's type through the same audited edit as every other field.
Which finding a failing run belongs to is :mod:`app.occurrences`' rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from app.errors import RedlineError
from app.lifecycle import (
    CREATABLE,
    EXCEPTION_KINDS,
    EXCEPTION_STATUSES,
    MEANINGS,
    OPEN_STATUSES,
    RETEST_STATUSES,
    SEVERITIES,
    STATUSES,
    TRANSITIONS,
    Move,
    legal_moves,
)
from app.store import audit
from app.store.models import Finding, utcnow

if TYPE_CHECKING:
    from sqlmodel import Session

# The lifecycle's constants and moves are re-exported: app.findings is where callers look.
__all__ = [
    "CREATABLE", "EDITABLE", "EXCEPTION_KINDS", "EXCEPTION_STATUSES", "MEANINGS", "OPEN_STATUSES", "RETEST_OUTCOMES",
    "RETEST_STATUSES", "SEVERITIES", "STATUSES", "TRANSITIONS", "FindingStateError", "Move", "classify",
    "create_finding", "find", "legal_moves", "status_after_retest", "transition", "update_finding",
]

EDITABLE = ("title", "severity", "impact", "controls", "evidence", "steps_to_reproduce", "notes", "exception_kind",
            "priority", "due_date")

# A re-test run's verdict decides the finding's next status; review and error decide nothing
# (the re-test is recorded, the finding waits for a tester or another re-test).
RETEST_OUTCOMES: dict[str, str] = {"pass": "retest_passed", "fail": "retest_failed"}


def status_after_retest(verdict: str) -> str | None:
    """The status a re-test with this run verdict moves an open finding to, or None to stay put."""
    return RETEST_OUTCOMES.get(verdict)


class FindingStateError(RedlineError):
    exit_code = 2


def _refusal(finding: Finding, to: str) -> str:
    by_hand = ", ".join(m.to for m in legal_moves(finding)) or "none (final)"
    text = f"finding {finding.id} is {finding.status}; it cannot move to {to} (allowed: {by_hand})"
    if to in RETEST_STATUSES and to in TRANSITIONS[finding.status]:
        text = (f"finding {finding.id}: only a re-test run can set {to} (`redline retest`); "
                f"moves allowed by hand: {by_hand}")
    return text


def _check_retest_run(db: Session, finding: Finding, to: str, retest_run: int | None) -> None:
    """A re-test outcome needs a finished re-test run of this finding whose verdict says so."""
    from app.store.models import Run

    run = db.get(Run, retest_run) if retest_run is not None else None
    if run is None or run.retest_of != finding.id:
        raise FindingStateError(_refusal(finding, to) if retest_run is None else
                                f"run {retest_run} is not a re-test of finding {finding.id}")
    wanted = RETEST_STATUSES[to]
    if run.status != "finished" or run.verdict != wanted:
        raise FindingStateError(f"re-test run {retest_run} of finding {finding.id} is {run.status} with verdict "
                                f"{run.verdict or 'none'}; {to} needs a finished re-test that says {wanted}")


def create_finding(db: Session, *, engagement_id: int, title: str, actor: str = "",
                   reason: str = "", **fields: Any) -> Finding:
    """A new finding (``draft`` unless ``status`` says otherwise), recorded in the audit chain."""
    severity = fields.get("severity", "medium")
    if severity not in SEVERITIES:
        raise FindingStateError(f"severity must be one of {', '.join(SEVERITIES)}, not {severity!r}")
    finding = Finding(engagement_id=engagement_id, title=title, created_by=actor or audit.default_actor(), **fields)
    if finding.status not in CREATABLE:
        raise FindingStateError(f"a finding starts as {', '.join(CREATABLE)}, not {finding.status!r}: "
                                "later statuses are reached through the lifecycle")
    if finding.exception_kind and finding.exception_kind not in EXCEPTION_KINDS:
        raise FindingStateError(f"exception type must be one of {', '.join(EXCEPTION_KINDS)}, "
                                f"not {finding.exception_kind!r}")
    from app.remediation import prefill
    from app.store.models import Engagement

    prefill(finding, db.get(Engagement, engagement_id))
    db.add(finding)
    db.flush()
    audit.record(db, engagement_id=engagement_id, action="finding.created", actor=actor,
                 entity=f"finding:{finding.id}",
                 payload={"title": title, "status": finding.status, "severity": finding.severity,
                          "controls": list(finding.controls), "run_id": finding.run_id,
                          "turn_id": finding.turn_id, "reason": reason, "priority": finding.priority,
                          "due_date": finding.due_date,
                          **({"regression_of": finding.regression_of} if finding.regression_of else {})})
    return finding


def transition(db: Session, finding: Finding, to: str, *, reason: str, actor: str = "",
               approver: str = "", retest_run: int | None = None) -> Finding:
    """Move a finding to ``to`` if the lifecycle allows it; the reason is mandatory.

    A move to the status the finding already has is refused: it would record a
    change that did not happen. ``retest_passed`` / ``retest_failed`` need
    ``retest_run``, the re-test run that decided it.
    """
    if to not in STATUSES:
        raise FindingStateError(f"unknown finding status {to!r}")
    if to == finding.status:
        raise FindingStateError(f"finding {finding.id} is already {to}; nothing to change")
    if to not in TRANSITIONS[finding.status]:
        raise FindingStateError(_refusal(finding, to))
    if to in RETEST_STATUSES:
        _check_retest_run(db, finding, to, retest_run)
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
                 payload={"from": before, "to": to, "reason": reason, "approver": approver,
                          **({"retest_run": retest_run} if to in RETEST_STATUSES else {})})
    return finding


def update_finding(db: Session, finding: Finding, *, actor: str = "", reason: str = "",
                   **changes: Any) -> Finding:
    """Edit a finding's descriptive fields; the audit event carries before and after."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise FindingStateError(f"cannot edit {', '.join(sorted(unknown))} directly")
    if "severity" in changes and changes["severity"] not in SEVERITIES:
        raise FindingStateError(f"severity must be one of {', '.join(SEVERITIES)}")
    if "priority" in changes:
        from app.remediation import PRIORITIES

        if changes["priority"] not in PRIORITIES:
            raise FindingStateError(f"priority must be one of {', '.join(PRIORITIES)}, not {changes['priority']!r}")
    if "exception_kind" in changes:
        kind = changes["exception_kind"]
        if kind not in EXCEPTION_KINDS:
            raise FindingStateError(f"exception type must be one of {', '.join(EXCEPTION_KINDS)}, not {kind!r}")
        if finding.status == "dismissed":
            raise FindingStateError(f"finding {finding.id} is dismissed (a false positive): it is no exception "
                                    "to classify")
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


def classify(db: Session, finding: Finding, kind: str, *, reason: str, actor: str = "") -> Finding:
    """Set the exception's type (design, operating effectiveness, system description), audited with a reason."""
    if not reason.strip():
        raise FindingStateError("classifying an exception needs a reason")
    if kind == finding.exception_kind:
        raise FindingStateError(f"finding {finding.id} is already classified as {kind}; nothing to change")
    return update_finding(db, finding, exception_kind=kind, actor=actor, reason=reason)


def load_for_change(db: Session, finding_id: int, *, expected_version: int | None = None) -> Finding:
    """The finding a client is about to change, as it is now and held until the change commits; refused if
    it moved past the version that client decided on.

    The cockpit passes the version it showed; ``--if-version`` passes the one the
    tester read. A race after this check is still caught when the write lands
    (:mod:`app.store.conflicts`).
    """
    from app.store.conflicts import check_version
    from app.store.portable import read_for_change

    finding: Finding | None = read_for_change(db, Finding, finding_id)
    if finding is None:
        raise FindingStateError(f"there is no finding {finding_id}")
    check_version(db, finding, expected_version)
    return finding


def find(db: Session, engagement_id: int, ids: Iterable[int] | None = None,
         statuses: Iterable[str] | None = None) -> list[Finding]:
    from sqlmodel import col, select

    query = select(Finding).where(Finding.engagement_id == engagement_id)
    if ids is not None:
        query = query.where(Finding.id.in_(list(ids)))  # type: ignore[union-attr]
    if statuses is not None:
        query = query.where(Finding.status.in_(list(statuses)))  # type: ignore[attr-defined]
    return list(db.exec(query.order_by(col(Finding.id))).all())
