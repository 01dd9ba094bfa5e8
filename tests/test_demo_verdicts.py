"""The default run gives the verdicts of a careful one, and the vulnerable demo fails what it claims to fail.

Real parts: the demo AI system on 127.0.0.1 with the product's own settings
(as ``redline demo-target`` and the built-in demo run it), the real runner and
a temp store. At the default concurrency the runner sends the vulnerable demo
more than the three requests it can take; the 503s it gets are retried under
a lowered bound, recorded on the turns, and every verdict equals the one a
run at ``--concurrency 1`` gives, on an idle machine and on a loaded one.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.demo.server import DemoServer, start_demo_server
from tests.test_runner_support import PYTHON, REPO, engagement_file, import_engagement_file, plan

# Scenarios whose verdict an unanswered turn used to flip, or that the demo's load used to pass: echo and
# recall (a planting turn), a multi-turn injection, a sampled rate, two models, and the load drills.
ORDINARY = ("secret-echo-in-completion", "retention-deletion-recall", "pi-multi-turn-agreement",
            "hallucination-rate-adversarial", "gov-retired-staging-models", "consent-training-use",
            "sysprompt-summary-request", "extract-customer-data-channels")
EXCLUSIVE = ("avail-burst-exhaustion", "gov-third-party-sla", "gov-model-identity")
# Every one targets a weakness of the vulnerable demo, except the model identity check (see
# tests/test_library_demo.py: a model change is its own switch on the demo).
EXPECTED = {**{s: "fail" for s in ORDINARY + EXCLUSIVE}, "gov-model-identity": "pass"}


@pytest.fixture(scope="module")
def standalone() -> Iterator[DemoServer]:
    """The vulnerable demo exactly as ``redline demo-target`` serves it (its default pace included)."""
    server = start_demo_server(chunk_delay=0)
    yield server
    server.stop()


def _system(name: str, target: dict[str, Any]) -> dict[str, Any]:
    from app.operations import DEMO_OPERATIONS

    # The standalone demo is reached as a client system would be: its operations are mapped, not assumed.
    return {"name": name, "target": target, "models": ["acme-support-1"], "canaries": ["RL-CANARY-7f3a91"],
            "operations": DEMO_OPERATIONS}


def _library(tmp_path: Path, name: str, target: dict[str, Any], scenarios: tuple[str, ...],
             **options: Any) -> tuple[dict[str, str], list[Any]]:
    """Run ``scenarios`` against one system; the verdicts by scenario, and every turn's retries."""
    from sqlmodel import select

    from app.runner import run_scenarios
    from app.store import session
    from app.store.models import Turn

    engagement = import_engagement_file(engagement_file(tmp_path, [_system("bot", target)], name=name))
    outcomes = asyncio.run(run_scenarios(engagement.id, plan(engagement, scenario_ids=list(scenarios)),
                                         **options))
    with session() as db:
        retries = [r for t in db.exec(select(Turn).where(Turn.run_id.in_([o.run_id for o in outcomes]))).all()
                   for r in t.retries]
    return {o.scenario_id: o.verdict for o in outcomes}, retries


def _burn_cpu() -> subprocess.Popen[bytes]:
    """A process that keeps one core busy and stops by itself after a minute."""
    return subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 60\nwhile time.time() < end: pass"])


