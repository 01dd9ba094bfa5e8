"""Running planned scenarios: bounded concurrency, one adapter per system, runs recorded start to end.

Each run is a ``Run`` row created ``running`` with the scenario snapshot it
executes, the tool version and its test window; the steps run (see
:mod:`app.runner.live`); then the run is judged, a failing one gets one draft
``Finding``, and the row is closed. ``run.started`` / ``run.finished`` (and
``finding.created``) go into the engagement's audit chain.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app import __version__
from app.errors import RedlineError, UsageError
from app.events import RunFinished, RunStarted
from app.runner.adapters import Targets  # noqa: F401  (re-exported: callers import it from here)
from app.runner.judge import RunJudgement, create_run_finding, rollup, settle
from app.runner.live import LiveRun
from app.runner.plan import PlannedRun, today_utc
from app.runner.record import SecretScrubber
from app.runner.recovery import INTERRUPTED, RESUMABLE, RunLock, is_live
from app.runner.stats import latency_summary
from app.runner.turns import PriorTurn, TurnLog
from app.runner.writer import StoreWriter
from app.store import audit
from app.store.coverage import run_evidence
from app.store.models import AISystem, Run, Scenario, TestWindow, Turn, utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from app.events import RunnerEvent
    from app.formats.scenario import ScenarioSpec
    from app.secrets import SecretResolver
    from app.targets.base import Target
    from app.targets.operation import ClientOperations

OnEvent = Callable[["RunnerEvent"], None] | None

# A scenario tagged ``exclusive`` measures something other traffic would disturb (what the
# system "recently" saw, latency under a burst): it runs alone, after the rest of the plan.
EXCLUSIVE_TAG = "exclusive"
# A planned run that waits on something the client has not supplied (an operation): never started.
PLANNED = "planned"


@dataclass
class RunOutcome:
    """What happened to one planned run, for summaries, exit codes and JUnit."""

    run_id: int | None
    scenario_id: str
    system: str
    window: str | None
    status: str  # finished | cancelled | not_started | planned (waits on what ``reason`` names)
    verdict: str  # pass | fail | review | error ("" when not started)
    title: str = ""
    reason: str = ""  # why it failed or errored, in one line
    turns: int = 0
    errors: int = 0
    ttft_p50_ms: float | None = None
    finding_ids: list[int] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    transcript: list[TurnLog] = field(default_factory=list)
    total_ms: float = 0.0
    strategy: str = ""  # the strategy chain of a variant run; "" for the plain scenario

    @property
    def label(self) -> str:
        """The scenario, and the strategy when the run is a variant: how summaries name the run."""
        from app.strategies.variants import run_label

        return run_label(self.scenario_id, self.strategy)


def _engine() -> Engine:
    from app.store import get_engine

    return get_engine()


async def run_scenarios(engagement_id: int, plan: Sequence[PlannedRun], *, concurrency: int = 4,
                        on_event: OnEvent = None, cancel: asyncio.Event | None = None,
                        secrets: SecretResolver | None = None) -> list[RunOutcome]:
    """Execute ``plan``, at most ``concurrency`` runs at a time; outcomes in plan order.

    Scenarios tagged ``exclusive`` run one at a time once the others are done.

    ``on_event`` receives :mod:`app.events` objects synchronously (keep it cheap:
    it is called for every streamed chunk). Setting ``cancel`` stops new turns,
    cancels streaming ones (their text is kept) and leaves queued runs
    ``not_started``. A missing API key raises before anything is written.
    """
    if concurrency < 1:
        raise UsageError("concurrency must be at least 1")
    from app.alignment.needs import waiting_on

    waiting = {i: waiting_on(p.scenario.spec, p.system) for i, p in enumerate(plan)}
    targets = Targets(secrets)
    writer: StoreWriter | None = None
    try:
        for planned in plan:
            targets.prepare(planned.system)
        engine = _engine()
        writer = StoreWriter(engine)
        gate = asyncio.Semaphore(concurrency)

        async def one(planned: PlannedRun, needs: str) -> RunOutcome:
            if needs:  # planned, not broken: nothing is sent to a path the client does not have
                return RunOutcome(None, planned.scenario.spec.id, planned.system.name,
                                  planned.window.name if planned.window else None, PLANNED, "",
                                  title=planned.scenario.spec.title, reason=needs)
            async with gate:
                if cancel is not None and cancel.is_set():
                    return RunOutcome(None, planned.scenario.spec.id, planned.system.name,
                                      planned.window.name if planned.window else None, "not_started", "",
                                      title=planned.scenario.spec.title, strategy=planned.strategy)
                run_id, lock = _start_run(engagement_id, planned)
                try:
                    target = targets.prepare(planned.system)
                except BaseException:
                    lock.release()
                    raise
                spec = planned.variant.spec if planned.variant is not None else planned.scenario.spec
                return await _drive(engine, writer, run_id, spec, planned.system,
                                    planned.window.name if planned.window else None,
                                    target, targets.scrubber(), on_event, cancel, {}, lock,
                                    targets.operations(planned.system))

        outcomes: list[RunOutcome | None] = [None] * len(plan)
        shared = [i for i, p in enumerate(plan) if EXCLUSIVE_TAG not in p.scenario.spec.tags]
        for i, outcome in zip(shared, await asyncio.gather(*(one(plan[i], waiting[i]) for i in shared)), strict=True):
            outcomes[i] = outcome
        for i, p in enumerate(plan):
            if outcomes[i] is None:  # an exclusive scenario: alone, after the others
                outcomes[i] = await one(p, waiting[i])
        return [o for o in outcomes if o is not None]
    finally:
        if writer is not None:
            writer.close()
        await targets.aclose()


def _start_run(engagement_id: int, planned: PlannedRun) -> tuple[int, RunLock]:
    """The Run row (``running``) and its ``run.started`` audit event, in one transaction."""
    from app.library import snapshot
    from app.store import session
    from app.strategies.variants import variant_record
    from app.system_config import snapshot_with_hash

    window = planned.window
    today = today_utc()
    with session() as db:
        scenario = snapshot(db, planned.scenario)
        metrics: dict[str, Any] = {"window": window.name if window else None,
                                   "outside_window": window is None or not (window.start <= today <= window.end)}
        config, config_sha = snapshot_with_hash(planned.system)  # the configuration its target was built from
        assert planned.system.id is not None and scenario.id is not None  # both are stored rows
        run = Run(engagement_id=engagement_id, system_id=planned.system.id, scenario_pk=scenario.id,
                  window_id=window.id if window else None, retest_of=planned.retest_of, status="running",
                  tool_version=__version__, started_at=utcnow(), metrics=metrics,
                  system_snapshot=config, system_sha256=config_sha, strategy=planned.strategy,
                  variant=variant_record(planned.variant) if planned.variant is not None else None)
        db.add(run)
        db.flush()
        audit.record(db, engagement_id=engagement_id, action="run.started", entity=f"run:{run.id}",
                     payload={"scenario_id": scenario.scenario_id, "scenario_sha256": scenario.sha256,
                              "system": planned.system.name, "window": metrics["window"],
                              "outside_window": metrics["outside_window"], "retest_of": planned.retest_of,
                              "tool_version": __version__, "system_sha256": config_sha,
                              **({"strategy": run.strategy, "variant": run.variant} if run.strategy else {})})
        assert run.id is not None
        # Held before the run is seen as running, and until its final row is stored: a process that
        # recovers crashed runs (on this machine or, on a shared server, another) never takes it for one.
        lock = RunLock(run.id).acquire()
    return run.id, lock


async def _drive(engine: Engine, writer: StoreWriter, run_id: int, spec: ScenarioSpec, system: AISystem,
                 window: str | None, target: Target, scrubber: SecretScrubber, on_event: OnEvent,
                 cancel: asyncio.Event | None, prior: dict[tuple[int, int], PriorTurn],
                 lock: RunLock, operations: ClientOperations | None = None) -> RunOutcome:
    """Execute a started (or resumed) run and close it, whatever happens to the steps; then let go of its lock."""
    try:
        live = LiveRun(engine, run_id=run_id, spec=spec, system=system, target=target, scrubber=scrubber,
                       writer=writer, on_event=on_event, cancel=cancel, prior=prior, operations=operations)
        if on_event is not None:
            on_event(RunStarted(run_id, spec.id, system.name, window))
        try:
            await live.execute()
        except asyncio.CancelledError:
            _finish(run_id, live, spec, system, window, "cancelled", on_event)
            raise
        return _finish(run_id, live, spec, system, window, "cancelled" if live.cancelled else "finished", on_event)
    finally:
        lock.release()


def _finish(run_id: int, live: LiveRun, spec: ScenarioSpec, system: AISystem, window: str | None,
            status: str, on_event: OnEvent) -> RunOutcome:
    """Judge the run, file its finding if it failed, close the row, and record it."""
    from app.store import session

    with session() as db:
        run = db.get(Run, run_id)
        assert run is not None
        judgement = rollup(db, run_id, spec)
        turns = judgement.turns
        metrics = dict(run.metrics or {})
        metrics.update(judgement.metrics)
        metrics["turns"] = len(turns)
        metrics["turn_errors"] = sum(1 for t in turns if t.status == "error")
        metrics["ttft_ms"] = latency_summary(t.ttft_ms for t in turns if t.status == "done" and t.ttft_ms is not None)
        metrics["total_ms"] = latency_summary(t.total_ms for t in turns if t.status == "done" and t.total_ms is not None)
        if live.bursts:
            metrics["bursts"] = live.bursts
        if live.raw_truncated:
            earlier = set(metrics.get("raw_truncated_turns", []))
            metrics["raw_truncated_turns"] = sorted(earlier | set(live.raw_truncated))
        # Only turns that completed say which model answered (a resumed run's first attempt included).
        answered = [t for t in turns if t.status == "done"]
        models = sorted({t.model_id for t in answered if t.model_id})
        fingerprints = sorted({t.system_fingerprint for t in answered if t.system_fingerprint})
        if len(models) > 1:
            metrics["model_ids"] = models
        if len(fingerprints) > 1:
            metrics["system_fingerprints"] = fingerprints
        run.model_id = live.model_ids[-1] if live.model_ids else (run.model_id or (models[-1] if models else ""))
        run.system_fingerprint = (live.fingerprints[-1] if live.fingerprints
                                  else (run.system_fingerprint or (fingerprints[-1] if fingerprints else "")))
        judgement.verdict = settle(judgement.verdict, status)
        run.status, run.verdict, run.metrics, run.finished_at = status, judgement.verdict, metrics, utcnow()
        db.add(run)
        db.flush()
        finding_ids: list[int] = []
        if status == "finished" and judgement.verdict == "fail":
            finding_id = create_run_finding(db, run, system, spec, judgement, live.log, window)
            if finding_id is not None:
                finding_ids.append(finding_id)
        audit.record(db, engagement_id=run.engagement_id, action="run.finished", entity=f"run:{run_id}",
                     payload={"status": status, "verdict": judgement.verdict, "turns": metrics["turns"],
                              "turn_errors": metrics["turn_errors"], "findings": finding_ids,
                              "model_id": run.model_id, "system_fingerprint": run.system_fingerprint,
                              "evidence": run_evidence(db, run_id)})
        elapsed = (run.finished_at - run.started_at).total_seconds() * 1000 if run.started_at else 0.0
        reason = _reason(judgement, status)
        strategy = run.strategy
    if on_event is not None:
        on_event(RunFinished(run_id, status, judgement.verdict, finding_ids, metrics))
    return RunOutcome(run_id, spec.id, system.name, window, status, judgement.verdict, title=spec.title,
                      reason=reason, turns=metrics["turns"], errors=metrics["turn_errors"], ttft_p50_ms=metrics["ttft_ms"]["p50"],
                      finding_ids=finding_ids, metrics=metrics, transcript=live.log, total_ms=elapsed,
                      strategy=strategy)


def _reason(judgement: RunJudgement, status: str) -> str:
    """One line saying why a run failed or could not be judged."""
    metrics = judgement.metrics
    if judgement.verdict == "fail":
        rate = f" (fail rate {metrics.get('fail_rate', 0):.0%} over {metrics.get('judged', 0)} turns)" \
            if metrics.get("judged", 0) > 1 else ""
        v = judgement.failing_verdict
        if v is not None:
            return f"{v.detector}: {v.reason}{rate}"
        return f"error rate {metrics.get('error_rate', 0):.0%} exceeds the scenario's limit"
    if judgement.verdict == "error":
        from app.evidence.wording import inconclusive_reason

        return "inconclusive: " + (inconclusive_reason(metrics, status) or "no detector could judge any turn")
    return ""


def spec_from_snapshot(scenario: Scenario) -> ScenarioSpec:
    """The scenario exactly as the run first executed it, from its stored YAML text."""
    import yaml

    from app.formats.scenario import ScenarioSpec

    data = yaml.safe_load(scenario.yaml_text)
    if isinstance(data, list):
        data = next((item for item in data if isinstance(item, dict) and item.get("id") == scenario.scenario_id),
                    None)
    return ScenarioSpec.model_validate(data)


async def resume_run(run_id: int, *, on_event: OnEvent = None, cancel: asyncio.Event | None = None,
                     secrets: SecretResolver | None = None) -> RunOutcome:
    """Finish an interrupted (or cancelled) run in place: same Run id, finished turns are not redone.

    Turns that ended (``done``, or ``error`` from a target fault) stand; turns
    cut by the interruption, cancelled or never reached are run again, and a
    redone turn keeps its earlier partial text in ``retries``.
    """
    from sqlmodel import select

    from app.store import session

    with session() as db:
        run = db.get(Run, run_id)
        if run is None:
            raise UsageError(f"there is no run {run_id}")
        if run.status not in RESUMABLE:
            raise UsageError(f"run {run_id} is {run.status}; only an interrupted or cancelled run can be resumed")
        if is_live(run_id):
            raise RedlineError(f"run {run_id} is being run by another Redline process")
        scenario = db.get(Scenario, run.scenario_pk)
        system = db.get(AISystem, run.system_id)
        window = db.get(TestWindow, run.window_id) if run.window_id else None
        assert scenario is not None and system is not None
        spec = spec_from_snapshot(scenario)
        if run.strategy:  # strategies are deterministic: the variant is rebuilt exactly as it first ran
            from app.strategies.variants import variant_spec

            spec = variant_spec(spec, run.strategy).spec
        prior = {(t.step, t.sample): PriorTurn(t.status, t.response_text, t.http_status)
                 for t in db.exec(select(Turn).where(Turn.run_id == run_id)).all()
                 if t.status == "done" or (t.status == "error" and t.error_detail != INTERRUPTED)}
        previous, engagement_id = run.status, run.engagement_id
    from app.system_config import snapshot_with_hash

    _, config_sha = snapshot_with_hash(system)
    if run.system_sha256 and config_sha != run.system_sha256:
        # One run, one system as tested: turns redone against an edited system would mix configurations.
        raise UsageError(f"run {run_id} cannot be resumed: {system.name}'s configuration changed since run "
                         f"{run_id} started (SHA-256 {run.system_sha256[:12]} then, {config_sha[:12]} now); "
                         "start a new run instead")
    targets = Targets(secrets)
    writer: StoreWriter | None = None
    try:
        target = targets.prepare(system)  # a missing key fails before the run is touched
        lock = RunLock(run_id).acquire()  # held from before the run is marked running again
        try:
            with session() as db:
                run = db.get(Run, run_id)
                assert run is not None
                run.status = "running"
                db.add(run)
                audit.record(db, engagement_id=engagement_id, action="run.resumed", entity=f"run:{run_id}",
                             payload={"from": previous, "turns_kept": len(prior), "system_sha256": config_sha})
            engine = _engine()
            writer = StoreWriter(engine)
        except BaseException:
            lock.release()
            raise
        return await _drive(engine, writer, run_id, spec, system, window.name if window else None, target,
                            targets.scrubber(), on_event, cancel, prior, lock, targets.operations(system))
    finally:
        if writer is not None:
            writer.close()
        await targets.aclose()
