"""The engagement itself and the wizard's progress: timing, evidence format, and which steps are done.

The pre-engagement alignment has four steps (in-scope systems, control matrix,
timing, evidence format). Each is saved as it is completed, in
``Engagement.wizard``, so the cockpit can resume where the tester left off and
Home knows whether an engagement is ready to run. Every change is an
AuditEvent: the auditor can see when the plan was agreed and who changed it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from app.alignment.windows import WindowPlan, window_problems
from app.errors import RedlineError
from app.store import audit
from app.store.models import AISystem, ControlMapping, Engagement, Run, TestWindow, utcnow

if TYPE_CHECKING:
    from sqlmodel import Session

STEPS: tuple[str, ...] = ("systems", "controls", "timing", "evidence")
STEP_TITLES: dict[str, str] = {
    "systems": "Systems", "controls": "Controls", "timing": "Timing", "evidence": "Evidence",
}
DONE = "done"


def _name_pattern() -> re.Pattern[str]:
    """The engagement file's own name rule (read from its model), so a name made here always
    exports and re-imports."""
    from app.formats.engagement import EngagementSpec

    rule = next(m.pattern for m in EngagementSpec.model_fields["name"].metadata if getattr(m, "pattern", None))
    return re.compile(rule)


class AlignmentError(RedlineError):
    """An alignment change that cannot be saved; nothing was written."""


def get_engagement(db: Session, engagement_id: int) -> Engagement:
    engagement = db.get(Engagement, engagement_id)
    if engagement is None:
        raise AlignmentError(f"no engagement with id {engagement_id}")
    return engagement


def find_engagement(db: Session, name: str) -> Engagement | None:
    from sqlmodel import select

    return db.exec(select(Engagement).where(Engagement.name == name)).first()


def touch(db: Session, engagement: Engagement, action: str, payload: dict[str, Any],
          entity: str = "") -> None:
    """Stamp the engagement as changed and append the audit event describing the change."""
    engagement.updated_at = utcnow()
    db.add(engagement)
    db.flush()
    audit.record(db, engagement_id=engagement.id, action=action,
                 entity=entity or f"engagement:{engagement.id}", payload=payload)


def check_new_engagement_name(db: Session, name: str) -> str:
    """The name, stripped, if a new engagement may take it; else AlignmentError saying why.

    The cockpit asks this as soon as the name is typed, before it asks anything
    else, so a refused name is fixed in place rather than discovered at the end.
    """
    name = name.strip()
    if not _name_pattern().match(name):
        raise AlignmentError(
            f"engagement name {name!r} is not allowed: use letters, digits, '.', '_' or '-', "
            "starting with a letter or digit")
    if find_engagement(db, name) is not None:
        raise AlignmentError(f"an engagement named '{name}' already exists")
    return name


def create_engagement(db: Session, name: str, client: str = "") -> Engagement:
    """A new, empty engagement (Type II, no period yet) ready for the wizard."""
    name = check_new_engagement_name(db, name)
    engagement = Engagement(name=name, client=client.strip(), audit_type="type2",
                            evidence_format=["report"])
    db.add(engagement)
    db.flush()
    touch(db, engagement, "engagement.created", {"name": name, "client": engagement.client})
    return engagement


# --- timing -----------------------------------------------------------------------------------

def windows_of(db: Session, engagement_id: int) -> list[TestWindow]:
    from sqlmodel import select

    return list(db.exec(select(TestWindow).where(TestWindow.engagement_id == engagement_id)
                        .order_by(TestWindow.start, TestWindow.name)).all())  # type: ignore[arg-type]


def set_type1(db: Session, engagement_id: int, as_of: date, tolerance_days: int = 7) -> Engagement:
    """A point-in-time audit: tests must be dated within ``tolerance_days`` of ``as_of``."""
    if not 0 <= tolerance_days <= 90:
        raise AlignmentError("the Type I tolerance must be between 0 and 90 days")
    engagement = get_engagement(db, engagement_id)
    engagement.audit_type, engagement.as_of = "type1", as_of
    engagement.type1_tolerance_days = tolerance_days
    touch(db, engagement, "alignment.timing_set",
          {"audit_type": "type1", "as_of": as_of.isoformat(), "tolerance_days": tolerance_days})
    return engagement


def set_type2(db: Session, engagement_id: int, period_start: date, period_end: date,
              windows: Sequence[WindowPlan]) -> Engagement:
    """A period audit with its test windows; windows are matched by name so runs keep their window.

    A window that already has runs cannot be dropped (its runs would lose the
    sample they belong to); rename or move it instead.
    """
    if period_end < period_start:
        raise AlignmentError("the audit period ends before it starts")
    problems = window_problems(windows, period_start, period_end)
    if problems:
        raise AlignmentError("; ".join(problems))
    engagement = get_engagement(db, engagement_id)
    existing = {w.name: w for w in windows_of(db, engagement_id)}
    wanted = {w.name.strip(): w for w in windows}
    for name, row in existing.items():
        if name not in wanted:
            if _window_has_runs(db, row):
                raise AlignmentError(f"window '{name}' already has runs; keep it (you may move its dates)")
            db.delete(row)
    db.flush()
    for name, plan in wanted.items():
        row = existing.get(name) or TestWindow(engagement_id=engagement_id, name=name,
                                               start=plan.start, end=plan.end)
        row.start, row.end = plan.start, plan.end
        db.add(row)
    engagement.audit_type = "type2"
    engagement.period_start, engagement.period_end = period_start, period_end
    touch(db, engagement, "alignment.timing_set", {
        "audit_type": "type2", "period": [period_start.isoformat(), period_end.isoformat()],
        "windows": [[w.name, w.start.isoformat(), w.end.isoformat()] for w in windows],
    })
    return engagement


def _window_has_runs(db: Session, window: TestWindow) -> bool:
    from sqlmodel import select

    return db.exec(select(Run.id).where(Run.window_id == window.id).limit(1)).first() is not None


# --- evidence format --------------------------------------------------------------------------

def set_evidence(db: Session, engagement_id: int, formats: Iterable[str], cpa_firm: str) -> Engagement:
    """The evidence format agreed with the CPA firm (report, workpapers, OSCAL) and the firm's name."""
    from app.formats.engagement import EVIDENCE_FORMATS

    chosen = [f for f in EVIDENCE_FORMATS if f in set(formats)]
    unknown = sorted(set(formats) - set(EVIDENCE_FORMATS))
    if unknown:
        raise AlignmentError(f"unknown evidence format {', '.join(unknown)}; "
                             f"choose from {', '.join(EVIDENCE_FORMATS)}")
    engagement = get_engagement(db, engagement_id)
    engagement.evidence_format, engagement.cpa_firm = chosen, cpa_firm.strip()
    touch(db, engagement, "alignment.evidence_set", {"formats": chosen, "cpa_firm": engagement.cpa_firm})
    return engagement


