"""Output that fits: the run list's columns size to their content and share spare width; states are never cut.

Driven at the two real terminal sizes a tester uses, 80×24 and 200×50.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from cockpit_pilot import TODAY
from test_run import demo_engagement, open_run_screen

from screens.app import RedlineApp

LONG = ["cross-tenant-conversation-leak", "history-isolation-previous-user", "pi-direct-override"]


async def stored_runs() -> int:
    from app.alignment import get_engagement
    from app.runner import plan_runs, run_scenarios
    from app.store.engine import dispose_all, session

    eid = demo_engagement()
    with session() as db:
        plan = plan_runs(db, get_engagement(db, eid), scenario_ids=LONG)
    outcomes = await run_scenarios(eid, plan)
    dispose_all()
    db = sqlite3.connect(Path(os.environ["REDLINE_HOME"]) / "redline.db")
    db.execute("UPDATE run SET status = 'interrupted', verdict = '' WHERE id = ?", (outcomes[0].run_id,))
    db.execute("UPDATE run SET status = 'cancelled', verdict = '' WHERE id = ?", (outcomes[1].run_id,))
    db.commit()
    db.close()
    return eid


def column_widths(table: Any) -> dict[str, int]:
    return {str(c.label): c.width for c in table.columns.values()}


@pytest.mark.parametrize("size", [(80, 24), (200, 50)])
async def test_run_list_columns_fit_their_content_and_never_cut_a_state(size: tuple[int, int]) -> None:
    from screens.widgets.run_list import RunList

    eid = await stored_runs()
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=size) as pilot:
        screen = await open_run_screen(pilot, eid)
        table = screen.query_one(RunList)
        await pilot.pause()
        widths = column_widths(table)
        states = [str(table.get_row_at(i)[1]) for i in range(table.row_count)]
        assert "! interrupted" in states and "⊘ cancelled" in states
        assert widths["STATE"] >= max(len(s) for s in states)  # never "! interru"
        used = sum(widths.values()) + 2 * len(widths)
        assert used <= table.size.width  # the table never scrolls sideways
        if size[0] == 200:
            # Wide: every column is there, and the ids are whole, so a run and its re-test are told apart.
            assert list(widths) == ["RUN", "STATE", "TTFT", "TOK/S", "SYSTEM", "DETECTORS"]
            assert widths["RUN"] >= max(len(s) for s in LONG)
            assert widths["SYSTEM"] >= len("support-bot")


@pytest.mark.parametrize("width", [40, 76, 196])
@pytest.mark.parametrize("today", ["2026-01-03", "2026-06-15", "2026-12-05", "2026-12-30"])
def test_the_today_marker_points_into_the_window_that_holds_today(width: int, today: str) -> None:
    from datetime import date, timedelta

    from app.alignment import WindowPlan
    from screens.widgets.calendar import strip_lines

    day = date.fromisoformat(today)
    window = WindowPlan("W", max(date(2026, 1, 1), day - timedelta(days=3)), min(date(2026, 12, 31), day + timedelta(days=3)))
    lines = strip_lines(date(2026, 1, 1), date(2026, 12, 31), [window], width, day)
    bar, marker = lines[1].plain, lines[3].plain
    block = [i for i, ch in enumerate(bar) if ch == "█"]
    arrow = marker.index("▲")
    assert block[0] <= arrow <= block[-1], (bar, marker)
    assert "today" in marker and len(marker) <= width


async def test_a_state_that_grows_while_running_is_not_cut() -> None:
    """Queued when the table was filled, running a moment later: the column widens rather than cut it."""
    import asyncio

    from app.events import RunStarted
    from screens.widgets.run_list import RunEntry, RunList

    eid = demo_engagement()
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_run_screen(pilot, eid)
        screen.entries["live:1"] = RunEntry("live:1", "pi-direct-override", "support-bot", cancel=asyncio.Event())
        screen._fill_table(select="live:1")
        await pilot.pause()
        table = screen.query_one(RunList)
        assert str(table.get_row_at(0)[1]) == "○ queued"
        screen.feed.on_event("live:1", RunStarted(7, "pi-direct-override", "support-bot", "Q2"))
        await pilot.pause()
        screen._tick()
        await pilot.pause()
        state = str(table.get_row_at(0)[1])
        assert state == "● running"
        assert column_widths(table)["STATE"] >= len(state)


async def test_a_long_error_note_wraps_in_the_transcript_rather_than_being_cut() -> None:
    from screens.widgets.transcript import Transcript, TurnText

    note = ("error: client_error: auth 'revoked' was requested but this system has no revoked_key; "
            "add one to the system (the key the client says it revoked) to run this scenario")
    eid = demo_engagement()
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_run_screen(pilot, eid)
        transcript = screen.query_one(Transcript)
        transcript.show([TurnText(1, "step 1 · chat", "Can you help me track my order?", "", False, None, note)])
        await pilot.pause()
        shown = " ".join(line.strip() for line in transcript.text.splitlines())
        assert "to run this scenario" in shown and "this system has no revoked_key" in shown
        assert all(len(line) <= transcript.scrollable_content_region.width for line in transcript.text.splitlines())


async def test_tab_moves_scenarios_runs_transcript_in_order_and_shows_where_focus_is() -> None:
    eid = demo_engagement()
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_run_screen(pilot, eid)
        seen = [app.focused.id]
        for _ in range(3):
            await pilot.press("tab")
            seen.append(app.focused.id)
        assert seen == ["picker", "runs", "transcript", "picker"]
        await pilot.press("shift+tab")
        assert app.focused.id == "transcript"
        # The focused pane is marked in the accent colour; focus moving away takes the mark with it.
        def marks() -> dict[str, tuple[Any, ...]]:
            return {n: (tuple(screen.query_one(f"#{n}").styles.border_left),
                        tuple(screen.query_one(f"#{n}").styles.border_top)) for n in ("picker", "runs", "transcript")}

        screen.set_focus(None)
        await pilot.pause()
        unfocused = marks()
        for name in ("picker", "runs", "transcript"):
            screen.query_one(f"#{name}").focus()
            await pilot.pause()
            now = marks()
            assert now[name] != unfocused[name], name
            assert all(now[o] == unfocused[o] for o in now if o != name), name


async def test_every_footer_fits_80_columns() -> None:
    """The last key of each footer (^p Palette) is whole at 80 columns, on every screen of an engagement."""
    from test_triage import demo_run
    from textual.widgets import Footer

    eid, run_id = await demo_run("pi-direct-override")
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        from cockpit_pilot import store_ready, wait_for

        await store_ready(pilot)
        for name, kwargs in (("run", {}), ("triage", {"run_id": run_id}), ("findings", {}), ("controls", {}),
                             ("monitoring", {}), ("questions", {}), ("export", {})):
            app.push_screen_for(name, eid, **kwargs)
            await wait_for(pilot, lambda: [k for f in app.screen.query(Footer) for k in f.query("FooterKey")],
                           f"{name}'s footer")
            await pilot.pause()
            keys = list(app.screen.query_one(Footer).query("FooterKey"))
            right = max(k.region.right for k in keys)
            assert right <= 80, (name, right, [str(k.description) for k in keys])
            app.pop_screen()
            await pilot.pause()
