"""Remediation: re-testing open findings, and the exception log's management responses.

A re-test runs the scenario behind an open finding again, through the runner,
against the same AI system, exactly as it first ran (the stored snapshot, same
SHA-256), so before and after are the same test. The new run carries
``retest_of``; a ``Retest`` row links it to the finding; its verdict moves the
finding to ``retest_passed`` or ``retest_failed`` through
:func:`app.findings.transition`, with a reason naming both runs. A finding the
inventory check proposed (no run of its own) re-runs its scenario from the
library against the system it names.

Management responses are the other half of remediation evidence: cause,
mitigating controls, remediation, owner and date, one or more per control
failure, listed with every failure in the exception log.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.errors import RedlineError, UsageError
from app.findings import OPEN_STATUSES, FindingStateError, find, status_after_retest, transition
from app.store import audit
from app.store.models import AISystem, Engagement, Finding, ManagementResponse, Retest, Run, Scenario

if TYPE_CHECKING:
    import asyncio

    from sqlmodel import Session

    from app.events import RunnerEvent
    from app.runner import PlannedRun, RunOutcome
    from app.secrets import SecretResolver

EXIT_PASSED, EXIT_FAILED, EXIT_UNFINISHED = 0, 1, 3


@dataclass(frozen=True)
class RetestOutcome:
    """One finding's re-test: which run, what it showed, and where it left the finding."""

    finding_id: int
    title: str
    scenario_id: str
    system: str
    before: str  # the finding's status before the re-test
    status: str  # and after it
    outcome: str  # pass | fail | review | error | cancelled | not_started | skipped
    run_id: int | None = None
    original_run_id: int | None = None
    window: str | None = None
    reason: str = ""  # why it failed, errored or was skipped
    run: RunOutcome | None = field(default=None, compare=False, repr=False)  # for JUnit and summaries

    def to_json(self) -> dict[str, Any]:
        return {"finding": self.finding_id, "title": self.title, "scenario": self.scenario_id,
                "system": self.system, "before": self.before, "status": self.status, "outcome": self.outcome,
                "run": self.run_id, "original_run": self.original_run_id, "window": self.window,
                "reason": self.reason}


def exit_code(outcomes: Sequence[RetestOutcome]) -> int:
    """0 every re-test passed (or nothing was open), 1 any failed, 3 some could not be concluded."""
    if any(o.outcome == "fail" for o in outcomes):
        return EXIT_FAILED
    if any(o.outcome != "pass" for o in outcomes):
        return EXIT_UNFINISHED
    return EXIT_PASSED


# ------------------------------------------------------------------ planning


def _findings_to_retest(db: Session, engagement_id: int, finding_ids: Sequence[int] | None) -> list[Finding]:
    """The open findings asked for; asking for one that is unknown or not open is an error."""
    if not finding_ids:
        return find(db, engagement_id, statuses=OPEN_STATUSES)
    wanted = list(dict.fromkeys(finding_ids))
    found = {f.id: f for f in find(db, engagement_id, ids=wanted)}
    unknown = [str(i) for i in wanted if i not in found]
    if unknown:
        raise UsageError(f"no finding {', '.join(unknown)} in this engagement")
    closed = [f"{i} is {found[i].status}" for i in wanted if found[i].status not in OPEN_STATUSES]
    if closed:
        raise FindingStateError(f"only open findings ({', '.join(OPEN_STATUSES)}) can be re-tested: finding "
                                + "; finding ".join(closed) + " (confirm a draft first)")
    return [found[i] for i in wanted]


def _scenario_and_system(db: Session, engagement: Engagement, finding: Finding,
                         library: Callable[[], Any]) -> tuple[Any, AISystem | None, str]:
    """The scenario to run again and the system to run it on, or the reason there is none."""
    from app.formats.scenario_files import LoadedScenario
    from app.runner import spec_from_snapshot

    run = db.get(Run, finding.run_id) if finding.run_id is not None else None
    if run is not None:
        snapshot = db.get(Scenario, run.scenario_pk)
        assert snapshot is not None
        loaded = LoadedScenario(spec=spec_from_snapshot(snapshot), path=Path(snapshot.source_path), line=1,
                                text=snapshot.yaml_text, sha256=snapshot.sha256)
        return loaded, db.get(AISystem, run.system_id), ""
    system_id = (finding.evidence or {}).get("system_id")
    system = db.get(AISystem, system_id) if isinstance(system_id, int) else None
    if system is None or system.engagement_id != engagement.id:
        return None, None, "the finding names no run and no system to re-test"
    current = library().get(finding.scenario_id) if finding.scenario_id else None
    if current is None:
        return None, system, f"scenario '{finding.scenario_id or '(none)'}' is not in the library"
    return current, system, ""


