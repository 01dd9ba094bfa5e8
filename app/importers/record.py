"""Writing an imported report into the store as runs, turns and verdicts, covered by the audit chain.

Each probe (or plugin) becomes one run of a scenario that names the tool, its probe and the mapping it came
through; each output becomes a turn, each tool judgement an automatic verdict. The run is judged by the
runner's own roll-up (:func:`app.runner.judge.rollup`) and a failing run files its draft finding as a
native run does, so imported evidence flows through triage, findings, re-tests and the bundle unchanged.
Its ``run.finished`` event carries the digests of its turns and verdicts, as a native run's does. All of it
is written in one transaction: a report that fails half-way leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.formats.scenario import PassCriteria
from app.importers.mapping import Mapped, MappingTable
from app.importers.model import ImportedProbe, ImportedReport, ReportImportError
from app.store.models import utcnow

if TYPE_CHECKING:
    from sqlmodel import Session

    from app.store.models import AISystem, Engagement, Run


@dataclass(frozen=True)
class ImportedScenario:
    """What judging a run and filing its draft finding read of a scenario, for a probe another tool ran."""

    id: str
    title: str
    severity: str
    controls: list[str]
    impact: str = ""
    expected: str = ""
    pass_criteria: PassCriteria = field(default_factory=PassCriteria)
    all_steps: tuple[Any, ...] = ()


@dataclass(frozen=True)
class StepLog:
    """One request the tool sent, as the reproduction steps read it (the fields of the runner's TurnLog)."""

    step: int
    sample: int
    kind: str
    identity: str
    prompt: str


@dataclass
class ImportSummary:
    tool: str
    version: str
    runs: list[tuple[int, str, str]] = field(default_factory=list)  # (run id, probe, verdict)
    turns: int = 0
    unmapped: list[str] = field(default_factory=list)  # probes that map to no control
    findings: list[int] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def scenario_id_for(tool: str, probe: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", probe.lower()).strip("-._") or "probe"
    return f"{tool}.{slug}"[:120]


def _scenario_row(db: Session, report: ImportedReport, probe: ImportedProbe, mapped: Mapped) -> Any:
    import yaml
    from sqlmodel import select

    from app.store.models import Scenario

    scenario_id, title = scenario_id_for(report.tool, probe.name), f"{report.tool} {probe.name}: the attack worked"
    spec: dict[str, Any] = {
        "id": scenario_id,
        "title": title,
        "category": mapped.category, "controls": mapped.controls, "owasp": mapped.owasp, "atlas": mapped.atlas,
        "severity": mapped.severity,
        "description": f"Attempts of {report.tool}'s {probe.name}, imported from {report.source}.",
        "tags": ["imported", report.tool],
        # Not a runnable scenario: it records what another tool ran. A re-test runs that tool again and imports.
        "imported": {"tool": report.tool, "version": report.version, "probe": probe.name,
                     "report": report.source, "report_sha256": report.sha256, "mapped_through": mapped.sources,
                     "tool_tags": probe.tags},
    }
    text = yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    row = db.exec(select(Scenario).where(Scenario.scenario_id == scenario_id, Scenario.sha256 == digest)).first()
    if row is None:
        row = Scenario(scenario_id=scenario_id, sha256=digest, title=title, category=mapped.category,
                       severity=mapped.severity, controls=mapped.controls, source_path=f"imported:{report.source}",
                       yaml_text=text)
        db.add(row)
        db.flush()
    return row


def record_report(db: Session, engagement: Engagement, system: AISystem, report: ImportedReport,
                  mapping: MappingTable, actor: str = "") -> ImportSummary:
    """Every probe of ``report`` as a finished run against ``system``; the caller commits (or not)."""
    from app.runner.plan import window_for
    from app.store import audit

    if not report.probes:
        raise ReportImportError(f"{report.source}: the report holds no attempts to import")
    summary = ImportSummary(report.tool, report.version, skipped=list(report.skipped))
    started = report.started_at or utcnow()
    window = window_for(db, engagement, on=started.date())
    for probe in report.probes:
        mapped = mapping.map(report.tool, probe)
        if not mapped.controls:
            summary.unmapped.append(probe.name)
        scenario = _scenario_row(db, report, probe, mapped)
        run, verdict, finding = _record_probe(db, engagement, system, report, probe, mapped, scenario, started,
                                              window.id if window else None, window.name if window else None)
        summary.runs.append((run.id or 0, probe.name, verdict))
        summary.turns += sum(len(a.outputs) for a in probe.attempts)
        if finding is not None:
            summary.findings.append(finding)
    audit.record(db, engagement_id=engagement.id, action="import.recorded", actor=actor,
                 entity=f"system:{system.id}",
                 payload={"tool": report.tool, "tool_version": report.version, "report": report.source,
                          "report_sha256": report.sha256, "model": report.model,
                          "runs": [r for r, _, _ in summary.runs], "turns": summary.turns,
                          "unmapped_probes": summary.unmapped, "mapping_files": list(mapping.files),
                          "skipped": summary.skipped})
    return summary


def _record_probe(db: Session, engagement: Engagement, system: AISystem, report: ImportedReport,
                  probe: ImportedProbe, mapped: Mapped, scenario: Any, started: datetime,
                  window_id: int | None, window: str | None) -> tuple[Run, str, int | None]:
    from app.runner.judge import create_run_finding, rollup, settle
    from app.store import audit
    from app.store.coverage import run_evidence
    from app.store.models import Run, Turn, Verdict

    run = Run(engagement_id=engagement.id or 0, system_id=system.id or 0, scenario_pk=scenario.id,
              window_id=window_id, status="running", tool_version=f"{report.tool} {report.version}",
              model_id=report.model[:200], started_at=started, created_at=utcnow(),
              metrics={"imported": {"tool": report.tool, "version": report.version, "probe": probe.name,
                                    "report": report.source, "report_sha256": report.sha256},
                       "window": window})
    db.add(run)
    db.flush()
    log: list[StepLog] = []
    for step, attempt in enumerate(probe.attempts):
        for sample, output in enumerate(attempt.outputs):
            request = {"body": {"messages": [{"role": "user", "content": attempt.prompt}]},
                       "imported": {"tool": report.tool, "attempt": attempt.ref, "strategy": attempt.strategy,
                                    "goal": attempt.goal}}
            turn = Turn(run_id=run.id or 0, step=step, sample=sample, kind="chat", identity="primary",
                        status="done" if output.text is not None else "error", request=request,
                        response_text=output.text or "", error_detail=output.error,
                        total_ms=attempt.latency_ms, model_id=report.model[:200], started_at=started,
                        finished_at=started)
            db.add(turn)
            db.flush()
            log.append(StepLog(step, sample, "chat", "primary", attempt.prompt))
            judgements = output.judgements if output.text is not None else []
            for judged in judgements:
                db.add(Verdict(run_id=run.id or 0, turn_id=turn.id, source="auto", detector=judged.detector,
                               outcome=judged.outcome(), reason=judged.reason,
                               evidence={"tool": report.tool, "score": judged.score}))
            if output.text is not None and not judgements:
                db.add(Verdict(run_id=run.id or 0, turn_id=turn.id, source="auto", detector=f"{report.tool}:none",
                               outcome="error", reason=f"{report.tool} recorded no judgement of this output",
                               evidence={"tool": report.tool}))
    db.flush()
    spec = ImportedScenario(scenario.scenario_id, scenario.title, mapped.severity, list(mapped.controls),
                            expected="The system refuses or resists the attack, as the tool's detector checks.")
    judgement = rollup(db, run.id or 0, spec)  # type: ignore[arg-type]
    metrics = dict(run.metrics or {})
    metrics.update(judgement.metrics)
    metrics["turns"] = len(judgement.turns)
    metrics["turn_errors"] = sum(1 for t in judgement.turns if t.status == "error")
    run.status, run.verdict, run.metrics = "finished", settle(judgement.verdict, "finished"), metrics
    run.finished_at = started
    db.add(run)
    db.flush()
    finding = None
    if run.verdict == "fail":
        finding = create_run_finding(db, run, system, spec, judgement, log, window)  # type: ignore[arg-type]
    audit.record(db, engagement_id=engagement.id, action="run.finished", entity=f"run:{run.id}",
                 payload={"status": run.status, "verdict": run.verdict, "turns": metrics["turns"],
                          "turn_errors": metrics["turn_errors"], "findings": [finding] if finding else [],
                          "model_id": run.model_id, "imported": metrics["imported"],
                          "evidence": run_evidence(db, run.id or 0)})
    return run, run.verdict, finding
