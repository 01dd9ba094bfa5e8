"""The runs of an engagement as a tester looks for them: their ids, states and verdicts, and what can be resumed.

``redline runs`` and the cockpit's run list read the same rows
(:func:`run_rows`); the rule for which runs can be resumed is the
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


@dataclass(frozen=True)
class RunRow:
    """One past run of an engagement, for the cockpit's run list."""

    run_id: int
    scenario_id: str
    system: str
    window: str
    status: str
    verdict: str
    ttft_ms: float | None
    tokens_per_s: float | None
    outcomes: tuple[tuple[str, str], ...]  # (detector, outcome) of each automatic verdict, as recorded
    strategy: str = ""  # the strategy chain of a variant run ("" for the plain scenario)


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

    engagement = db.get(Engagement, engagement_id)
    name = engagement.name if engagement is not None else str(engagement_id)
    return [RunListing(row, name) for row in run_rows(db, engagement_id, limit=limit)]


def run_rows(db: Session, engagement_id: int, limit: int = 200) -> list[RunRow]:
    """The engagement's latest runs, newest first, with TTFT, speed and the detectors' outcomes."""
    from sqlmodel import col, select

    from app.store.models import AISystem, Run, Scenario, TestWindow, Turn, Verdict

    runs = db.exec(select(Run).where(Run.engagement_id == engagement_id)
                   .order_by(Run.id.desc()).limit(limit)).all()  # type: ignore[union-attr]
    if not runs:
        return []
    ids = [r.id for r in runs]
    scenarios = {s.id: s.scenario_id for s in db.exec(select(Scenario).where(
        Scenario.id.in_({r.scenario_pk for r in runs}))).all()}  # type: ignore[union-attr]
    systems = {s.id: s.name for s in db.exec(select(AISystem).where(AISystem.engagement_id == engagement_id)).all()}
    windows = {w.id: w.name for w in db.exec(select(TestWindow).where(TestWindow.engagement_id == engagement_id)).all()}
    speed: dict[int, tuple[int, float]] = {}
    for run_id, tokens, ttft, total in db.exec(
            select(Turn.run_id, Turn.token_count, Turn.ttft_ms, Turn.total_ms)
            .where(col(Turn.run_id).in_(ids), Turn.status == "done")).all():
        rate_time = ((total or 0.0) - (ttft or 0.0)) / 1000.0 if total is not None else 0.0
        have = speed.get(run_id, (0, 0.0))
        speed[run_id] = (have[0] + (tokens or 0), have[1] + max(rate_time, 0.0))
    outcomes: dict[int, list[tuple[str, str]]] = {}
    for run_id, detector, outcome in db.exec(select(Verdict.run_id, Verdict.detector, Verdict.outcome)
                                             .where(col(Verdict.run_id).in_(ids), Verdict.source == "auto")
                                             .order_by(col(Verdict.id))).all():
        outcomes.setdefault(run_id, []).append((detector, outcome))
    rows = []
    for run in runs:
        tokens, seconds = speed.get(run.id or 0, (0, 0.0))
        ttft = ((run.metrics or {}).get("ttft_ms") or {}).get("p50")
        rows.append(RunRow(run.id or 0, scenarios.get(run.scenario_pk, "?"), systems.get(run.system_id, "?"),
                           windows.get(run.window_id, "") if run.window_id else "", run.status, run.verdict,
                           ttft, tokens / seconds if tokens and seconds > 0 else None,
                           tuple(outcomes.get(run.id or 0, ())), run.strategy or ""))
    return rows


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
