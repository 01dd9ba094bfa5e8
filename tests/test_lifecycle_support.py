"""Shared set-up for the lifecycle tests: a real demo AI system on loopback and a Type II engagement around today.

The engagement is built through the same alignment functions the wizard uses;
runs go through the real runner. Windows are placed around the real current
date (UTC, as the runner dates runs), so "the window containing today" is W1.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from datetime import UTC, timedelta
from typing import Any

import pytest

WINDOWS = (("W1", -3, 3), ("W2", 30, 40), ("W3", 70, 80))  # name, start and end in days from today
PERIOD = (-100, 100)


@pytest.fixture
def demo() -> Iterator[Any]:
    """A vulnerable demo AI system with no artificial delay; tests flip ``hardened`` / ``model_version``."""
    from app.demo.server import start_demo_server

    server = start_demo_server(chunk_delay=0, service_time=0)
    yield server
    server.stop()


def make_engagement(base_url: str, *, name: str = "acme", scenarios: Sequence[str] = ("pi-direct-override",),
                    criterion: str = "CC6.6", windows: Sequence[tuple[str, int, int]] = WINDOWS,
                    period: tuple[int, int] = PERIOD, system: str = "support-bot",
                    models: Sequence[str] = ("acme-support-1",)) -> int:
    """A Type II engagement with one demo system (at ``base_url``) and one control row; returns its id."""
    from app import alignment
    from app.runner.plan import today_utc
    from app.store import session

    today = today_utc()
    with session() as db:
        engagement = alignment.create_engagement(db, name, client="Acme Corp")
        eid = engagement.id or 0
        alignment.save_system(db, eid, alignment.system_spec(
            name=system, kind="demo", base_url=base_url, model="acme-support-1", models=list(models),
            canaries=["RL-CANARY-7f3a91"], owner="Acme support engineering"))
        alignment.save_row(db, eid, criterion=criterion, client_ref="ACME-SEC-12",
                           activity="Prompts are screened for injected instructions.", scenarios=list(scenarios))
        alignment.set_type2(db, eid, today + timedelta(days=period[0]), today + timedelta(days=period[1]),
                            [alignment.WindowPlan(n, today + timedelta(days=a), today + timedelta(days=b))
                             for n, a, b in windows])
    return eid


def run(engagement_id: int, scenario_ids: Sequence[str] | None = None, *, window: str | None = None) -> list[Any]:
    """Plan and execute through the real runner; returns the runner's outcomes."""
    from app.runner import plan_runs, run_scenarios
    from app.store import session
    from app.store.models import Engagement

    with session() as db:
        engagement = db.get(Engagement, engagement_id)
        plan = plan_runs(db, engagement, scenario_ids=list(scenario_ids) if scenario_ids else None, window=window)
    return asyncio.run(run_scenarios(engagement_id, plan))


def confirm_all(engagement_id: int, reason: str = "reproduced in triage") -> list[int]:
    """Triage: every draft finding becomes open (through the lifecycle rules)."""
    from app.findings import find, transition
    from app.store import session

    with session() as db:
        drafts = find(db, engagement_id, statuses=["draft"])
        for finding in drafts:
            transition(db, finding, "open", reason=reason, actor="ana")
        return [f.id or 0 for f in drafts]


def events(engagement_id: int, action: str) -> list[Any]:
    """The engagement's audit events with this action, in chain order."""
    from sqlmodel import select

    from app.store import audit, session
    from app.store.models import AuditEvent

    with session() as db:
        return list(db.exec(select(AuditEvent).where(AuditEvent.chain == audit.chain_name(engagement_id),
                                                     AuditEvent.action == action).order_by(AuditEvent.seq)).all())


def runner_clock(monkeypatch: pytest.MonkeyPatch, days: int) -> None:
    """Date the runner's runs and turns ``days`` from now, as if the test ran then.

    Type II counts a run for a window only if it ran inside the window's dates,
    so a test that plays out a later window moves the runner's clock there
    instead of back-filling the window from today.
    """
    from datetime import datetime

    import app.runner.execute as execute
    import app.runner.judge as judge
    import app.runner.live as live
    import app.runner.record as record

    shift = timedelta(days=days)
    monkeypatch.setattr(execute, "utcnow", lambda: datetime.now(UTC) + shift)
    monkeypatch.setattr(execute, "today_utc", lambda: (datetime.now(UTC) + shift).date())
    for module in (judge, live, record):
        monkeypatch.setattr(module, "utcnow", lambda: datetime.now(UTC) + shift)
