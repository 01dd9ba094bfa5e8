"""The Monitoring and Auditor-questions screens over a real engagement: marks per window, flags, keys, probes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cockpit_pilot import screen_name, store_ready, wait_for
from textual.widgets import DataTable, OptionList, Static

from screens.app import RedlineApp

HOSTILE = "bot[bold red]X[/] \x1b[31mred\x1b]8;;https://evil.example\x07"


@pytest.fixture
def demo() -> Iterator[Any]:
    from app.demo.server import start_demo_server

    server = start_demo_server(chunk_delay=0, service_time=0)
    yield server
    server.stop()


@pytest.fixture
def seeded(demo: Any) -> int:
    """W1: the vulnerable system fails, the finding is confirmed, the hardened system passes its re-test;
    then one run tagged W2 before W2 starts (a dating flag: early, counted in no window)."""
    from app.retest import retest_findings
    from app.store import dispose_all
    from tests.test_lifecycle_support import confirm_all, make_engagement, run

    eid = make_engagement(demo.base_url, system=HOSTILE)
    run(eid)
    confirm_all(eid)
    demo.hardened = True
    retest_findings(eid, probe=False)
    run(eid, window="W2")
    dispose_all()
    return eid


async def _monitoring(pilot: Any, eid: int) -> DataTable[Any]:
    await store_ready(pilot)
    pilot.app.push_screen_for("monitoring", eid)
    await wait_for(pilot, lambda: screen_name(pilot) == "MonitoringScreen", "the monitoring screen")
    table = pilot.app.screen.query_one("#monitoring-table", DataTable)
    await wait_for(pilot, lambda: table.row_count > 0, "the monitoring rows")
    return table


def _today() -> Any:
    from app.runner.plan import today_utc

    return today_utc()


async def test_the_grid_shows_each_window_and_the_flags_literally(seeded: int) -> None:
    eid = seeded
    app = RedlineApp(today=_today())
    async with app.run_test(size=(80, 24)) as pilot:
        table = await _monitoring(pilot, eid)
        assert [str(c.label) for c in table.columns.values()] == ["CRITERION", "W1", "W2", "W3", "other", "STRIP",
                                                                  "TREND"]
        rows = {str(table.get_row_at(i)[0]): [str(c) for c in table.get_row_at(i)] for i in range(table.row_count)}
        # The run tagged W2 ran before W2 began: it sits in "other" and W2 stays untested.
        assert rows["CC6.6"] == ["CC6.6", "↻1/1", "·", "·", "✓1/1", "↻··✓", "one sample"]
        windows = str(app.screen.query_one("#monitoring-windows", Static).content)
        assert "W1" in windows and "ran (1 run)" in windows and "W3" in windows and "upcoming" in windows
        assert "(early) tagged W2, not counted" in windows
        flags = str(app.screen.query_one("#monitoring-flags", Static).content)
        assert "outside its test window W2" in flags
        assert "bot[bold red]X[/]" in flags and "\x1b" not in flags  # a hostile name, shown as written
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Go to Auditor questions", "Probe", "Inventory", "Reload"} <= set(titles)


async def test_questions_are_answered_and_the_keys_move_between_the_views(seeded: int) -> None:
    eid = seeded
    app = RedlineApp(today=_today())
    async with app.run_test(size=(80, 24)) as pilot:
        await _monitoring(pilot, eid)
        await pilot.press("a")
        await wait_for(pilot, lambda: screen_name(pilot) == "QuestionsScreen" and app.screen.answers, "the answers")
        options = app.screen.query_one("#questions-list", OptionList)
        assert str(options.get_option_at_index(0).prompt).startswith("↻ How do you prevent prompt injection?")
        answer = str(app.screen.query_one("#questions-answer", Static).content)
        assert "Exceptions were remediated and re-tested." in answer and "W1: remediated" in answer
        await pilot.press("down")
        await wait_for(pilot, lambda: "No evidence yet" in str(app.screen.query_one("#questions-answer",
                                                                                     Static).content),
                       "the monitoring question's answer")
        await pilot.press("m")
        await wait_for(pilot, lambda: screen_name(pilot) == "MonitoringScreen", "monitoring again")


@pytest.fixture
def swapped(seeded: int, demo: Any) -> int:
    """A baseline probe on the model tested in W1, then the model is swapped."""
    from app.changes import probe_engagement
    from app.store import dispose_all

    probe_engagement(seeded)
    dispose_all()
    demo.model_version = "2"
    return seeded


async def test_a_probe_from_the_screen_raises_the_change_flag(swapped: int) -> None:
    eid = swapped
    app = RedlineApp(today=_today())
    async with app.run_test(size=(80, 24)) as pilot:
        await _monitoring(pilot, eid)
        await pilot.press("p")
        await wait_for(pilot, lambda: "behaviour fingerprint" in str(
            app.screen.query_one("#monitoring-flags", Static).content), "the change flag")
        flags = str(app.screen.query_one("#monitoring-flags", Static).content)
        assert "possible unapproved model change" in flags
