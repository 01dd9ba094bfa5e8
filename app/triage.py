"""Triage: a tester's reading of a transcript, turned into verdicts and findings.

The cockpit's run and triage screens call these functions; nothing here knows
about the UI. A human verdict is a new ``Verdict`` row with ``source="human"``
beside the detectors' automatic ones, never an overwrite. A finding made from a
selected span quotes the raw response text (offsets into what the model sent,
not into what the terminal shows) and goes through :mod:`app.findings`, so the
status rules and the audit trail are the same as everywhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.errors import RedlineError
from app.provenance import judge_grades, written_by
from app.store import audit
from app.store.coverage import verdict_digest, verdict_fields
from app.store.models import Finding, Run, Turn, Verdict

if TYPE_CHECKING:
    from sqlmodel import Session

HUMAN_OUTCOMES = ("pass", "fail", "review")  # what a tester may say: review = needs review (unsure)


class TriageError(RedlineError):
    """A verdict or finding the tester asked for cannot be recorded as given; nothing was written."""


@dataclass(frozen=True)
class VerdictView:
    """One verdict on a turn, as triage shows it (automatic or human)."""

    id: int
    source: str  # auto | human
    detector: str
    outcome: str
    reason: str
    actor: str
    created_at: datetime | None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class TurnView:
    """One stored turn with everything triage needs beside its text."""

    id: int
    run_id: int
    step: int
    sample: int
    kind: str
    identity: str
    status: str
    prompt: str  # what was sent (as stored: secrets removed)
    response: str  # the raw response text (untrusted)
    error_type: str = ""
    error_detail: str = ""
    ttft_ms: float | None = None
    total_ms: float | None = None
    tokens: int = 0
    auto: list[VerdictView] = field(default_factory=list)
    human: list[VerdictView] = field(default_factory=list)
    complete: bool = True  # False: ``response`` is only the start of the stored text (see load_transcript)
    author: str = ""  # the attacker system that wrote the prompt; "" for the scenario's own text
    original: str = ""  # in a strategy variant, the step's message before the strategy; "" otherwise

    @property
    def judges(self) -> list[dict[str, Any]]:
        """The model judges' grades of this turn (see :func:`judge_grades`)."""
        return judge_grades(self.auto)

    @property
    def human_outcome(self) -> str:
        """The tester's latest word on this turn ("" when nobody has triaged it)."""
        return self.human[-1].outcome if self.human else ""

    @property
    def tokens_per_s(self) -> float | None:
        return tokens_per_second(self.tokens, self.ttft_ms, self.total_ms)


@dataclass
class RunTranscript:
    """A run and its turns in the order they were sent."""

    run_id: int
    engagement_id: int
    scenario_id: str
    scenario_title: str
    controls: list[str]
    system: str
    window: str
    status: str
    verdict: str
    turns: list[TurnView]
    strategy: str = ""  # the strategy chain of a variant run ("" for the plain scenario)

    @property
    def complete(self) -> bool:
        """Every response is whole (none was cut to its start by ``load_transcript(..., longest=...)``)."""
        return all(t.complete for t in self.turns)

    def turn_index(self, turn_id: int | None) -> int:
        """Position of ``turn_id`` among the turns (0 when absent)."""
        return next((i for i, t in enumerate(self.turns) if t.id == turn_id), 0)


def tokens_per_second(tokens: int, ttft_ms: float | None, total_ms: float | None) -> float | None:
    """Generation speed after the first token: what "tok/s" means on the run screen; None when unmeasured."""
    if not tokens or total_ms is None:
        return None
    generating = (total_ms - (ttft_ms or 0.0)) / 1000.0
    return tokens / generating if generating > 0 else None


def _verdict_view(v: Verdict) -> VerdictView:
    return VerdictView(v.id or 0, v.source, v.detector, v.outcome, v.reason, v.actor, v.created_at,
                       dict(v.evidence or {}))


