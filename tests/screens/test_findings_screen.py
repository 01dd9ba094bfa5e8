"""The findings register: filters, status changes through the lifecycle rules, evidence, and a real re-test."""

from __future__ import annotations

from typing import Any

from cockpit_pilot import TODAY, record_notifications, screen_name, store_ready, wait_for
from textual.widgets import Input, OptionList, Select

from screens.app import RedlineApp


def seed_findings() -> int:
    from app import alignment
    from app.findings import create_finding
    from app.store.engine import dispose_all, session

    with session() as db:
        eid = alignment.create_engagement(db, "acme-2026", "Acme Corp").id or 0
        create_finding(db, engagement_id=eid, title="Prompt injection bypasses the filter", severity="high",
                       status="open", controls=["AI-SEC-01"], impact="CC6.6 control failure")
        create_finding(db, engagement_id=eid, title="No alert on adversarial input", severity="medium",
                       controls=["CC7.2"])
        create_finding(db, engagement_id=eid, title="[bold]Undocumented[/bold] staging model", severity="low",
                       controls=["AI-GOV-01"])
        create_finding(db, engagement_id=eid, title="Customer data in completions", severity="high",
                       status="dismissed", controls=["C1.1"])
    dispose_all()
    return eid


async def open_register(pilot: Any, engagement_id: int) -> Any:
    await store_ready(pilot)
    pilot.app.push_screen_for("findings", engagement_id)
    await wait_for(pilot, lambda: screen_name(pilot) == "FindingsScreen", "the register")
    return pilot.app.screen


def titles(screen: Any) -> list[str]:
    return [f.title for f in screen.shown]


async def test_filter_by_control_severity_and_status() -> None:
    eid = seed_findings()
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_register(pilot, eid)
        assert len(titles(screen)) == 4
        table = screen.query_one("#findings-table")
        assert str(table.get_row_at(2)[4]).startswith("[bold]Undocumented[/bold] stag")  # literal, not bold
        control = screen.query_one("#filter-control", Select)
        control.value = "CC6.6"  # AI-SEC-01 maps to CC6.6 in the catalog
        await pilot.pause()
        assert titles(screen) == ["Prompt injection bypasses the filter"]
        control.value = "*"
        screen.query_one("#filter-severity", Select).value = "high"
        await pilot.pause()
        assert titles(screen) == ["Prompt injection bypasses the filter", "Customer data in completions"]
        screen.query_one("#filter-status", Select).value = "draft"
        await pilot.pause()
        assert titles(screen) == []
        screen.query_one("#filter-severity", Select).value = "*"
        await pilot.pause()
        assert titles(screen) == ["No alert on adversarial input", "[bold]Undocumented[/bold] staging model"]


async def choose(pilot: Any, value: str) -> None:
    await wait_for(pilot, lambda: screen_name(pilot) == "ChoiceScreen", "the choices")
    options = pilot.app.screen.query_one(OptionList)
    offered = [options.get_option_at_index(i).id for i in range(options.option_count)]
    options.highlighted = offered.index(value)
    await pilot.press("enter")


async def answer(pilot: Any, text: str) -> None:
    await wait_for(pilot, lambda: screen_name(pilot) == "PromptScreen", "the prompt")
    pilot.app.screen.query_one(Input).value = text
    await pilot.press("enter")


async def test_status_moves_follow_the_lifecycle_with_a_reason_and_an_approver() -> None:
    from sqlmodel import select

    from app.store.engine import session
    from app.store.models import AuditEvent, Finding

    eid = seed_findings()
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_register(pilot, eid)
        draft = next(f for f in screen.shown if f.status == "draft")
        screen.query_one("#findings-table").move_cursor(row=screen.shown.index(draft))
        await pilot.press("s")
        await wait_for(pilot, lambda: screen_name(pilot) == "ChoiceScreen", "the choices")
        options = pilot.app.screen.query_one(OptionList)
        assert {options.get_option_at_index(i).id for i in range(options.option_count)} == {
            "open", "dismissed", "risk_accepted"}  # exactly what app.findings allows from draft
        await choose(pilot, "open")
        await answer(pilot, "confirmed by a second tester")
        await wait_for(pilot, lambda: next(f for f in screen.shown if f.id == draft.id).status == "open", "open")
        await pilot.press("s")
        await choose(pilot, "risk_accepted")
        await answer(pilot, "compensating control in place")
        await answer(pilot, "Dana (CISO)")
        await wait_for(pilot, lambda: next(f for f in screen.shown if f.id == draft.id).status == "risk_accepted",
                       "risk accepted")
    with session() as db:
        row = db.get(Finding, draft.id)
        events = db.exec(select(AuditEvent).where(AuditEvent.action == "finding.status")
                         .order_by(AuditEvent.seq)).all()
    assert (row.accepted_by, row.accepted_reason) == ("Dana (CISO)", "compensating control in place")
    assert [(e.payload["from"], e.payload["to"], e.payload["reason"]) for e in events] == [
        ("draft", "open", "confirmed by a second tester"),
        ("open", "risk_accepted", "compensating control in place")]


