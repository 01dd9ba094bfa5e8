"""The cockpit shell: start-up, help, the command palette, quitting, and the store opened after the first frame."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from cockpit_pilot import TODAY, screen_name, store_ready, wait_for
from textual.widgets import DataTable, Static

from screens.app import SCREENS, RedlineApp, screen_class

REPO = Path(__file__).resolve().parents[2]


async def test_help_lists_the_screen_keys_and_the_app_keys() -> None:
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        await store_ready(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: screen_name(pilot) == "HelpScreen", "the help screen")
        table = app.screen.query_one("#help-keys", DataTable)
        rows = [tuple(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]
        assert ("n", "New", "this screen") in rows
        assert ("⏎", "Open", "this screen") in rows  # shadowed by the table's own enter, still listed
        helps = [key for key, does, where in rows if does == "Help" and where == "everywhere"]
        assert len(helps) == 1 and sorted(helps[0].split(", ")) == ["?", "f1"]  # one line, both keys
        assert any(key.split(", ") == ["^q", "q"] or key.split(", ") == ["q", "^q"] for key, does, _ in rows
                   if does == "Quit")
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(pilot) == "HomeScreen", "help to close")


async def test_every_key_is_a_palette_command_and_the_palette_runs_it() -> None:
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        await store_ready(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for title in ("New", "Import", "Demo", "Open", "Help", "Quit", "Theme"):
            assert title in titles
        assert "Cursor down" not in titles  # table cursor keys are not commands
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: screen_name(pilot) == "CommandPalette", "the palette")
        await pilot.press(*"Demo")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(pilot) == "RunScreen", "the demo to open from the palette")
        assert app.screen.engagement_name == "demo"


async def test_q_quits() -> None:
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        await store_ready(pilot)
        await pilot.press("q")
        await wait_for(pilot, lambda: app._exit, "the app to exit")
    assert app.return_code == 0


async def test_interrupted_runs_are_recovered_at_start_up(redline_home: Path, tmp_path: Path) -> None:
    from app import alignment
    from app.store.engine import dispose_all, session
    from app.store.models import Run, Scenario

    with session() as db:
        eid = alignment.create_engagement(db, "acme").id
        system = alignment.save_system(db, eid, alignment.system_spec(name="bot", kind="demo"))
        scenario = Scenario(scenario_id="s", sha256="0" * 64)
        db.add(scenario)
        db.flush()
        run = Run(engagement_id=eid, system_id=system.id, scenario_pk=scenario.id, status="running")
        db.add(run)
    # A killed export's leftovers: its lock (no process holds it now) names the half-written file.
    exports = redline_home / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    partial = tmp_path / "bundle.zip.partial"
    partial.write_bytes(b"PK half")
    (exports / "bundle.lock").write_bytes(bytes(partial))
    dispose_all()
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        await store_ready(pilot)
        # The cockpit starts as every evidence command does (app.startup) and says what it did.
        await wait_for(pilot, lambda: any("was interrupted" in n.message for n in app._notifications),
                       "the recovery notice")
    with session() as db:
        assert db.get(Run, run.id).status == "interrupted"
    assert not partial.exists()


async def test_a_store_that_cannot_open_is_shown_on_home(redline_home: Path) -> None:
    redline_home.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(redline_home / "redline.db") as conn:
        conn.execute("PRAGMA user_version=999")
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.store_error, "the store error")
        panel = app.screen.query_one("#home-panel", Static)
        await wait_for(pilot, lambda: "newer than this Redline" in str(panel.content), "the error on Home")
        assert not app.store_ready


async def test_demo_flag_opens_the_demo_engagement() -> None:
    app = RedlineApp(demo=True, today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: screen_name(pilot) == "RunScreen", "the demo engagement")
        assert app.screen.engagement_name == "demo"
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(pilot) == "HomeScreen", "Home under the demo")


def test_every_registered_screen_resolves() -> None:
    for name in SCREENS:
        assert screen_class(name).__name__.endswith("Screen")


def test_the_shell_imports_no_database_or_http_code() -> None:
    """Start-up stays close to a bare Textual app: the store and HTTP load later, in a worker."""
    code = ("import sys, json, screens.app, screens.home; "
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'sqlmodel', 'sqlalchemy', 'httpx', 'openpyxl', 'jinja2', 'textual'})))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["textual"]


async def test_dialogs_show_file_text_literally() -> None:
    """A name from an engagement file, quoted in a confirm dialog, cannot style, link or escape."""
    from screens.widgets.prompt import ConfirmScreen

    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        await store_ready(pilot)
        app.push_screen(ConfirmScreen("Remove system '[@click=app.quit]bot\x1b]0;pwned\x07\u202e'?"))
        await wait_for(pilot, lambda: screen_name(pilot) == "ConfirmScreen", "the dialog")
        shown = str(app.screen.query_one(".dialog-title", Static).content)
        assert "[@click=app.quit]bot" in shown and "\x1b" not in shown and "⟨RLO⟩" in shown
        await pilot.press("n")
        await wait_for(pilot, lambda: screen_name(pilot) == "HomeScreen", "the dialog to close")