def load_transcript(db: Session, run_id: int, longest: int | None = None) -> RunTranscript:
    """The run's turns (by sample, then step) with their automatic and human verdicts.

    With ``longest``, a response longer than that many characters is read as
    its start only (``TurnView.complete`` is False): SQLite cuts it, so a
    10 MB reply costs its first screenful, and a screen can draw at once and
    read the whole text afterwards, off its UI loop.
    """
    from sqlalchemy import func
    from sqlalchemy.orm import defer
    from sqlmodel import select

    from app.store.models import AISystem, Scenario, TestWindow
    from app.strategies.variants import original_prompts

    run = db.get(Run, run_id)
    if run is None:
        raise TriageError(f"there is no run {run_id}")
    scenario = db.get(Scenario, run.scenario_pk)
    system = db.get(AISystem, run.system_id)
    window = db.get(TestWindow, run.window_id) if run.window_id else None
    # The raw response bytes can be megabytes each and triage never shows them; the text is cut if asked.
    text = Turn.response_text if longest is None else func.substr(Turn.response_text, 1, longest)
    query = select(Turn, text, func.length(Turn.response_text))
    query = query.options(defer(Turn.response_raw), defer(Turn.response_text))  # type: ignore[arg-type]
    query = query.where(Turn.run_id == run_id).order_by(Turn.sample, Turn.step, Turn.id)  # type: ignore[arg-type]
    rows = db.exec(query).all()
    verdicts = db.exec(select(Verdict).where(Verdict.run_id == run_id).order_by(Verdict.id)).all()  # type: ignore[arg-type]
    by_turn: dict[int | None, list[Verdict]] = {}
    for verdict in verdicts:
        by_turn.setdefault(verdict.turn_id, []).append(verdict)
    originals = original_prompts(run.variant) if run.strategy else {}
    views = []
    for t, response, length in rows:
        judged = by_turn.get(t.id, [])
        views.append(TurnView(
            id=t.id or 0, run_id=run_id, step=t.step, sample=t.sample, kind=t.kind, identity=t.identity,
            status=t.status, prompt=str((t.request or {}).get("prompt", "")), response=response or "",
            error_type=t.error_type, error_detail=t.error_detail, ttft_ms=t.ttft_ms, total_ms=t.total_ms,
            tokens=t.token_count,
            auto=[_verdict_view(v) for v in judged if v.source != "human"],
            human=[_verdict_view(v) for v in judged if v.source == "human"],
            author=written_by(t.request), original=originals.get(t.step, ""),
            complete=len(response or "") >= (length or 0),
        ))
    return RunTranscript(
        run_id=run_id, engagement_id=run.engagement_id, scenario_id=scenario.scenario_id if scenario else "",
        scenario_title=scenario.title if scenario else "", controls=list(scenario.controls) if scenario else [],
        system=system.name if system else "", window=window.name if window else "", status=run.status,
        verdict=run.verdict, turns=views, strategy=run.strategy or "",
    )


def _turn_of(db: Session, run_id: int, turn_id: int) -> tuple[Run, Turn]:
    run = db.get(Run, run_id)
    turn = db.get(Turn, turn_id)
    if run is None or turn is None or turn.run_id != run_id:
        raise TriageError(f"run {run_id} has no turn {turn_id}")
    return run, turn


def record_human_verdict(db: Session, *, run_id: int, turn_id: int, outcome: str, reason: str,
                         actor: str = "", evidence: dict[str, Any] | None = None) -> Verdict:
    """A tester's verdict on one turn: a new row beside the automatic ones, and an audit event.

    ``outcome`` is pass, fail or review (needs review); the reason is mandatory,
    because an auditor reading a human override will ask why.
    """
    if outcome not in HUMAN_OUTCOMES:
        raise TriageError(f"a verdict is one of {', '.join(HUMAN_OUTCOMES)}, not {outcome!r}")
    if not reason.strip():
        raise TriageError("a verdict needs a reason")
    run, _turn = _turn_of(db, run_id, turn_id)
    actor = actor or audit.default_actor()
    from sqlmodel import select

    auto = list(db.exec(select(Verdict).where(Verdict.turn_id == turn_id, Verdict.source == "auto")).all())
    kept = dict(evidence or {})
    judges = judge_grades(auto)
    if judges:  # an override of a model judge keeps what the judge said, beside the tester's word
        kept["judges"] = judges
    verdict = Verdict(run_id=run_id, turn_id=turn_id, source="human", detector="", outcome=outcome,
                      reason=reason.strip(), evidence=kept, actor=actor)
    db.add(verdict)
    db.flush()
    payload: dict[str, Any] = {"run_id": run_id, "turn_id": turn_id, "outcome": outcome, "reason": verdict.reason,
                               "automatic": [v.outcome for v in auto]}
    if judges:
        payload["judges"] = judges
    payload["sha256"] = verdict_digest(verdict_fields(verdict))
    audit.record(db, engagement_id=run.engagement_id, action="verdict.human", actor=actor,
                 entity=f"verdict:{verdict.id}", payload=payload)
    return verdict