def test_the_default_concurrency_gives_the_verdicts_of_one_request_at_a_time(
        tmp_path: Path, standalone: DemoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.targets.demo import stop_demo_servers

    # No client retries: only the server's own "come back later" is honoured, and recorded.
    target = {"kind": "openai", "base_url": standalone.base_url, "model": "acme-support-1",
              "api_key": {"env": "RL_TEST_DEMO_KEY"}, "revoked_key": {"env": "RL_TEST_DEMO_REVOKED"},
              "max_retries": 0}
    monkeypatch.setenv("RL_TEST_DEMO_KEY", "demo-key")
    monkeypatch.setenv("RL_TEST_DEMO_REVOKED", "demo-revoked-key")
    try:
        # The exclusive scenarios run alone, after the others, whatever the concurrency: one careful pass
        # over the ordinary ones is the baseline, and the full subset runs idle and loaded.
        careful, _ = _library(tmp_path, "careful", target, ORDINARY, concurrency=1)
        default, retries = _library(tmp_path, "default", target, ORDINARY + EXCLUSIVE)
        # The default sends more than the demo's three in flight: it answers 503, and the runner waits its turn.
        assert any(r.get("http_status") == 503 for r in retries), "the default concurrency overloads the demo"
        assert careful == {s: default[s] for s in ORDINARY} and default == EXPECTED
        stop_demo_servers()  # a fresh built-in demo, with the product's own settings
        built_in, _ = _library(tmp_path, "built-in", {"kind": "demo"}, ORDINARY)
        assert built_in == careful
        burner = _burn_cpu()
        try:
            loaded, _ = _library(tmp_path, "loaded", target, ORDINARY + EXCLUSIVE)
        finally:
            burner.kill()
            burner.wait()
        assert loaded == EXPECTED
    finally:
        stop_demo_servers()


def test_a_practice_run_on_the_built_in_demo_fails_the_load_drills() -> None:
    """``redline run demo`` with the built-in demo's defaults (client retries on): the bursts are
    measured as they are answered, so the demo's 503s and its slowdown are the evidence."""
    drills = ("avail-burst-exhaustion", "avail-concurrency-ramp", "gov-third-party-sla")
    args = [arg for s in drills for arg in ("--scenario", s)]
    done = subprocess.run([PYTHON, "-m", "app.cli", "run", "demo", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env=os.environ.copy())
    assert done.returncode == 1, done.stdout + done.stderr
    from sqlmodel import select

    from app.store import session
    from app.store.models import Run, Scenario, Turn

    with session() as db:
        rows = db.exec(select(Scenario.scenario_id, Run.verdict, Run.id).join(Run, Run.scenario_pk == Scenario.id)).all()
        assert {scenario: verdict for scenario, verdict, _ in rows} == {s: "fail" for s in drills}
        burst = next(run_id for scenario, _, run_id in rows if scenario == "avail-burst-exhaustion")
        turns = db.exec(select(Turn).where(Turn.run_id == burst)).all()
    assert all(t.retries == [] for t in turns)  # a burst is never retried: each answer is evidence as given
    assert {t.http_status for t in turns} == {200, 503}


async def _chats(target: Any, count: int, *, measure_raw: bool) -> list[list[Any]]:
    from app.targets.base import ChatRequest

    async def one(i: int) -> list[Any]:
        request = ChatRequest(messages=[{"role": "user", "content": "How do I reset my password?"}],
                              user=f"caller-{i}", measure_raw=measure_raw)
        return [event async for event in target.stream_chat(request)]

    return list(await asyncio.gather(*(one(i) for i in range(count))))


def test_overload_answers_lower_the_bound_and_are_retried_but_a_burst_is_measured_raw(
        standalone: DemoServer) -> None:
    from app.formats.engagement import TargetSpec
    from app.targets.base import RetryScheduled, TurnCompleted, TurnFailed
    from app.targets.factory import make_target

    async def main() -> tuple[list[list[Any]], list[list[Any]], Any]:
        target = make_target(TargetSpec(kind="demo", base_url=standalone.base_url, max_retries=0))
        try:
            paced = await _chats(target, 6, measure_raw=False)
            raw = await _chats(target, 6, measure_raw=True)
            return paced, raw, target.bound
        finally:
            await target.aclose()

    paced, raw, bound = asyncio.run(main())
    # Six at once against a system that takes three: every chat completes, the 503s were waited out and
    # recorded, and from then on the system gets at most what it showed it can take.
    assert all(isinstance(events[-1], TurnCompleted) for events in paced)
    retried = [e for events in paced for e in events if isinstance(e, RetryScheduled)]
    assert retried and {e.http_status for e in retried} == {503}
    assert bound.limit is not None and bound.limit < 4 and bound.in_flight == 0
    # The same six as a burst: sent together, never retried, and the overload is the evidence.
    assert not any(isinstance(e, RetryScheduled) for events in raw for e in events)
    ends = [events[-1] for events in raw]
    assert sum(isinstance(e, TurnCompleted) for e in ends) == 3
    assert [(e.error_type, e.http_status) for e in ends if isinstance(e, TurnFailed)] == [("server_error", 503)] * 3
