"""The export screen: the bundle written in a worker with a progress bar, the manifest summary, the verify result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cockpit_pilot import TODAY, screen_name, store_ready, wait_for
from textual.widgets import Input, ProgressBar, SelectionList, Static

from screens.app import RedlineApp


async def demo_with_one_run() -> int:
    from app.alignment import get_engagement
    from app.demo_engagement import ensure_demo_engagement
    from app.runner import plan_runs, run_scenarios
    from app.store.engine import dispose_all, session

    with session() as db:
        eid = ensure_demo_engagement(db, today=TODAY).id or 0
        plan = plan_runs(db, get_engagement(db, eid), scenario_ids=["pi-direct-override"])
    await run_scenarios(eid, plan)
    dispose_all()
    return eid


async def open_export(pilot: Any, engagement_id: int) -> Any:
    await store_ready(pilot)
    pilot.app.push_screen_for("export", engagement_id)
    await wait_for(pilot, lambda: screen_name(pilot) == "ExportScreen", "the export screen")
    return pilot.app.screen


def watch_progress(screen: Any) -> list[tuple[int, int]]:
    seen: list[tuple[int, int]] = []
    original = screen._progress

    def progress(path: str, done: int, total: int) -> None:
        seen.append((done, total))
        original(path, done, total)

    screen._progress = progress
    return seen


async def test_export_shows_progress_then_the_manifest_and_a_passing_verify(tmp_path: Path) -> None:
    from app.evidence.verify import verify_bundle

    eid = await demo_with_one_run()
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_export(pilot, eid)
        assert screen.query_one("#export-path", Input).value.endswith(".zip")
        target = tmp_path / "acme evidence.zip"
        screen.query_one("#export-path", Input).value = str(target)
        seen = watch_progress(screen)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.report is not None, "the bundle to be written and verified")
        result = str(screen.query_one("#export-result", Static).render())
        bar = screen.query_one("#export-progress", ProgressBar)
        assert bar.progress == bar.total == seen[-1][1]
    assert target.is_file() and verify_bundle(target).ok
    dones = [done for done, _total in seen]
    assert dones == sorted(dones) and len(dones) > 5 and seen[-1][0] == seen[-1][1]
    assert "1 runs" in result and "1 findings" in result and "windows: every run" in result
    assert "audit chain:" in result and "intact" in result
    assert "OK: acme evidence.zip" in result and "files match the manifest" in result


async def test_export_limited_to_a_window_and_a_missing_folder_fails_plainly(tmp_path: Path) -> None:
    eid = await demo_with_one_run()
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_export(pilot, eid)
        missing = tmp_path / "no-such-folder" / "bundle.zip"
        screen.query_one("#export-path", Input).value = str(missing)
        await pilot.press("ctrl+s")
        result = screen.query_one("#export-result", Static)
        await wait_for(pilot, lambda: "Export failed" in str(result.render()), "the error")
        assert "does not exist" in str(result.render()) and not missing.exists()
        windows = screen.query_one("#export-windows", SelectionList)
        windows.select("Q1")
        screen.query_one("#export-path", Input).value = str(tmp_path / "q1")  # .zip is added
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.report is not None, "the Q1 bundle")
        text = str(result.render())
    assert (tmp_path / "q1.zip").is_file()
    assert "windows: Q1" in text and "0 runs" in text and "OK: q1.zip" in text


async def test_global_keys_on_export_never_type_into_the_path(tmp_path: Path, monkeypatch: Any) -> None:
    """`R`, `?` and `q` keep their meaning on arrival; the default path survives them, and a field entered
    later is appended to, never wiped by a first key."""
    monkeypatch.chdir(tmp_path)
    eid = await demo_with_one_run()
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_export(pilot, eid)
        path = screen.query_one("#export-path", Input)
        default = path.value
        assert default == str(tmp_path / f"demo-evidence-{TODAY.isoformat()}.zip")
        assert not path.has_focus
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: screen_name(pilot) == "HelpScreen", "help")
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(pilot) == "ExportScreen", "back to export")
        await pilot.press("f1")
        await wait_for(pilot, lambda: screen_name(pilot) == "HelpScreen", "help by F1")
        help_text = " ".join(str(w.render()) for w in app.screen.query("Static"))
        assert "escape" in help_text and "close" in help_text
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(pilot) == "ExportScreen", "back to export again")
        await pilot.press("R")
        await wait_for(pilot, lambda: screen_name(pilot) == "RunScreen", "R goes to Run")
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(pilot) == "ExportScreen", "back from Run")
        assert path.value == default
        # Moving into the field (tab) and typing appends: nothing selected is replaced.
        while not path.has_focus:
            await pilot.press("tab")
        await pilot.press("x")
        assert path.value == default + "x"
        await pilot.press("backspace")
        await pilot.press("shift+tab")
        assert not path.has_focus
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.report is not None, "the bundle")
    assert Path(default).is_file()
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".zip") == [Path(default).name]


async def test_checked_and_unchecked_differ_in_shape_not_only_in_colour() -> None:
    eid = await demo_with_one_run()
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_export(pilot, eid)
        picker = screen.query_one("#export-windows", SelectionList)
        picker.select(picker.get_option_at_index(1).value)
        await pilot.pause()
        first, second = (picker.render_line(i).text for i in (0, 1))
        assert first[:3] != second[:3], (first, second)  # the glyphs themselves differ
        assert "✓" in second[:3] and "✓" not in first[:3]
    from textual.app import App

    from screens.widgets.toggles import Tick

    class Boxes(App[None]):
        def compose(self) -> Any:
            yield Tick("off", False, id="off")
            yield Tick("on", True, id="on")

    boxes = Boxes()
    async with boxes.run_test(size=(40, 6)) as pilot:
        off, on = boxes.query_one("#off", Tick), boxes.query_one("#on", Tick)
        assert (off._button.plain, on._button.plain) == ("▐ ▌", "▐✓▌")
        await pilot.click("#off")
        assert off.value and off._button.plain == "▐✓▌"