def evidence_span(text: str, start: int, end: int) -> dict[str, Any]:
    """``{"start", "end", "quote"}`` for a span of a response's raw text; out-of-range spans are refused."""
    if not 0 <= start < end <= len(text):
        raise TriageError(f"the selection {start}..{end} is not inside the response ({len(text)} characters)")
    return {"start": start, "end": end, "quote": text[start:end]}


def check_controls(controls: Sequence[str], catalog: Any = None) -> list[str]:
    """The controls normalised (upper case, once each, in order); an id the catalog lacks is refused."""
    from app.catalog import load_catalog

    catalog = catalog or load_catalog()
    cleaned = list(dict.fromkeys(c.strip().upper() for c in controls if c.strip()))
    if not cleaned:
        raise TriageError("a finding needs at least one criterion or AI control")
    unknown = [c for c in cleaned if catalog.get(c) is None]
    if unknown:
        raise TriageError(f"unknown criterion or control: {', '.join(unknown)} "
                          "(see `redline catalog` for the ids)")
    return cleaned


@dataclass
class FindingDraft:
    """What the finding form opens with; the tester edits any of it before saving."""

    title: str
    severity: str
    impact: str
    controls: list[str]
    crosswalk: dict[str, dict[str, str]]
    steps_to_reproduce: str
    evidence: dict[str, Any]
    scenario_id: str
    run_id: int
    turn_id: int
    # The findings this run already shows (filed from it, or it is an occurrence of them): the form offers them first.
    run_findings: list[int] = field(default_factory=list)


def reproduction_steps(db: Session, run_id: int, turn_id: int) -> str:
    """Numbered steps to reproduce ``turn_id``: the requests sent before it in the same conversation.

    Built by the runner's own :func:`app.runner.judge.steps_to_reproduce` from
    the stored turns, so a finding made by hand reads like one the runner filed.
    """
    from sqlmodel import col, select

    from app.runner import TurnLog, spec_from_snapshot
    from app.runner.judge import RunJudgement, steps_to_reproduce
    from app.store.models import AISystem, Scenario, TestWindow

    run, turn = _turn_of(db, run_id, turn_id)
    scenario = db.get(Scenario, run.scenario_pk)
    system = db.get(AISystem, run.system_id)
    if scenario is None or system is None:
        raise TriageError(f"run {run_id} lost its scenario or system")
    window = db.get(TestWindow, run.window_id) if run.window_id else None
    turns = db.exec(select(Turn).where(Turn.run_id == run_id)
                    .order_by(Turn.sample, Turn.step, Turn.id)).all()  # type: ignore[arg-type]
    log = [TurnLog(t.step, t.sample, t.kind, t.identity, str((t.request or {}).get("prompt", "")), t.id,
                   t.status, t.response_text, t.error_type, t.total_ms) for t in turns]
    judged = db.exec(select(Verdict).where(Verdict.turn_id == turn_id).order_by(col(Verdict.id))).all()
    # "Observed" quotes the tester's latest verdict when there is one, else the first failing detector.
    humans = [v for v in judged if v.source == "human"]
    observed = (Verdict(run_id=run_id, turn_id=turn_id, detector=f"tester {humans[-1].actor}".strip(),
                        outcome=humans[-1].outcome, reason=humans[-1].reason) if humans
                else next((v for v in judged if v.outcome == "fail"), None))
    judgement = RunJudgement(verdict=run.verdict or "fail", metrics={}, failing_turn=turn, failing_verdict=observed)
    return steps_to_reproduce(run, system, spec_from_snapshot(scenario), log, judgement,
                              window.name if window else None)


