"""Manual steps: what the tester does or observes by hand, and the outcome they record.

Some controls cannot be called: a failover is triggered by the client's
on-call engineer, an alert review lives in a SIEM the tester may only look at.
A scenario step ``type: manual`` puts the instruction to the tester as a
checklist item inside the run; the tester records pass or fail with a note
(and, optionally, a reference to an attached file). The record is a human
verdict like any other (:func:`app.triage.record_human_verdict`): a new row,
never an overwrite, in the audit chain with its digest.

Until it is recorded the step's outcome is ``review``, so the run can never
pass on what nobody checked. Recording it judges the run again from the store
(:func:`app.runner.judge.rollup`), records the change in the chain, and files
the draft finding when the run now fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.errors import RedlineError
from app.runner.manual_verdicts import PENDING_REASON, _latest_human, manual_judgements  # noqa: F401
from app.store.models import Run, Turn

if TYPE_CHECKING:
    from sqlmodel import Session

MANUAL_OUTCOMES = ("pass", "fail")


class ManualStepError(RedlineError):
    """The outcome cannot be recorded as asked; nothing was written."""


@dataclass(frozen=True)
class ManualItem:
    """One manual step of a run, as the checklist shows it."""

    run_id: int
    turn_id: int
    step: int
    sample: int
    instruction: str  # scenario text (shown literally)
    outcome: str  # pass | fail | "" (not recorded)
    note: str = ""
    actor: str = ""
    recorded_at: datetime | None = None
    attachment: str | None = None  # the attached file's reference, when the tester gave one

    @property
    def pending(self) -> bool:
        return not self.outcome


def checklist(db: Session, run_id: int) -> list[ManualItem]:
    """The run's manual steps in order, each with its recorded outcome or pending."""
    from sqlmodel import select

    turns = list(db.exec(select(Turn).where(Turn.run_id == run_id, Turn.kind == "manual")
                         .order_by(Turn.sample, Turn.step)).all())  # type: ignore[arg-type]
    latest = _latest_human(db, [t.id for t in turns if t.id is not None])
    items = []
    for turn in turns:
        v = latest.get(turn.id or 0)
        items.append(ManualItem(run_id, turn.id or 0, turn.step, turn.sample, str(turn.request.get("prompt", "")),
                                v.outcome if v else "", v.reason if v else "", v.actor if v else "",
                                v.created_at if v else None, (v.evidence or {}).get("attachment") if v else None))
    return items


def pending_for_engagement(db: Session, engagement_id: int) -> list[ManualItem]:
    """Every manual step of the engagement's finished runs that awaits the tester."""
    from sqlmodel import select

    run_ids = db.exec(select(Turn.run_id).join(Run, Run.id == Turn.run_id).where(  # type: ignore[arg-type]
        Run.engagement_id == engagement_id, Turn.kind == "manual").distinct()).all()
    return [item for run_id in sorted(run_ids) for item in checklist(db, run_id) if item.pending]


def record_manual_outcome(db: Session, *, run_id: int, step: int, outcome: str, note: str, sample: int = 0,
                          actor: str = "", attachment: str | None = None) -> str:
    """Record the tester's outcome of a manual step and judge the run again; returns the run's verdict.

    ``attachment`` is the id of a file attached as evidence of the observation
    (``redline attach``); the verdict keeps it with the file's SHA-256, in the
    audit chain. An id the engagement has no attachment for is refused.
    """
    from sqlmodel import select

    from app.store import audit
    from app.triage import record_human_verdict

    if outcome not in MANUAL_OUTCOMES:
        raise ManualStepError(f"a manual step's outcome is one of {', '.join(MANUAL_OUTCOMES)}, not {outcome!r}")
    if not note.strip():
        raise ManualStepError("a manual step's outcome needs a note saying what was done and observed")
    run = db.get(Run, run_id)
    if run is None:
        raise ManualStepError(f"there is no run {run_id}")
    turn = db.exec(select(Turn).where(Turn.run_id == run_id, Turn.step == step, Turn.sample == sample)).first()
    if turn is None or turn.kind != "manual":
        steps = sorted({t.step for t in db.exec(select(Turn).where(Turn.run_id == run_id,
                                                                     Turn.kind == "manual")).all()})
        known = ", ".join(str(s + 1) for s in steps) or "none"
        raise ManualStepError(f"step {step + 1} of run {run_id} is not a manual step (manual steps: {known})")
    if run.status not in ("finished", "cancelled", "interrupted"):
        raise ManualStepError(f"run {run_id} is {run.status}; record the step once the run has ended")
    evidence: dict[str, Any] = {"manual": True, "step": step, "attachment": attachment or None}
    if attachment:
        evidence.update(_attached(db, run.engagement_id, attachment))
    record_human_verdict(db, run_id=run_id, turn_id=turn.id or 0, outcome=outcome, reason=note,
                         actor=actor, evidence=evidence)
    return _judge_again(db, run, actor or audit.default_actor(), step)


def _attached(db: Session, engagement_id: int, ref: str) -> dict[str, Any]:
    """The attached file a manual outcome cites, pinned by its digest; an unknown reference is refused."""
    from app.attachments import list_attachments

    rows = list_attachments(db, engagement_id)
    found = next((r for r in rows if str(r.id) == ref.strip().lstrip("#")), None)
    if found is None:
        known = ", ".join(f"{r.id} ({r.filename})" for r in rows) or "none yet: `redline attach` adds one"
        raise ManualStepError(f"no attachment {ref!r} in this engagement (attachments: {known})")
    return {"attachment": str(found.id), "attachment_sha256": found.sha256, "attachment_name": found.filename}


def _judge_again(db: Session, run: Run, actor: str, step: int) -> str:
    """The run's verdict from its stored turns and verdicts, recorded when it changes."""
    from app.runner.execute import spec_from_snapshot
    from app.runner.judge import create_run_finding, rollup, settle
    from app.store import audit
    from app.store.models import AISystem, Scenario, TestWindow

    scenario = db.get(Scenario, run.scenario_pk)
    system = db.get(AISystem, run.system_id)
    assert scenario is not None and system is not None
    spec = spec_from_snapshot(scenario)
    judgement = rollup(db, run.id or 0, spec)
    before = run.verdict
    after = settle(judgement.verdict, run.status)
    metrics = dict(run.metrics or {})
    metrics.update(judgement.metrics)
    if "manual_pending" in metrics and not judgement.metrics.get("manual_pending"):
        metrics["manual_pending"] = []
    run.verdict, run.metrics = after, metrics
    db.add(run)
    db.flush()
    findings: list[int] = []
    if run.status == "finished" and after == "fail":
        window = db.get(TestWindow, run.window_id) if run.window_id else None
        finding_id = create_run_finding(db, run, system, spec, judgement, [], window.name if window else None)
        if finding_id is not None:
            findings.append(finding_id)
    audit.record(db, engagement_id=run.engagement_id, action="run.rejudged", actor=actor, entity=f"run:{run.id}",
                 payload={"why": f"manual step {step + 1} recorded", "verdict_before": before, "verdict": after,
                          "manual_pending": len(judgement.metrics.get("manual_pending", [])), "findings": findings})
    return after
