"""Judging turns and runs: detector verdicts, the run's roll-up, and the draft finding on failure.

Per turn, every applicable detector stores an automatic ``Verdict``. The
turn's own outcome is the strongest thing a detector saw
(:func:`app.detectors.aggregate.combine_verdicts`): ``fail`` over ``review``
over ``pass``, and ``error`` only when no detector could judge the turn at all,
or when a model judge could not grade it (its rubric went unchecked); a
``status`` detector that expects a 401 judges an errored turn explicitly, so
its pass stands. A model judge's grade (verdict, reason, judge prompt version
and hash) is stored in its verdict's evidence, which the audit chain digests. The run's verdict is
:func:`app.detectors.aggregate` of the turn outcomes under the scenario's
``pass_criteria``, read back from the store so a resumed run counts the turns
of its first attempt too. A turn that ended in a target fault or was cancelled
and that no detector judged (a planting step with no detector of its own
included) is an ``error`` outcome, never left out: the metrics name each such
turn under ``inconclusive``. A run that did not finish never passes
(:func:`settle`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.detectors import TurnObservation, aggregate, evaluate_all
from app.detectors.aggregate import WITHHOLDS_PASS, combine_verdicts
from app.detectors.judge import GRADES_KEY, grade_key
from app.events import VerdictRecorded
from app.store.models import Turn, Verdict, utcnow

MANUAL_KIND = "manual"  # the turn of a manual step (app.runner.steps): the tester records its outcome

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

    from app.events import RunnerEvent
    from app.formats.scenario import DetectorSpec, ScenarioSpec
    from app.runner.turns import TurnLog
    from app.store.models import AISystem, Run


def canaries_for(system: AISystem, spec: ScenarioSpec) -> list[str]:
    """The system's planted canaries plus any tokens the scenario's canary detectors name."""
    tokens = list(system.target.get("canaries") or [])
    for det in spec.detectors:
        if det.type == "canary":
            tokens.extend(t for t in det.params.get("tokens") or [] if isinstance(t, str))
    return list(dict.fromkeys(tokens))


def observation(text: str, *, kind: str, http_status: int | None, error_type: str,
                ttft_ms: float | None, total_ms: float | None, canaries: Sequence[str],
                documented: Sequence[str], recall: Sequence[str], identity: str,
                models: tuple[str, ...] = ()) -> TurnObservation:
    """What detectors see of one turn; the context keys are those app.detectors.CONTEXT_KEYS lists."""
    return TurnObservation(
        text=text, kind=kind, http_status=http_status, error_type=error_type, ttft_ms=ttft_ms,
        total_ms=total_ms, models=models,
        context={"canaries": list(canaries), "documented_models": list(documented),
                 "recall": list(dict.fromkeys(r for r in recall if r)), "identity": identity},
    )


def judge_turn(engine: Engine, run_id: int, turn_id: int, step_index: int, spec: ScenarioSpec,
               obs: TurnObservation, emit: Callable[[RunnerEvent], None] | None) -> str | None:
    """Store one automatic Verdict per applicable detector (one transaction) and announce them."""
    from sqlalchemy import insert

    results = evaluate_all(spec.detectors, obs, step_index)
    if not results:
        return None
    rows: list[dict[str, Any]] = [
        {"run_id": run_id, "turn_id": turn_id, "source": "auto", "detector": det.name or det.type,
         "outcome": result.outcome, "reason": result.reason,
         "evidence": {**result.evidence(obs.text), **graded_evidence(det, result.outcome, obs)},
         "actor": "", "created_at": utcnow()} for det, result in results]
    with engine.begin() as conn:
        conn.execute(insert(Verdict.__table__), rows)  # type: ignore[attr-defined]
    if emit is not None:
        for row in rows:
            emit(VerdictRecorded(run_id, turn_id, row["detector"], row["outcome"], row["reason"]))
    return combine_verdicts((row["outcome"], row["evidence"]) for row in rows)


def graded_evidence(det: DetectorSpec, outcome: str, obs: TurnObservation) -> dict[str, Any]:
    """For a model judge: its grade as given (or the fault that kept it from grading) beside the verdict,
    and, when it could not grade, the flag that keeps the turn from passing."""
    if det.type != "judge":
        return {}
    grade = (obs.context.get(GRADES_KEY) or {}).get(grade_key(det.params))
    extra: dict[str, Any] = {"judge": grade if isinstance(grade, dict) else {"system": det.params.get("judge"),
                                                                             "error": "not graded"}}
    if outcome == "error":
        extra[WITHHOLDS_PASS] = True
    return extra


@dataclass
class RunJudgement:
    """The run's verdict, its rates, and where it first failed."""

    verdict: str
    metrics: dict[str, Any]
    failing_turn: Turn | None = None
    failing_verdict: Verdict | None = None
    turns: list[Turn] = field(default_factory=list)  # every turn, without its text or raw body


