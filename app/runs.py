"""The runs of an engagement as a tester looks for them: their ids, states and verdicts, and what can be resumed.

``redline runs`` and the cockpit's run list read the same rows
(:func:`app.triage.run_rows`); the rule for which runs can be resumed is the
runner's (:data:`app.runner.recovery.RESUMABLE`). This module also records the
runs a tester planned but that never started because the cockpit was left
with them still queued: they leave an audit event each, never no trace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlmodel import Session

    from app.runner import PlannedRun
    from app.triage import RunRow

# Enough for any engagement a tester reads in a terminal; JSON callers can page with --limit.
DEFAULT_LIMIT = 500


@dataclass(frozen=True)
class RunListing:
    """One run, with whether it can be resumed and the command that would resume it."""

    row: RunRow
    engagement: str

    @property
    def resumable(self) -> bool:
        from app.runner.recovery import RESUMABLE

        return self.row.status in RESUMABLE

    @property
    def resume_command(self) -> str | None:
        return f"redline run {self.engagement} --resume {self.row.run_id}" if self.resumable else None

    def to_json(self) -> dict[str, Any]:
        r = self.row
        return {"run_id": r.run_id, "scenario_id": r.scenario_id, "strategy": r.strategy, "system": r.system,
                "window": r.window,
                "status": r.status, "verdict": r.verdict, "resumable": self.resumable,
                "resume": self.resume_command}


def list_runs(db: Session, engagement_id: int, *, limit: int = DEFAULT_LIMIT) -> list[RunListing]:
    """The engagement's runs, newest first."""
    from app.store.models import Engagement
    from app.triage import run_rows

    engagement = db.get(Engagement, engagement_id)
    name = engagement.name if engagement is not None else str(engagement_id)
    return [RunListing(row, name) for row in run_rows(db, engagement_id, limit=limit)]


def record_not_started(db: Session, engagement_id: int, planned: Sequence[PlannedRun], *, reason: str) -> int:
    """One ``run.not_started`` audit event per planned run that was dropped before it began; returns how many.

    A queued run has no Run row yet (the runner creates it when the run starts),
    so the audit chain is where a dropped plan is remembered: which scenario,
    against which system, in which window, and why it never ran.
    """
    from app.store import audit

    for item in planned:
        audit.record(db, engagement_id=engagement_id, action="run.not_started",
                     entity=f"scenario:{item.scenario.spec.id}",
                     payload={"scenario_id": item.scenario.spec.id, "system": item.system.name,
                              "window": item.window.name if item.window else None, "reason": reason})
    return len(planned)
