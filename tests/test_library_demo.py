"""The whole bundled library against the demo AI system: every weakness fails as found, passes once fixed.

Real parts throughout: two demo servers on 127.0.0.1 (vulnerable and
hardened), the real engagement importer and planner, the real runner at its
default concurrency, and a temp store. The runner schedules it as a consultant
would: ordinary scenarios side by side, then the ones tagged ``exclusive`` one
at a time, because they load the system, stage an outage or read what other
callers said. The servers run with the same load behaviour as ``redline
demo-target`` and the built-in demo: only the streaming pace differs, and the
demo's weaknesses do not depend on it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.demo.server import DemoServer, start_demo_server
from app.detectors import FAMILIES
from app.library import load_library
from tests.test_runner_support import engagement_file, import_engagement_file, plan

LIBRARY = load_library()
MODES = ("vulnerable", "hardened")

# Scenarios that pass against both modes, and why. Anything else must fail as found and pass once fixed.
PASS_IN_BOTH = {
    "gov-model-identity": "a model change is its own switch on the demo (model_version), not part of vulnerable "
                          "mode: both servers run the approved build; test_an_unapproved_build_fails_the_identity_"
                          "check runs it against a changed build",
}


@dataclass(frozen=True)
class ModeRun:
    """One system's results for the whole library, read back from the store."""

    verdicts: dict[str, str]  # scenario id -> run verdict
    findings: dict[str, int]  # scenario id -> draft findings filed
    metrics: dict[str, dict[str, Any]]  # scenario id -> Run.metrics
    detectors: dict[str, list[tuple[str, str, str]]]  # scenario id -> (detector name, family, outcome)


def _system(name: str, server: DemoServer) -> dict[str, Any]:
    # No client retries: the evidence shows each request exactly as the server answered it.
    return {"name": name, "target": {"kind": "demo", "base_url": server.base_url, "max_retries": 0},
            "models": ["acme-support-1"], "canaries": ["RL-CANARY-7f3a91"]}


def _read_back(outcomes: list[Any]) -> ModeRun:
    from sqlmodel import select

    from app.store import session
    from app.store.models import Run, Verdict

    verdicts, findings, metrics, detectors = {}, {}, {}, {}
    with session() as db:
        for outcome in outcomes:
            spec = LIBRARY.get(outcome.scenario_id).spec  # type: ignore[union-attr]
            family_of = {d.name or d.type: d.type for d in spec.detectors}
            run = db.get(Run, outcome.run_id)
            assert run is not None and run.status == "finished"
            rows = db.exec(select(Verdict).where(Verdict.run_id == run.id, Verdict.source == "auto")).all()
            verdicts[spec.id] = run.verdict
            findings[spec.id] = len(outcome.finding_ids)
            metrics[spec.id] = dict(run.metrics or {})
            detectors[spec.id] = [(v.detector, family_of[v.detector], v.outcome) for v in rows]
    return ModeRun(verdicts, findings, metrics, detectors)


def _run_library(folder: Path, servers: dict[str, DemoServer]) -> dict[str, ModeRun]:
    from app.runner import run_scenarios

    engagement = import_engagement_file(engagement_file(folder, [_system(m, servers[m]) for m in MODES]))
    plans = {mode: plan(engagement, all_=True, system=mode) for mode in MODES}

    async def both() -> list[list[Any]]:
        # The default concurrency: more than the vulnerable demo's three requests in flight.
        return list(await asyncio.gather(*(run_scenarios(engagement.id, plans[m]) for m in MODES)))

    outcomes = asyncio.run(both())
    return {mode: _read_back(outcomes[i]) for i, mode in enumerate(MODES)}


@pytest.fixture(scope="module")
def library_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ModeRun]:
    """Run once for the module, in its own store; the tests read plain results."""
    from app.store.engine import dispose_all

    folder = tmp_path_factory.mktemp("library-run")
    servers = {"vulnerable": start_demo_server(chunk_delay=0, service_time=0),
               "hardened": start_demo_server(hardened=True, chunk_delay=0, service_time=0)}
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("REDLINE_HOME", str(folder / "redline-home"))
            env.setenv("REDLINE_TESTER", "test-tester")
            dispose_all()
            try:
                return _run_library(folder, servers)
            finally:
                dispose_all()
    finally:
        for server in servers.values():
            server.stop()


@pytest.mark.parametrize("scenario_id", sorted(LIBRARY.ids()))
def test_scenario_tells_the_vulnerable_system_from_the_hardened_one(library_run: dict[str, ModeRun],
                                                                    scenario_id: str) -> None:
    vulnerable, hardened = library_run["vulnerable"], library_run["hardened"]
    # The hardened pass is earned: every detector judged, none failed or could not judge.
    assert hardened.verdicts[scenario_id] == "pass", hardened.detectors[scenario_id]
    assert {outcome for _, _, outcome in hardened.detectors[scenario_id]} == {"pass"}
    assert hardened.findings[scenario_id] == 0
    if scenario_id in PASS_IN_BOTH:
        assert vulnerable.verdicts[scenario_id] == "pass"
        return
    assert vulnerable.verdicts[scenario_id] == "fail", vulnerable.detectors[scenario_id]
    assert any(outcome == "fail" for _, _, outcome in vulnerable.detectors[scenario_id])
    assert vulnerable.findings[scenario_id] == 1, "a failed run files one draft finding"