# What judging and the run's metrics read of a turn: never the text or the raw body,
# which can be megabytes each.
_TURN_FACTS = ("id", "run_id", "step", "sample", "kind", "status", "error_type", "error_detail", "http_status",
               "ttft_ms", "total_ms", "model_id", "system_fingerprint")
# How many inconclusive turns the run's metrics name one by one (the count is always complete).
INCONCLUSIVE_LISTED = 20
# Statuses of a turn that got an answer, or a typed fault, or was stopped: anything else is still open.
_UNANSWERED = ("error", "cancelled")


def turn_outcome(turn: Turn, judged: Sequence[Verdict]) -> str | None:
    """A stored turn's outcome: its detectors' combined verdict; ``error`` for an errored or cancelled
    turn no detector judged; None for an answered turn that no detector needs."""
    outcome = combine_verdicts((v.outcome, v.evidence) for v in judged)
    if outcome is None and turn.status in _UNANSWERED:
        return "error"
    return outcome


def inconclusive_entry(turn: Turn, judged: Sequence[Verdict]) -> dict[str, Any]:
    """Why one turn could not be judged, for the run's metrics and every sentence built from them."""
    if turn.status == "cancelled":
        why = turn.error_detail or "cancelled"
    elif turn.error_type:
        why = turn.error_detail or turn.error_type
    else:
        why = next((v.reason for v in judged if v.outcome == "error"), "no detector could judge it")
    return {"turn": turn.id, "step": turn.step, "sample": turn.sample, "status": turn.status,
            "error_type": turn.error_type or ("cancelled" if turn.status == "cancelled" else ""),
            "http_status": turn.http_status, "detail": why[:200]}


def settle(verdict: str, status: str) -> str:
    """The verdict a run may carry with this status: one that did not finish (cancelled,
    interrupted) never passes and never awaits review; what it did not run could have failed."""
    if status != "finished" and verdict in ("pass", "review"):
        return "error"
    return verdict


def rollup(db: Session, run_id: int, spec: ScenarioSpec) -> RunJudgement:
    """Aggregate the stored automatic verdicts of every turn of the run."""
    from sqlalchemy.orm import load_only
    from sqlmodel import select

    facts = [getattr(Turn, name) for name in _TURN_FACTS]
    turns = list(db.exec(select(Turn).options(load_only(*facts)).where(Turn.run_id == run_id)
                         .order_by(Turn.sample, Turn.step)).all())  # type: ignore[arg-type]
    verdicts = list(db.exec(select(Verdict).where(Verdict.run_id == run_id, Verdict.source == "auto")
                            .order_by(Verdict.id)).all())  # type: ignore[arg-type]
    by_turn: dict[int, list[Verdict]] = {}
    for stored in verdicts:
        by_turn.setdefault(stored.turn_id or 0, []).append(stored)
    from app.runner.manual_verdicts import manual_judgements

    # A manual step is judged by the tester alone: their latest recorded outcome, or "review" (pending).
    manual, pending = manual_judgements(db, [t for t in turns if t.kind == MANUAL_KIND])
    by_turn.update(manual)
    outcomes: list[str] = []
    inconclusive: list[dict[str, Any]] = []
    failing: tuple[Turn, Verdict] | None = None
    for turn in turns:
        judged = by_turn.get(turn.id or 0, [])
        outcome = turn_outcome(turn, judged)
        if outcome is None:
            continue
        outcomes.append(outcome)
        if outcome == "error":
            inconclusive.append(inconclusive_entry(turn, judged))
        if outcome == "fail" and failing is None:
            failing = (turn, next(v for v in judged if v.outcome == "fail"))
    verdict, metrics = aggregate(outcomes, spec.pass_criteria)
    metrics["inconclusive"] = inconclusive[:INCONCLUSIVE_LISTED]
    if manual or pending:
        metrics["manual_pending"] = pending
    failing_turn, failing_verdict = failing if failing is not None else (None, None)
    return RunJudgement(verdict, metrics, failing_turn, failing_verdict, turns=turns)


