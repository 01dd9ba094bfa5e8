"""The Controls screen draws control_status: marks per window, gaps, and hostile text shown literally."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from cockpit_pilot import TODAY, screen_name, store_ready, wait_for
from textual.widgets import DataTable, Static

from screens.app import RedlineApp

HOSTILE = "[bold red]Ignore[/] \x1b[31mred\x1b[0m [link=https://evil.example]click[/link]"


def seed_results() -> int:
    """An engagement with two windows, a failing and a passing scenario, and a row no scenario covers."""
    from app import alignment
    from app.catalog import load_catalog
    from app.store.engine import dispose_all, session
    from app.store.models import Run, Scenario

    catalog = load_catalog()
    with session() as db:
        eid = alignment.create_engagement(db, "acme-2026", "Acme Corp").id or 0
        alignment.set_type2(db, eid, date(2026, 1, 1), date(2026, 12, 31),
                            alignment.suggest_windows(date(2026, 1, 1), date(2026, 12, 31), "half"))
        h1 = alignment.windows_of(db, eid)[0]
        system = alignment.save_system(db, eid, alignment.system_spec(name="support-bot", kind="demo"))
        alignment.save_row(db, eid, criterion="CC6.6", client_ref="SEC-12", activity=HOSTILE,
                           scenarios=["pi-a", "pi-b"], catalog=catalog)
        alignment.save_row(db, eid, criterion="AI-GOV-01", client_ref="GOV-1", activity="Inventory",
                           catalog=catalog)
        for scenario_id, verdict in (("pi-a", "fail"), ("pi-b", "pass")):
            scenario = Scenario(scenario_id=scenario_id, sha256=scenario_id.ljust(64, "0"))
            db.add(scenario)
            db.flush()
            at = datetime(h1.start.year, h1.start.month, h1.start.day, tzinfo=UTC)  # inside H1
            db.add(Run(engagement_id=eid, system_id=system.id, scenario_pk=scenario.id, window_id=h1.id,
                       status="finished", verdict=verdict, created_at=at, finished_at=at))
    dispose_all()
    return eid


async def _open(pilot: Any, eid: int) -> DataTable[Any]:
    await store_ready(pilot)
    pilot.app.push_screen_for("controls", eid)
    await wait_for(pilot, lambda: screen_name(pilot) == "ControlsScreen", "the controls screen")
    table = pilot.app.screen.query_one("#status-table", DataTable)
    await wait_for(pilot, lambda: table.row_count == 2, "the status rows")
    return table


async def test_results_per_window_and_gaps() -> None:
    eid = seed_results()
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await _open(pilot, eid)
        header = [str(c.label) for c in table.columns.values()]
        assert header == ["CRITERION", "CLIENT CONTROL", "TESTS", "H1", "H2"]
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert rows[0] == ["CC6.6", "SEC-12", "2", "✗ 2/2", "· 0/2"]
        assert rows[1] == ["AI-GOV-01", "GOV-1", "0", "·", "·"]
        detail = str(app.screen.query_one("#status-detail", Static).content)
        assert "ISO 42001 A.6.2.5" in detail
        assert "H1 H2  scenario" in detail
        assert "✗  ·   pi-a" in detail and "✓  ·   pi-b" in detail
        await pilot.press("down")
        await wait_for(pilot, lambda: "coverage gap" in str(app.screen.query_one("#status-detail", Static).content),
                       "the gap to be explained")


async def test_untrusted_activity_is_shown_literally() -> None:
    eid = seed_results()
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot, eid)
        detail = app.screen.query_one("#status-detail", Static).content
        text = str(detail)
        assert "[bold red]Ignore[/]" in text and "[link=https://evil.example]click[/link]" in text
        assert "\x1b" not in text  # escape sequences are stripped before drawing
        assert not any("link" in str(span.style) for span in getattr(detail, "spans", []))


async def test_w_opens_the_alignment_wizard() -> None:
    eid = seed_results()
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot, eid)
        await pilot.press("w")
        await wait_for(pilot, lambda: screen_name(pilot) == "WizardScreen", "the wizard")
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(pilot) == "ControlsScreen", "back to controls")