# --- progress ---------------------------------------------------------------------------------

def step_problems(db: Session, engagement_id: int, step: str) -> list[str]:
    """What still stops ``step`` from being done, in plain words; empty means it can be completed."""
    from sqlmodel import select

    engagement = get_engagement(db, engagement_id)
    if step == "systems":
        systems = db.exec(select(AISystem).where(AISystem.engagement_id == engagement_id)).all()
        return [] if any(s.in_scope for s in systems) else ["add at least one in-scope AI system"]
    if step == "controls":
        row = db.exec(select(ControlMapping.id).where(ControlMapping.engagement_id == engagement_id)).first()
        return [] if row is not None else ["add or import at least one control matrix row"]
    if step == "timing":
        if engagement.audit_type == "type1":
            return [] if engagement.as_of else ["set the Type I 'as of' date"]
        problems = [] if engagement.period_start and engagement.period_end else ["set the audit period"]
        if not windows_of(db, engagement_id):
            problems.append("plan at least one test window (press g for the suggested schedule)")
        return problems
    if step == "evidence":
        return [] if engagement.evidence_format else ["choose at least one evidence format"]
    raise AlignmentError(f"unknown wizard step {step!r}")


def complete_step(db: Session, engagement_id: int, step: str) -> Engagement:
    """Mark ``step`` done once its requirements are met (else AlignmentError naming them)."""
    problems = step_problems(db, engagement_id, step)
    if problems:
        raise AlignmentError(f"{STEP_TITLES[step]} is not complete: " + "; ".join(problems))
    engagement = get_engagement(db, engagement_id)
    engagement.wizard = {**engagement.wizard, step: DONE}  # a new dict, so the JSON column is saved
    touch(db, engagement, "wizard.step_completed", {"step": step})
    return engagement


def steps_done(engagement: Engagement) -> list[str]:
    return [step for step in STEPS if engagement.wizard.get(step) == DONE]


def next_step(engagement: Engagement) -> str | None:
    """The first step not yet done (where the wizard resumes), or None when aligned."""
    for step in STEPS:
        if engagement.wizard.get(step) != DONE:
            return step
    return None


def is_aligned(engagement: Engagement) -> bool:
    return next_step(engagement) is None