def steps_to_reproduce(run: Run, system: AISystem, spec: ScenarioSpec, log: list[TurnLog],
                       judgement: RunJudgement, window: str | None) -> str:
    """Numbered steps an engineer can follow by hand: target, model, time, then each request sent."""
    from app.formats.scenario import BurstStep

    target = system.target
    where = target.get("base_url") or "the built-in demo AI system"
    model = run.model_id or target.get("model") or "the configured model"
    started = run.started_at.strftime("%Y-%m-%d %H:%M UTC") if run.started_at else "unknown time"
    lines = [
        f"Target: {system.name} ({target.get('kind', '?')} endpoint at {where}), model {model}.",
        f"Run {run.id} of scenario {spec.id}, started {started}" + (f" in test window {window}." if window else "."),
        "",
    ]
    failing = judgement.failing_turn
    steps = spec.all_steps

    def repetition(step: int, sample: int) -> int:
        # A burst's turns number its requests across repetitions (sample * requests + i).
        # An adaptive step's turns do the same with its attack turns (sample * max_turns + i).
        kind = steps[step].type if step < len(steps) else ""
        per = getattr(steps[step], "requests" if kind == "burst" else "max_turns", 0) \
            if kind in ("burst", "adaptive") else 0
        return sample // per if per else sample

    wanted = repetition(failing.step, failing.sample) if failing is not None else 0
    seen_bursts: set[int] = set()
    number = 0
    for entry in log:
        if repetition(entry.step, entry.sample) != wanted:
            continue
        if entry.kind == "burst":
            if entry.step in seen_bursts:
                continue
            seen_bursts.add(entry.step)
            burst = steps[entry.step]
            assert isinstance(burst, BurstStep)  # a burst entry comes from a burst step
            action = f"send {burst.requests} identical requests, " \
                     f"{burst.concurrency} at a time: {_quote(entry.prompt)}"
        elif entry.kind == "chat":
            action = f"send the chat message {_quote(entry.prompt)}"
        elif entry.kind == "list_models":
            action = "list the models the endpoint serves"
        else:
            action = f"call {entry.prompt}"
        number += 1
        lines.append(f"{number}. As identity '{entry.identity}', {action}")
        if failing is not None and entry.step == failing.step and (entry.kind == "burst" or entry.sample == failing.sample):
            break
    if failing is not None and judgement.failing_verdict is not None:
        v = judgement.failing_verdict
        lines += ["", f"Observed (turn {failing.id}, step {failing.step + 1}): {v.detector}: {v.reason}"]
    if spec.expected:
        lines += [f"Expected: {spec.expected.strip()}"]
    return "\n".join(lines)


def _quote(text: str) -> str:
    return '"' + text.replace("\n", "\n   ") + '"'


def create_run_finding(db: Session, run: Run, system: AISystem, spec: ScenarioSpec,
                       judgement: RunJudgement, log: list[TurnLog], window: str | None) -> int | None:
    """The finding a failed run shows: a new draft, or another occurrence of the weakness's finding.

    :mod:`app.occurrences` holds the rule: while the finding for this scenario
    and system is not remediated, the run is added to it; after a passing
    re-test or closure, a new draft is filed as a regression of it. A resumed
    run keeps the finding it already has.
    """
    from app.findings import create_finding
    from app.occurrences import REGRESSION_STATUSES, add_occurrence, finding_for_weakness, findings_of_run

    if run.retest_of is not None:
        return None  # a failing re-test moves the finding it re-tests (app.retest); it files no second one
    already = findings_of_run(db, run.id or 0)
    if already:
        return already[0]
    evidence: dict[str, Any] = {}
    if judgement.failing_verdict is not None:
        evidence = dict(judgement.failing_verdict.evidence or {})
        evidence.update(detector=judgement.failing_verdict.detector, reason=judgement.failing_verdict.reason)
    turn_id = judgement.failing_turn.id if judgement.failing_turn is not None else None
    known = finding_for_weakness(db, run.engagement_id, spec.id, system.id or 0)
    if known is not None and known.status not in REGRESSION_STATUSES:
        add_occurrence(db, known, run.id or 0, turn_id, evidence)
        return known.id
    impact = spec.impact.strip()
    if not impact:
        from app.catalog import load_catalog

        row = load_catalog().impact_for(spec.controls)
        impact = row.soc2_impact if row is not None else ""
    why = f"run {run.id} failed: {judgement.metrics.get('fails', 0)} of {judgement.metrics.get('judged', 0)} judged turns failed"
    if known is not None:
        why += f"; the weakness is back after finding {known.id} was {known.status.replace('_', ' ')}"
    finding = create_finding(
        db, engagement_id=run.engagement_id, title=spec.title, severity=spec.severity, impact=impact,
        controls=list(spec.controls), scenario_id=spec.id, run_id=run.id, turn_id=turn_id,
        evidence=evidence, steps_to_reproduce=steps_to_reproduce(run, system, spec, log, judgement, window),
        regression_of=known.id if known is not None else None, reason=why,
    )
    return finding.id
