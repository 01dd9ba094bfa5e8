"""What waits for the tester in an engagement: drafts to triage, findings in progress, interrupted runs,
and findings past their remediation due date (:mod:`app.remediation`).

Home shows these so that "OPEN –" never hides eleven drafts: a draft is not
open (nobody has confirmed it), but it is work. Counts come from the rows
themselves, and the sentence says only what the counts show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from app.lifecycle import STATUSES

if TYPE_CHECKING:
    from sqlmodel import Session

# A confirmed finding that still has a step ahead of it: open, being fixed, re-tested either way.
# Closed, dismissed and risk-accepted findings wait for nobody; drafts are counted apart.
IN_PROGRESS = tuple(s for s in STATUSES if s not in ("draft", "closed", "dismissed", "risk_accepted"))


@dataclass(frozen=True)
class Waiting:
    drafts: int
    in_progress: int
    interrupted: int
    overdue: int = 0  # findings in progress past their due date (a subset of in_progress)

    @property
    def anything(self) -> bool:
        return bool(self.drafts or self.in_progress or self.interrupted)

    def parts_by_kind(self) -> list[str]:
        """drafts, in progress, interrupted, overdue: a phrase for each (``11 drafts to triage``), "" for zero."""
        def plural(n: int, word: str) -> str:
            return f"{n} {word}{'s' if n != 1 else ''}"

        return [f"{plural(self.drafts, 'draft')} to triage" if self.drafts else "",
                f"{plural(self.in_progress, 'finding')} in progress" if self.in_progress else "",
                f"{plural(self.interrupted, 'run')} interrupted" if self.interrupted else "",
                f"{plural(self.overdue, 'finding')} OVERDUE" if self.overdue else ""]

    def parts(self) -> list[str]:
        """One phrase per non-zero count, in that order."""
        return [p for p in self.parts_by_kind() if p]


def waiting_work(db: Session, engagement_id: int, today: date | None = None) -> Waiting:
    """Count what waits, straight from the findings and runs of the engagement (overdue as of ``today``, UTC)."""
    from sqlalchemy import func
    from sqlmodel import select

    from app.finding_plans import overdue_count
    from app.runner.plan import today_utc
    from app.store.models import Finding, Run

    by_status = dict(db.exec(select(Finding.status, func.count()).where(
        Finding.engagement_id == engagement_id).group_by(Finding.status)).all())
    interrupted = db.exec(select(func.count()).select_from(Run).where(
        Run.engagement_id == engagement_id, Run.status == "interrupted")).one()
    return Waiting(drafts=by_status.get("draft", 0), in_progress=sum(by_status.get(s, 0) for s in IN_PROGRESS),
                   interrupted=int(interrupted), overdue=overdue_count(db, engagement_id, today or today_utc()))
