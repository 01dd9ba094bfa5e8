"""Remediation priorities and due dates: the seed's remediation table applied to each finding.

The seed orders remediation in two tiers: *immediate* (fix before the audit
period ends: a failed control that lets data out or someone in, no monitoring
for AI attacks, uncontrolled model deployment) and *longer term*. A finding's
priority is pre-filled from its severity and that table (:func:`suggested_priority`),
and its due date from the priority (:func:`suggested_due`): the catalog's
``due_days`` after discovery, and for an immediate finding of a Type II
engagement no later than the period's end. The tester may change either;
:func:`set_plan` is the one audited edit, and the CLI and the cockpit call it.

Findings stored before priorities were kept have neither: :func:`plan_of`
derives them by the same rule, and says so (``source: derived``), so every
reader (register, exception log, POA&M) shows the same dates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from app.errors import RedlineError
from app.lifecycle import OPEN_STATUSES

if TYPE_CHECKING:

    from app.catalog import Catalog
    from app.store.models import Engagement, Finding

PRIORITIES: dict[str, str] = {
    "immediate": "fix before the audit period ends",
    "longer_term": "longer-term improvement",
}


class PriorityError(RedlineError):
    exit_code = 2


@dataclass(frozen=True)
class RemediationPlan:
    """A finding's priority and due date, whether the tester set them, and whether it is overdue today."""

    priority: str
    due_date: date | None
    source: str  # "set" (stored on the finding) | "derived" (a finding stored before priorities were kept)
    overdue: bool
    days_overdue: int

    def to_json(self) -> dict[str, Any]:
        return {"priority": self.priority, "due_date": self.due_date.isoformat() if self.due_date else None,
                "priority_source": self.source, "overdue": self.overdue, "days_overdue": self.days_overdue}

    def flag(self) -> str:
        """The register's word for it: ``OVERDUE 12d`` or the due date, or ``–``."""
        if self.overdue:
            return f"OVERDUE {self.days_overdue}d (due {self.due_date})"
        return f"due {self.due_date}" if self.due_date else "–"


def _catalog(catalog: Catalog | None) -> Catalog:
    if catalog is not None:
        return catalog
    from app.catalog import load_catalog

    return load_catalog()


def suggested_priority(severity: str, controls: Iterable[str], catalog: Catalog | None = None) -> str:
    """High severity is immediate, low is longer term; a medium finding is immediate when the catalog's
    finding-impact row for its controls is one the immediate bullets name."""
    if severity == "high":
        return "immediate"
    if severity == "low":
        return "longer_term"
    cat = _catalog(catalog)
    impact = cat.impact_for(controls)
    return "immediate" if impact is not None and impact.key in cat.remediation.immediate_impacts else "longer_term"


def suggested_due(priority: str, found_on: date, period_end: date | None,
                  catalog: Catalog | None = None) -> date:
    """``due_days`` after discovery; an immediate one no later than the period's end while that is still ahead."""
    days = _catalog(catalog).remediation.due_days
    due = found_on + timedelta(days=days.immediate if priority == "immediate" else days.longer_term)
    if priority == "immediate" and period_end is not None and found_on <= period_end < due:
        due = period_end
    return due


def prefill(finding: Finding, engagement: Engagement | None, catalog: Catalog | None = None) -> None:
    """Fill an unsaved finding's priority and due date from its severity, controls and the period (unless given)."""
    found_on = (finding.created_at.date() if finding.created_at else date.today())
    period_end = engagement.period_end if engagement is not None and engagement.audit_type == "type2" else None
    if not finding.priority:
        finding.priority = suggested_priority(finding.severity, finding.controls, catalog)
    if finding.due_date is None:
        finding.due_date = suggested_due(finding.priority, found_on, period_end, catalog)


def plan_of(finding: Any, engagement: Engagement | None, today: date,
            catalog: Catalog | None = None) -> RemediationPlan:
    """The finding's priority and due date (stored, else derived), and whether it is overdue on ``today``.

    ``finding`` is a Finding row or its record (dict). Only a finding still awaiting remediation
    (open, remediating, re-test failed) can be overdue: a draft is not confirmed, and a closed or
    accepted one is settled.
    """
    get = finding.get if isinstance(finding, dict) else (lambda key: getattr(finding, key))
    priority, due = get("priority") or "", get("due_date")
    if isinstance(due, str):
        due = date.fromisoformat(due[:10])
    source = "set" if priority and due is not None else "derived"
    if not priority or due is None:
        created = get("created_at")
        found_on = (date.fromisoformat(created[:10]) if isinstance(created, str)
                    else created.date() if created is not None else today)
        period_end = engagement.period_end if engagement is not None and engagement.audit_type == "type2" else None
        priority = priority or suggested_priority(str(get("severity") or "medium"), get("controls") or (), catalog)
        due = due or suggested_due(priority, found_on, period_end, catalog)
    late = (today - due).days if get("status") in OPEN_STATUSES else 0
    return RemediationPlan(priority, due, source, late > 0, max(late, 0))


__all__ = ["PRIORITIES", "PriorityError", "RemediationPlan", "plan_of", "prefill", "suggested_due",
           "suggested_priority"]