def plan_retests(db: Session, engagement: Engagement, findings: Sequence[Finding], *,
                 window: str | None = None) -> tuple[list[tuple[Finding, PlannedRun]], list[RetestOutcome]]:
    """One planned run per finding (tagged with the window and ``retest_of``), plus the findings skipped."""
    from app.runner import PlannedRun, window_for

    tagged = window_for(db, engagement, window)
    cache: dict[str, Any] = {}

    def library() -> Any:
        if "lib" not in cache:
            from app.library import load_library
            from app.runner.plan import scenario_roots

            cache["lib"] = load_library(scenario_roots(engagement))
        return cache["lib"]

    planned: list[tuple[Finding, PlannedRun]] = []
    skipped: list[RetestOutcome] = []
    for finding in findings:
        loaded, system, why = _scenario_and_system(db, engagement, finding, library)
        if loaded is None or system is None:
            skipped.append(RetestOutcome(finding.id or 0, finding.title, finding.scenario_id,
                                         system.name if system else "", finding.status, finding.status, "skipped",
                                         original_run_id=finding.run_id, reason=why))
            continue
        planned.append((finding, PlannedRun(system=system, scenario=loaded, window=tagged, retest_of=finding.id)))
    return planned, skipped


# ------------------------------------------------------------------ recording


def record_retest(db: Session, finding: Finding, run_id: int, verdict: str, *, scenario_id: str = "",
                  system: str = "", actor: str = "") -> Retest:
    """Link a finished re-test run to its finding and move the finding as the verdict says.

    The finding is read again and held first: a tester may have moved it while the re-test ran."""
    from app.store.portable import read_for_change

    finding = read_for_change(db, Finding, finding.id) or finding
    retest = Retest(finding_id=finding.id or 0, run_id=run_id,
                    outcome=verdict if verdict in ("pass", "fail", "error") else "")
    db.add(retest)
    db.flush()
    audit.record(db, engagement_id=finding.engagement_id, action="retest.recorded", actor=actor,
                 entity=f"finding:{finding.id}",
                 payload={"retest": retest.id, "run_id": run_id, "original_run_id": finding.run_id,
                          "verdict": verdict})
    to = status_after_retest(verdict)
    # A re-test that says what the finding already says (a second failing re-test) is recorded
    # above and moves nothing: the lifecycle refuses a move to the status a finding already has.
    if to is not None and to != finding.status:
        what = f"scenario {scenario_id} against {system}" if scenario_id and system else "the finding's scenario"
        original = f"original run {finding.run_id}" if finding.run_id is not None else "no original run"
        transition(db, finding, to, actor=actor,
                   reason=f"re-test run {run_id} of {what} {'passed' if verdict == 'pass' else 'failed'} "
                          f"({original})", retest_run=run_id)
    return retest