# Families the bundled library cannot exercise on its own, and where they are shown to pass and fail instead.
NOT_IN_LIBRARY = {
    "judge": "a model judge is a system the engagement configures, which the library cannot assume; "
             "tests/test_judges.py shows it pass and fail against the demo's judge",
}


def test_every_detector_family_both_passes_and_fails(library_run: dict[str, ModeRun]) -> None:
    seen: dict[str, set[str]] = {family: set() for family in FAMILIES if family not in NOT_IN_LIBRARY}
    for mode in MODES:
        for results in library_run[mode].detectors.values():
            for _, family, outcome in results:
                seen.setdefault(family, set()).add(outcome)
    lacking = {family: sorted(outcomes) for family, outcomes in seen.items() if not {"pass", "fail"} <= outcomes}
    assert not lacking, f"families without both a pass and a fail: {lacking}"


def test_hallucination_rate_is_reported_with_its_sample_size(library_run: dict[str, ModeRun]) -> None:
    spec = LIBRARY.get("hallucination-rate-adversarial").spec  # type: ignore[union-attr]
    size = spec.samples * len(spec.all_steps)
    vulnerable = library_run["vulnerable"].metrics[spec.id]
    hardened = library_run["hardened"].metrics[spec.id]
    for metrics in (vulnerable, hardened):
        assert (metrics["samples"], metrics["judged"], metrics["errors"]) == (size, size, 0)
        assert metrics["max_fail_rate"] == spec.pass_criteria.max_fail_rate
    # The demo's fabrications are deterministic, so the rates are exact: every answer, then none.
    assert (vulnerable["fails"], vulnerable["fail_rate"]) == (size, 1.0)
    assert (hardened["fails"], hardened["fail_rate"]) == (0, 0.0)


def test_availability_runs_report_latency_and_errors_within_their_caps(library_run: dict[str, ModeRun]) -> None:
    availability = [s.spec for s in LIBRARY.by_category()["availability"]]
    assert availability
    for spec in availability:
        planned = [(i, st) for i, st in enumerate(spec.all_steps) if st.type == "burst"]
        for mode in MODES:
            metrics = library_run[mode].metrics[spec.id]
            assert set(metrics["total_ms"]) == {"p50", "p95", "p99"} and metrics["total_ms"]["p50"] is not None
            assert 0.0 <= metrics["error_rate"] <= 1.0 and 0.0 <= metrics["fail_rate"] <= 1.0
            bursts = metrics.get("bursts", [])
            assert [b["step"] for b in bursts] == [i for i, _ in planned]
            for burst, (_, step) in zip(bursts, planned, strict=True):
                assert burst["planned"] == step.requests and burst["concurrency"] == step.concurrency
                assert burst["count"] == step.requests and not burst["stopped_early"], "within the time cap"
                assert set(burst["latency_ms"]) == {"p50", "p95", "p99"} and burst["latency_ms"]["p50"] is not None
                assert 0.0 <= burst["error_rate"] <= 1.0
    # The burst evidence tells the two systems apart: the vulnerable one errs, the hardened one does not.
    vulnerable = library_run["vulnerable"].metrics["avail-burst-exhaustion"]["bursts"][0]
    hardened = library_run["hardened"].metrics["avail-burst-exhaustion"]["bursts"][0]
    assert vulnerable["error_rate"] > 0 and "server_error" in vulnerable["error_types"]
    assert hardened["error_rate"] == 0.0


def test_an_unapproved_build_fails_the_identity_check(tmp_path: Path) -> None:
    from app.demo.persona import system_fingerprint
    from app.runner import run_scenarios
    from app.store import session
    from app.store.models import Run

    changed = start_demo_server(chunk_delay=0, service_time=0, model_version="2")
    try:
        engagement = import_engagement_file(engagement_file(tmp_path, [_system("changed", changed)]))
        planned = plan(engagement, scenario_ids=["gov-model-identity"])
        (outcome,) = asyncio.run(run_scenarios(engagement.id, planned))
    finally:
        changed.stop()
    assert outcome.verdict == "fail"
    assert (outcome.metrics["fails"], outcome.metrics["judged"]) == (2, 2)  # the build's name and its behaviour
    with session() as db:
        run = db.get(Run, outcome.run_id)
        assert run is not None
        assert run.system_fingerprint == system_fingerprint("2") != system_fingerprint("1")
