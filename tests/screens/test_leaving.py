"""Never lose work silently: quitting or leaving with runs in flight asks first, and leaves a trace of each run.

Against the real demo AI system, slowed so that runs are still streaming (four
at once) and queued (the rest) when the tester presses ``q``.
"""

from __future__ import annotations

from typing import Any

from cockpit_pilot import TODAY, screen_name, wait_for
from test_run import demo_engagement, live_entries, open_run_screen, poll, slow_demo  # noqa: F401

from screens.app import RedlineApp

SIX = ["pi-direct-override", "sysprompt-summary-request", "api-unauthenticated-chat", "pii-named-customer",
       "output-manipulation-promise", "model-config-extraction"]


def audit(engagement_id: int, action: str) -> list[dict[str, Any]]:
    from sqlmodel import select

    from app.store.engine import session
    from app.store.models import AuditEvent

    with session() as db:
        return [e.payload for e in db.exec(select(AuditEvent).where(
            AuditEvent.chain == f"engagement:{engagement_id}", AuditEvent.action == action)).all()]


def run_states(engagement_id: int) -> list[str]:
    from sqlmodel import select

    from app.store.engine import session
    from app.store.models import Run

    with session() as db:
        return sorted(r.status for r in db.exec(select(Run).where(Run.engagement_id == engagement_id)).all())


async def start_six(pilot: Any, engagement_id: int) -> Any:
    screen = await open_run_screen(pilot, engagement_id)
    known = set(screen.query_one("#picker").source.titles)
    ids = [s for s in SIX if s in known]
    assert len(ids) == 6, f"the demo library lost a scenario: {set(SIX) - known}"
    screen.queue_scenarios(ids)
    await poll(pilot, lambda: len(live_entries(screen)) == 6, "six runs queued")
    await poll(pilot, lambda: sum(e.status == "streaming" for e in live_entries(screen)) == 4, "four streaming")
    return screen


async def test_quitting_with_runs_in_flight_asks_and_records_every_run(slow_demo: Any) -> None:
    slow_demo.chunk_delay = 0.3
    eid = demo_engagement()
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start_six(pilot, eid)
        await pilot.press("q")
        await wait_for(pilot, lambda: screen_name(pilot) == "ConfirmScreen", "the question")
        question = str(app.screen.question)
        assert "4 run(s) in flight" in question and "2 queued" in question
        await pilot.press("n")
        assert app.is_running and screen_name(pilot) == "RunScreen"
        assert sum(e.running for e in live_entries(screen)) == 6
        await pilot.press("q")
        await wait_for(pilot, lambda: screen_name(pilot) == "ConfirmScreen", "the question again")
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running, "the app to quit")
    # The four in flight were cancelled by the runner (their text kept); the two queued never began.
    assert run_states(eid) == ["cancelled"] * 4
    not_started = audit(eid, "run.not_started")
    assert len(not_started) == 2
    assert {p["scenario_id"] for p in not_started} <= set(SIX)
    assert all(p["reason"] == "Redline was quit before the run started" for p in not_started)


async def test_leaving_the_run_screen_records_queued_runs_as_not_started(slow_demo: Any) -> None:
    slow_demo.chunk_delay = 0.3
    eid = demo_engagement()
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        await start_six(pilot, eid)
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(pilot) == "ConfirmScreen", "the question")
        await pilot.press("y")
        await wait_for(pilot, lambda: screen_name(pilot) == "HomeScreen", "home")
        await wait_for(pilot, lambda: len(run_states(eid)) == 4 and "running" not in run_states(eid), "runs settled")
        await wait_for(pilot, lambda: len(audit(eid, "run.not_started")) == 2, "the queued runs recorded")
    assert run_states(eid) == ["cancelled"] * 4
    assert all(p["reason"] == "the run screen was left before the run started"
               for p in audit(eid, "run.not_started"))


async def test_quitting_with_nothing_in_flight_does_not_ask() -> None:
    eid = demo_engagement()
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_run_screen(pilot, eid)
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, "the app to quit")
    assert audit(eid, "run.not_started") == []


async def test_an_interrupted_run_is_resumed_from_the_run_screen_under_its_own_id() -> None:
    import sqlite3
    from pathlib import Path

    from app.alignment import get_engagement
    from app.runner import plan_runs, run_scenarios
    from app.store.engine import dispose_all, session
    from screens.widgets.run_list import RunList

    eid = demo_engagement()
    with session() as db:
        plan = plan_runs(db, get_engagement(db, eid), scenario_ids=["pi-direct-override"])
    [outcome] = await run_scenarios(eid, plan)
    dispose_all()
    import os

    db = sqlite3.connect(Path(os.environ["REDLINE_HOME"]) / "redline.db")  # as a crash leaves it
    db.execute("UPDATE run SET status = 'running', verdict = '' WHERE id = ?", (outcome.run_id,))
    db.commit()
    db.close()
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_run_screen(pilot, eid)
        table = screen.query_one(RunList)
        assert table.highlighted_key() == f"run:{outcome.run_id}"
        assert "interrupted" in str(table.get_row_at(0)[1])
        ttft_before = str(table.get_row_at(0)[2])
        await pilot.press("R")
        # Finished in place, under its own id, and read back whole (figures included) from the store.
        await wait_for(pilot, lambda: not live_entries(screen) and table.row_count == 1
                       and "FAIL" in str(table.get_row_at(0)[1]), "the resumed run to finish")
        assert table.highlighted_key() == f"run:{outcome.run_id}"
        assert str(table.get_row_at(0)[2]) == ttft_before != "–"
        await pilot.press("R")  # a finished run cannot be resumed: the screen says why, nothing starts
        await pilot.pause()
        assert not live_entries(screen) and table.row_count == 1
    assert run_states(eid) == ["finished"]
