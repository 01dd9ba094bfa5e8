"""Acting on findings' remediation plans: the tester's edit of priority and due date, and the overdue count.

The rules (what a priority is, when a finding is due, when it is late) are :mod:`app.remediation`'s; this
module applies them to stored findings through the lifecycle's audited edit (:mod:`app.findings`), which
itself pre-fills a new finding's plan from the same rules.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from app.lifecycle import OPEN_STATUSES
from app.remediation import PRIORITIES, PriorityError, _catalog, plan_of, suggested_due

if TYPE_CHECKING:
    from sqlmodel import Session

    from app.store.models import Finding


def set_plan(db: Session, finding: Finding, *, priority: str | None = None, due: date | None = None,
             reason: str, actor: str = "") -> Finding:
    """The tester's edit of priority and due date, audited with before, after and the reason.

    A new priority without a date moves the due date by the rule for that
    priority; a date alone keeps the priority. A due date before the finding
    was found is refused: it would make it overdue from birth.
    """
    from app.findings import update_finding
    from app.store.models import Engagement

    if priority is None and due is None:
        raise PriorityError("give a priority, a due date or both")
    if not reason.strip():
        raise PriorityError("changing a priority or due date needs a reason")
    if priority is not None and priority not in PRIORITIES:
        raise PriorityError(f"priority must be one of {', '.join(PRIORITIES)}, not {priority!r}")
    found_on = finding.created_at.date()
    if due is not None and due < found_on:
        raise PriorityError(f"the due date {due} is before finding {finding.id} was found ({found_on})")
    engagement = db.get(Engagement, finding.engagement_id)
    current = plan_of(finding, engagement, found_on)
    new_priority = priority or current.priority
    if due is None:
        period_end = engagement.period_end if engagement is not None and engagement.audit_type == "type2" else None
        due = (suggested_due(new_priority, found_on, period_end) if priority is not None and priority != current.priority
               else current.due_date)
    if new_priority == finding.priority and due == finding.due_date:
        raise PriorityError(f"finding {finding.id} is already {new_priority}, due {due}; nothing to change")
    return update_finding(db, finding, priority=new_priority, due_date=due, reason=reason, actor=actor)


def overdue_count(db: Session, engagement_id: int, today: date) -> int:
    """How many of the engagement's findings are past their due date and not yet remediated (for Home)."""
    from app.findings import find
    from app.store.models import Engagement

    engagement = db.get(Engagement, engagement_id)
    found = find(db, engagement_id, statuses=OPEN_STATUSES)
    if not found:
        return 0
    catalog = _catalog(None)
    return sum(1 for f in found if plan_of(f, engagement, today, catalog).overdue)