async def test_retest_runs_the_scenario_again_and_moves_the_finding() -> None:
    from sqlmodel import select

    from app.alignment import get_engagement
    from app.demo_engagement import ensure_demo_engagement
    from app.findings import transition
    from app.runner import plan_runs, run_scenarios
    from app.store.engine import dispose_all, session
    from app.store.models import Finding, Retest, Run

    with session() as db:
        eid = ensure_demo_engagement(db, today=TODAY).id or 0
        plan = plan_runs(db, get_engagement(db, eid), scenario_ids=["pi-direct-override"])
    [outcome] = await run_scenarios(eid, plan)
    with session() as db:
        finding = db.get(Finding, outcome.finding_ids[0])
        transition(db, finding, "open", reason="confirmed")
    dispose_all()
    app = RedlineApp(today=TODAY)
    shown = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_register(pilot, eid)
        await pilot.press("R")
        await wait_for(pilot, lambda: next(f for f in screen.shown if f.id == finding.id).status == "retest_failed",
                       "the re-test to fail (the demo is still vulnerable)")
        assert any("re-test fail" in n["message"] and n.get("markup") is False for n in shown)
    with session() as db:
        retest = db.exec(select(Retest).where(Retest.finding_id == finding.id)).one()
        rerun = db.get(Run, retest.run_id)
    assert retest.outcome == "fail" and rerun.retest_of == finding.id and rerun.id != outcome.run_id


async def test_a_closed_or_runless_finding_says_what_it_cannot_do() -> None:
    eid = seed_findings()
    app = RedlineApp(today=TODAY)
    shown = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_register(pilot, eid)
        dismissed = next(f for f in screen.shown if f.status == "dismissed")
        screen.query_one("#findings-table").move_cursor(row=screen.shown.index(dismissed))
        await pilot.press("R")
        await pilot.press("enter")
        assert screen_name(pilot) == "FindingsScreen"
    messages = [n["message"] for n in shown]
    assert any("only open findings" in m for m in messages)
    assert any("quotes no transcript" in m for m in messages)


async def test_after_a_failed_retest_the_menu_offers_only_what_the_core_allows() -> None:
    """No "retest passed" by hand: the menu lists the core's legal moves, each with what it means."""
    from app.alignment import get_engagement
    from app.demo_engagement import ensure_demo_engagement
    from app.findings import legal_moves, transition
    from app.retest import retest_findings_async
    from app.runner import plan_runs, run_scenarios
    from app.store.engine import dispose_all, session
    from app.store.models import Finding

    with session() as db:
        eid = ensure_demo_engagement(db, today=TODAY).id or 0
        plan = plan_runs(db, get_engagement(db, eid), scenario_ids=["pi-direct-override"])
    [outcome] = await run_scenarios(eid, plan)
    with session() as db:
        transition(db, db.get(Finding, outcome.finding_ids[0]), "open", reason="confirmed")
    [retest] = await retest_findings_async(eid, outcome.finding_ids, probe=False)
    assert retest.status == "retest_failed"
    dispose_all()
    app = RedlineApp(today=TODAY)
    shown = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_register(pilot, eid)
        await pilot.press("s")
        await wait_for(pilot, lambda: screen_name(pilot) == "ChoiceScreen", "the choices")
        options = pilot.app.screen.query_one(OptionList)
        prompts = [options.get_option_at_index(i) for i in range(options.option_count)]
        assert [o.id for o in prompts] == ["remediating", "risk_accepted"]
        with session() as db:
            meanings = [m.meaning for m in legal_moves(db.get(Finding, retest.finding_id))]
        assert [str(o.prompt).split("\n")[1].strip() for o in prompts] == meanings
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(pilot) == "FindingsScreen", "the register")
        screen._transition(retest.finding_id, "retest_passed", "manual", "")  # what the old menu allowed
        await pilot.pause()
    with session() as db:
        assert db.get(Finding, retest.finding_id).status == "retest_failed"
    assert any("only a re-test run can set retest_passed" in n["message"] for n in shown)


async def test_the_detail_shows_every_occurrence_and_e_classifies_the_exception() -> None:
    from sqlmodel import select
    from textual.widgets import Static

    from app.alignment import get_engagement
    from app.demo_engagement import ensure_demo_engagement
    from app.findings import transition
    from app.runner import plan_runs, run_scenarios
    from app.store.engine import dispose_all, session
    from app.store.models import AuditEvent, Finding

    with session() as db:
        eid = ensure_demo_engagement(db, today=TODAY).id or 0
    runs = []
    for _ in range(2):
        with session() as db:
            plan = plan_runs(db, get_engagement(db, eid), scenario_ids=["pi-direct-override"])
        runs += await run_scenarios(eid, plan)
    assert runs[0].finding_ids == runs[1].finding_ids
    with session() as db:
        transition(db, db.get(Finding, runs[0].finding_ids[0]), "open", reason="confirmed")
    dispose_all()
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_register(pilot, eid)
        assert len(screen.shown) == 1
        detail = str(screen.query_one("#finding-detail", Static).render())
        assert f"seen in 2 runs: {runs[0].run_id}, {runs[1].run_id}" in detail and "type not classified" in detail
        await pilot.press("e")
        await choose(pilot, "design")
        await answer(pilot, "no screening was ever designed")
        await wait_for(pilot, lambda: screen.shown[0].exception_kind == "design", "the exception type")
        assert "design" in str(screen.query_one("#finding-detail", Static).render())
    with session() as db:
        [edit] = db.exec(select(AuditEvent).where(AuditEvent.action == "finding.edited")).all()
    assert {k: v for k, v in edit.payload.items() if k != "by"} == {
        "changes": {"exception_kind": {"from": "", "to": "design"}}, "reason": "no screening was ever designed"}
    assert edit.payload["by"]["tester"] == "test-tester"