async def retest_findings_async(engagement_id: int, finding_ids: Sequence[int] | None = None, *,
                                window: str | None = None, actor: str = "", concurrency: int = 4,
                                probe: bool = True, on_event: Callable[[RunnerEvent], None] | None = None,
                                cancel: asyncio.Event | None = None,
                                secrets: SecretResolver | None = None) -> list[RetestOutcome]:
    """Re-test the engagement's open findings (or ``finding_ids``, which must all be open).

    Each re-test is a new run of the finding's scenario on the same system in
    ``window`` (default: the window containing today). With ``probe``, each
    system re-tested is also sent the canary probes once (:mod:`app.changes`)
    and the behaviour fingerprint is stamped on the re-test runs.
    """
    from app.runner import run_scenarios
    from app.store import session

    with session() as db:
        engagement = db.get(Engagement, engagement_id)
        if engagement is None:
            raise UsageError(f"no engagement with id {engagement_id}")
        planned, skipped = plan_retests(db, engagement, _findings_to_retest(db, engagement_id, finding_ids),
                                        window=window)
    runs = await run_scenarios(engagement_id, [p for _f, p in planned], concurrency=concurrency,
                               on_event=on_event, cancel=cancel, secrets=secrets) if planned else []
    outcomes: list[RetestOutcome] = []
    with session() as db:
        for (finding, _plan), run in zip(planned, runs, strict=True):
            row = db.get(Finding, finding.id)
            assert row is not None
            before = row.status
            if run.run_id is not None:
                verdict = run.verdict if run.status == "finished" else ""
                record_retest(db, row, run.run_id, verdict, scenario_id=run.scenario_id, system=run.system,
                              actor=actor)
            label = run.verdict if run.status == "finished" else run.status
            outcomes.append(RetestOutcome(row.id or 0, row.title, run.scenario_id, run.system, before, row.status,
                                          label or "error", run.run_id, row.run_id, run.window, run.reason, run))
    tested = [o for o in outcomes if o.run_id is not None]
    if probe and tested:
        from app.changes import probe_and_record

        system_ids = list(dict.fromkeys(p.system.id for _f, p in planned if p.system.id is not None))
        await probe_and_record(engagement_id, system_ids, run_ids=[o.run_id for o in tested if o.run_id],
                               window=planned[0][1].window.name if planned[0][1].window else None,
                               secrets=secrets, actor=actor)
    return skipped + outcomes


def retest_findings(engagement_id: int, finding_ids: Sequence[int] | None = None,
                    **options: Any) -> list[RetestOutcome]:
    """:func:`retest_findings_async` for synchronous callers (the CLI, tests, a worker thread)."""
    import asyncio

    return asyncio.run(retest_findings_async(engagement_id, finding_ids, **options))


# ------------------------------------------------------------------ management responses


def record_response(db: Session, finding: Finding, *, response: str, owner: str,
                    response_date: date | None = None, cause: str = "", mitigating_controls: str = "",
                    remediation: str = "", actor: str = "") -> ManagementResponse:
    """Add management's response to a control failure (the exception log), recorded in the audit chain."""
    if not response.strip():
        raise RedlineError("a management response needs its text (--response)")
    if not owner.strip():
        raise RedlineError("a management response needs the owner's name (--owner)")
    from app.runner.plan import today_utc

    row = ManagementResponse(finding_id=finding.id or 0, response=response.strip(), cause=cause.strip(),
                             mitigating_controls=mitigating_controls.strip(), remediation=remediation.strip(),
                             owner=owner.strip(), response_date=response_date or today_utc())
    db.add(row)
    db.flush()
    audit.record(db, engagement_id=finding.engagement_id, action="finding.response", actor=actor,
                 entity=f"finding:{finding.id}",
                 payload={"response_id": row.id, "response": row.response, "cause": row.cause,
                          "mitigating_controls": row.mitigating_controls, "remediation": row.remediation,
                          "owner": row.owner, "response_date": row.response_date.isoformat() if row.response_date else None})
    return row


def exception_log(db: Session, engagement_id: int) -> list[dict[str, Any]]:
    """Every control failure (findings, and failed runs no finding covers) with its responses.

    The rows are the bundle's own exception log, so the CLI and the workpapers never disagree.
    """
    from app.evidence.collect import load_evidence
    from app.evidence.tables import exception_log as rows

    return rows(load_evidence(db, engagement_id))


def exception_register(db: Session, engagement_id: int) -> dict[str, Any]:
    """The exception log and, apart, the failures awaiting triage, each with its summary sentence.

    The same rows and sentences as the bundle's exception log section, read in one pass; overdue is
    judged on today's date (a bundle judges it on the evidence's own date).
    """
    from app.evidence import tables, wording
    from app.evidence.collect import load_evidence
    from app.runner.plan import today_utc

    ev = load_evidence(db, engagement_id, today=today_utc())
    exceptions, triage = tables.exception_log(ev), tables.awaiting_triage(ev)
    return {"summary": wording.exception_summary(exceptions), "exceptions": exceptions,
            "triage_summary": wording.triage_summary(triage), "awaiting_triage": triage}


__all__ = ["RetestOutcome", "exception_log", "exception_register", "exit_code", "plan_retests", "record_response", "record_retest",
           "retest_findings", "retest_findings_async"]
