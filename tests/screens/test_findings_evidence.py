"""The register's remediation plan (p) and attached evidence (a), keyboard first, through the core's rules."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cockpit_pilot import TODAY, record_notifications, screen_name, wait_for
from test_findings_screen import answer, choose, open_register, seed_findings
from textual.widgets import Input

from screens.app import RedlineApp


def _first_open(screen: Any) -> Any:
    finding = next(f for f in screen.shown if f.status == "open")
    screen.query_one("#findings-table").move_cursor(row=screen.shown.index(finding))
    return finding


async def test_p_sets_priority_and_due_date_with_a_reason_and_late_findings_show_late(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlmodel import select

    import app.runner.plan as plan
    from app.runner.plan import today_utc
    from app.store.engine import session
    from app.store.models import AuditEvent, Finding

    eid = seed_findings()
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(120, 30)) as pilot:  # wide enough for the DUE column
        screen = await open_register(pilot, eid)
        finding = _first_open(screen)
        table = screen.query_one("#findings-table")
        row = screen.shown.index(finding)
        assert str(table.get_row_at(row)[-1]) == str(today_utc() + timedelta(days=30))  # high: immediate, 30 days
        await pilot.press("p")
        await choose(pilot, "longer_term")
        await wait_for(pilot, lambda: screen_name(pilot) == "PromptScreen", "the due date")
        assert pilot.app.screen.query_one(Input).value == str(today_utc() + timedelta(days=90))  # the rule's date
        await answer(pilot, str(today_utc() + timedelta(days=7)))
        await answer(pilot, "agreed with the client's CAB")
        await wait_for(pilot, lambda: screen.plans[finding.id].priority == "longer_term", "the new plan")
        row = [f.id for f in screen.shown].index(finding.id)
        assert str(table.get_row_at(row)[-1]) == str(today_utc() + timedelta(days=7))
        detail = str(screen.query_one("#finding-detail").render())
        assert f"remediation: longer term priority, due {today_utc() + timedelta(days=7)}" in detail
    with session() as db:
        row_now = db.get(Finding, finding.id)
        [event] = db.exec(select(AuditEvent).where(AuditEvent.action == "finding.edited")).all()
    assert (row_now.priority, row_now.due_date) == ("longer_term", today_utc() + timedelta(days=7))
    assert event.payload["reason"] == "agreed with the client's CAB"

    later = today_utc() + timedelta(days=10)
    monkeypatch.setattr(plan, "today_utc", lambda: later)
    for size, late in (((120, 30), "LATE 3d"), ((80, 24), f"{finding.id}!")):
        app = RedlineApp(today=TODAY)
        async with app.run_test(size=size) as pilot:
            screen = await open_register(pilot, eid)
            finding = _first_open(screen)
            cells = screen.query_one("#findings-table").get_row_at([f.id for f in screen.shown].index(finding.id))
            assert str(cells[-1] if size[0] > 80 else cells[0]) == late
            assert "OVERDUE 3d" in str(screen.query_one("#finding-detail").render())


async def test_a_attaches_a_file_to_the_finding_and_refusals_are_shown_literally(tmp_path: Path) -> None:
    from app.attachments import list_attachments
    from app.store.engine import session

    eid = seed_findings()
    ticket = tmp_path / "CHG-4711.pdf"
    ticket.write_bytes(b"%PDF-1.4\nchange ticket\n%%EOF\n")
    app = RedlineApp(today=TODAY)
    shown = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_register(pilot, eid)
        finding = _first_open(screen)
        await pilot.press("a")
        await wait_for(pilot, lambda: screen_name(pilot) == "AttachScreen", "the attach dialog")
        await pilot.press(*str(tmp_path / "missing[red].pdf"), "enter")
        await pilot.press(*"the ticket", "enter")
        await wait_for(pilot, lambda: any("missing[red].pdf" in n["message"] for n in shown), "the refusal")
        await wait_for(pilot, lambda: screen_name(pilot) == "FindingsScreen", "back on the register")
        await pilot.press("a")
        await wait_for(pilot, lambda: screen_name(pilot) == "AttachScreen", "the attach dialog")
        await pilot.press(*str(ticket), "enter", "enter")  # no note yet: the dialog stays
        assert screen_name(pilot) == "AttachScreen"
        await pilot.press(*"CHG-4711: the fix deployed", "enter")
        await wait_for(pilot, lambda: screen.attached.get(finding.id), "the attachment")
        detail = str(screen.query_one("#finding-detail").render())
        assert "attachment 1: CHG-4711.pdf (application/pdf" in detail
    with session() as db:
        [row] = list_attachments(db, eid, finding_id=finding.id)
    assert (row.note, row.media_type) == ("CHG-4711: the fix deployed", "application/pdf")
