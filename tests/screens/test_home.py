"""Home: the first-time panel, the engagements list, new, import (good and bad files), the demo."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from cockpit_pilot import TODAY, record_notifications, screen_name, store_ready, wait_for
from textual.widgets import DataTable, Input, Static

from screens.app import RedlineApp

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "assets" / "examples" / "acme-2026.yaml"


def _rows(app: Any) -> list[list[str]]:
    table = app.screen.query_one("#engagements", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def seed_home() -> None:
    """Two engagements, one with an open high finding, dated against TODAY."""
    from app import alignment
    from app.demo_engagement import ensure_demo_engagement
    from app.findings import create_finding
    from app.store.engine import dispose_all, session

    with session() as db:
        ensure_demo_engagement(db, today=TODAY)
        eid = alignment.create_engagement(db, "acme-2026", "Acme Corp").id or 0
        alignment.set_type2(db, eid, date(2026, 1, 1), date(2026, 6, 30),
                            alignment.suggest_windows(date(2026, 1, 1), date(2026, 6, 30)))
        create_finding(db, engagement_id=eid, title="System prompt leaks", severity="high", status="open",
                       controls=["CC6.6"])
    dispose_all()


async def test_a_first_time_user_is_told_what_to_do_next() -> None:
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        await store_ready(pilot)
        panel = str(app.screen.query_one("#home-panel", Static).content)
        assert "No engagements yet" in panel and "d  open the built-in demo" in panel
        assert not app.screen.query_one("#engagements", DataTable).display


async def test_the_list_shows_type_period_next_window_and_open_findings() -> None:
    seed_home()
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        await store_ready(pilot)
        await wait_for(pilot, lambda: app.screen.query_one("#engagements", DataTable).row_count == 2, "two rows")
        assert _rows(app) == [
            ["acme-2026", "Acme Corp", "II", "2026-01..06", "Q2 in 19d", "1 H", "0/4"],
            ["demo", "(built-in)", "II", "2026", "Q2 now", "–", "4/4"],  # the demo window holds today
        ]


async def test_open_the_demo_from_home_then_come_back() -> None:
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        await store_ready(pilot)
        await pilot.press("d")
        await wait_for(pilot, lambda: screen_name(pilot) == "RunScreen", "the demo engagement")
        assert app.screen.engagement_name == "demo"
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(pilot) == "HomeScreen", "Home")
        await wait_for(pilot, lambda: app.screen.query_one("#engagements", DataTable).row_count == 1, "the row")
        assert _rows(app)[0][0] == "demo"
        await pilot.press("enter")  # an aligned engagement opens on its working screen
        await wait_for(pilot, lambda: screen_name(pilot) == "RunScreen", "the demo again")


async def test_new_engagement_asks_a_name_and_opens_the_wizard() -> None:
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        await store_ready(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: screen_name(pilot) == "PromptScreen", "the name prompt")
        await pilot.press(*"acme-2026", "enter")
        await wait_for(pilot, lambda: "Client" in getattr(app.screen, "prompt_title", ""), "the client prompt")
        await pilot.press(*"Acme Corp", "enter")
        await wait_for(pilot, lambda: screen_name(pilot) == "WizardScreen", "the wizard")
        assert app.screen.current == "systems" and app.screen.engagement_name == "acme-2026"


async def test_a_bad_name_is_refused_literally_before_the_client_is_asked() -> None:
    """The name is checked when it is given: the tester fixes it in place, and no answer is thrown away."""
    app = RedlineApp(today=TODAY)
    shown = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await store_ready(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: screen_name(pilot) == "PromptScreen", "the name prompt")
        await pilot.press(*"[b]x", "enter")
        await wait_for(pilot, lambda: shown, "the error")
        assert shown[-1]["markup"] is False and "'[b]x' is not allowed" in shown[-1]["message"]
        await wait_for(pilot, lambda: screen_name(pilot) == "PromptScreen", "the name prompt again")
        assert "Client" not in app.screen.prompt_title
        field = app.screen.query_one(Input)
        assert field.value == "[b]x"  # what was typed comes back to be fixed, not retyped
        field.value = ""
        await pilot.press(*"acme-b", "enter")
        await wait_for(pilot, lambda: "Client" in getattr(app.screen, "prompt_title", ""), "the client prompt")
        await pilot.press(*"Acme Corp", "enter")
        await wait_for(pilot, lambda: screen_name(pilot) == "WizardScreen", "the wizard")
        assert app.screen.engagement_name == "acme-b"


async def test_import_an_engagement_file() -> None:
    app = RedlineApp(today=TODAY)
    shown = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await store_ready(pilot)
        await pilot.press("i")
        await wait_for(pilot, lambda: screen_name(pilot) == "PromptScreen", "the path prompt")
        app.screen.query_one(Input).value = str(EXAMPLE)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.query_one("#engagements", DataTable).row_count == 1, "the import")
        assert _rows(app)[0][:4] == ["acme-2026", "Acme Corp", "II", "2026"]
    assert any(n["message"].startswith("imported acme-2026") for n in shown)


async def test_a_bad_file_is_reported_with_file_and_line_and_nothing_is_written(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: acme\nclient: '[bold red]Evil[/]'\naudit:\n  type: type3\n", encoding="utf-8")
    app = RedlineApp(today=TODAY)
    shown = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await store_ready(pilot)
        await pilot.press("i")
        await wait_for(pilot, lambda: screen_name(pilot) == "PromptScreen", "the path prompt")
        app.screen.query_one(Input).value = str(bad)
        await pilot.press("enter")
        await wait_for(pilot, lambda: any(n.get("severity") == "error" for n in shown), "the error")
        error = next(n for n in shown if n.get("severity") == "error")
        assert error["markup"] is False
        assert f"{bad}:4:" in error["message"] and "audit.type" in error["message"]
        assert not app.screen.query_one("#engagements", DataTable).display


def test_home_snapshot(snap_compare: Any) -> None:
    seed_home()

    async def loaded(pilot: Any) -> None:
        await store_ready(pilot)
        await wait_for(pilot, lambda: pilot.app.screen.query_one("#engagements", DataTable).row_count == 2, "rows")
        # Rows added are drawn on the next refresh: let it happen before the picture, on a busy machine too.
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    assert snap_compare(RedlineApp(today=TODAY), terminal_size=(80, 24), run_before=loaded)


async def test_home_counts_what_waits_and_each_is_one_key_away() -> None:
    """Drafts are not "open", but they are work: Home says how many, and t, f and u go to them."""
    import os
    import sqlite3

    from app.alignment import get_engagement
    from app.findings import find, transition
    from app.runner import plan_runs, run_scenarios
    from app.store.engine import dispose_all, session

    seed_home()  # demo (nothing run yet) and acme-2026 (one open high finding)
    with session() as db:
        demo = next(e for e in find_all(db) if e.is_demo)
        eid = demo.id or 0
        plan = plan_runs(db, get_engagement(db, eid), scenario_ids=["pi-direct-override", "api-unauthenticated-chat",
                                                                    "sysprompt-summary-request"])
    outcomes = await run_scenarios(eid, plan)
    with session() as db:
        drafts = find(db, eid, statuses=["draft"])
        transition(db, drafts[0], "open", reason="reproduced", actor="ana")
        expected_drafts = len(drafts) - 1
    dispose_all()
    store = sqlite3.connect(os.path.join(os.environ["REDLINE_HOME"], "redline.db"))
    store.execute("UPDATE run SET status = 'running' WHERE id = ?", (outcomes[0].run_id,))  # a crash
    store.commit()
    store.close()
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: len(_rows(app)) == 2, "the list")
        table = app.screen.query_one("#engagements", DataTable)
        demo_index = next(i for i, r in enumerate(_rows(app)) if r[0] == "demo")
        table.move_cursor(row=demo_index)
        await pilot.pause()
        panel = str(app.screen.query_one("#home-panel", Static).render())
        assert f"{expected_drafts} draft{'s' if expected_drafts != 1 else ''} to triage (t)" in panel
        assert "1 finding in progress (f)" in panel and "1 run interrupted (u)" in panel
        await pilot.press("t")
        await wait_for(pilot, lambda: screen_name(pilot) == "FindingsScreen", "the findings register")
        assert app.screen.query_one("#filter-status").value == "draft"
        assert app.screen.query_one("#findings-table", DataTable).row_count == expected_drafts
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(pilot) == "HomeScreen", "home")
        await pilot.press("u")
        await wait_for(pilot, lambda: screen_name(pilot) == "RunScreen", "the run screen, where R resumes")
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(pilot) == "HomeScreen", "home again")
        # The other engagement: one open finding, nothing else; the sentence says only that.
        table.move_cursor(row=1 - demo_index)
        await pilot.pause()
        panel = str(app.screen.query_one("#home-panel", Static).render())
        assert "1 finding in progress (f)" in panel and "draft" not in panel and "interrupted" not in panel


def find_all(db: Any) -> list[Any]:
    from sqlmodel import select

    from app.store.models import Engagement

    return list(db.exec(select(Engagement)).all())