def draft_finding(db: Session, *, run_id: int, turn_id: int, start: int, end: int,
                  catalog: Any = None) -> FindingDraft:
    """A finding pre-filled from the run: the scenario's title and controls, the seed's severity and
    SOC 2 impact for those controls (:meth:`Catalog.impact_for`), the crosswalk, the steps to
    reproduce, and the quoted span."""
    from app.catalog import load_catalog
    from app.occurrences import findings_of_run
    from app.store.models import Scenario

    catalog = catalog or load_catalog()
    run, turn = _turn_of(db, run_id, turn_id)
    scenario = db.get(Scenario, run.scenario_pk)
    controls = list(scenario.controls) if scenario else []
    impact_row = catalog.impact_for(controls)
    severity = impact_row.finding_severity if impact_row is not None else (scenario.severity if scenario else "")
    return FindingDraft(
        title=scenario.title if scenario else f"run {run_id}",
        severity=severity if severity in ("high", "medium", "low") else "medium",
        impact=impact_row.soc2_impact if impact_row is not None else "",
        controls=controls, crosswalk=catalog.crosswalks_for(controls),
        steps_to_reproduce=reproduction_steps(db, run_id, turn_id),
        evidence=evidence_span(turn.response_text, start, end),
        scenario_id=scenario.scenario_id if scenario else "", run_id=run_id, turn_id=turn_id,
        run_findings=findings_of_run(db, run_id),
    )


def finding_from_span(db: Session, *, run_id: int, turn_id: int, start: int, end: int, title: str,
                      severity: str, impact: str, controls: Iterable[str], steps_to_reproduce: str = "",
                      notes: str = "", actor: str = "", catalog: Any = None) -> Finding:
    """A new draft finding quoting ``[start, end)`` of the turn's response, through :func:`app.findings.create_finding`."""
    from app.findings import create_finding
    from app.store.models import Scenario

    if not title.strip():
        raise TriageError("a finding needs a title")
    checked = check_controls(list(controls), catalog)
    run, turn = _turn_of(db, run_id, turn_id)
    scenario = db.get(Scenario, run.scenario_pk)
    evidence = evidence_span(turn.response_text, start, end)
    return create_finding(
        db, engagement_id=run.engagement_id, title=title.strip(), actor=actor,
        reason=f"made in triage from turn {turn_id} of run {run_id}",
        severity=severity, impact=impact.strip(), controls=checked,
        scenario_id=scenario.scenario_id if scenario else "", run_id=run_id, turn_id=turn_id,
        evidence=evidence, steps_to_reproduce=steps_to_reproduce, notes=notes,
    )


def extend_finding(db: Session, finding_id: int, *, run_id: int, turn_id: int, start: int, end: int,
                   reason: str = "", actor: str = "") -> Finding:
    """Add a quoted span to an existing finding's evidence (``evidence["additional"]``), via
    :func:`app.findings.update_finding` so the change is audited with before and after."""
    from app.findings import update_finding

    finding = db.get(Finding, finding_id)
    run, turn = _turn_of(db, run_id, turn_id)
    if finding is None or finding.engagement_id != run.engagement_id:
        raise TriageError(f"finding {finding_id} is not in this run's engagement")
    span = dict(evidence_span(turn.response_text, start, end), run_id=run_id, turn_id=turn_id)
    evidence = dict(finding.evidence or {})
    if not evidence.get("quote"):
        evidence.update(span)  # a finding without evidence takes this span as its own
    else:
        evidence["additional"] = [*evidence.get("additional", []), span]
    return update_finding(db, finding, evidence=evidence, actor=actor,
                          reason=reason or f"evidence added in triage from turn {turn_id} of run {run_id}")
