"""The Redline cockpit: global keys, the command palette, themes, and routing between screens.

Start-up is kept close to a bare Textual app: this module imports no database
or HTTP code. Home draws first; the store (sqlmodel, the schema upgrade, the
recovery of runs interrupted by a crash) is opened in a thread worker after
that first frame, and screens that need it wait for :meth:`RedlineApp.when_store_ready`.

Routing: a screen is one line in :data:`SCREENS` (name -> ``module:Class``,
imported on first use). Engagement screens take the engagement id as their
first argument; :meth:`RedlineApp.push_screen_for` and
:meth:`RedlineApp.open_engagement` are the ways in.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from datetime import date
from functools import partial
from typing import Any

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from app.resources import assets_dir
from app.text import for_terminal

# One registration line per screen. Engagement screens: ``Class(engagement_id, **kwargs)``.
SCREENS: dict[str, str] = {
    "home": "screens.home:HomeScreen",
    "wizard": "screens.wizard:WizardScreen",
    "controls": "screens.controls:ControlsScreen",
    "monitoring": "screens.monitoring:MonitoringScreen",
    "questions": "screens.questions:QuestionsScreen",
    "run": "screens.run:RunScreen",
    "triage": "screens.triage:TriageScreen",
    "findings": "screens.findings:FindingsScreen",
    "export": "screens.export:ExportScreen",
}
STYLESHEETS = ("app.tcss", "home.tcss", "wizard.tcss", "controls.tcss", "help.tcss")


def screen_class(name: str) -> Callable[..., Screen[Any]]:
    """The screen class registered as ``name`` (its module is imported now, not at start-up)."""
    try:
        module_name, class_name = SCREENS[name].split(":")
    except KeyError:
        raise KeyError(f"no screen registered as {name!r}; known: {', '.join(sorted(SCREENS))}") from None
    return getattr(importlib.import_module(module_name), class_name)


class RedlineApp(App[int]):
    """The cockpit. ``demo`` opens the built-in demo engagement; ``today`` pins dates for tests."""

    TITLE = "Redline"
    SUB_TITLE = "engagements"
    CSS_PATH = [assets_dir() / "tcss" / name for name in STYLESHEETS]
    # Where an aligned engagement opens: the Run screen, the cockpit's main room.
    ENGAGEMENT_HOME = "run"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Leave Redline"),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, id="app.quit_now"),
        Binding("question_mark", "help", "Help", key_display="?", id="app.help",
                tooltip="Every key of this screen"),
        Binding("f1", "help", "Help", show=False, id="app.help_f1", tooltip="Every key of this screen"),
        Binding("ctrl+p", "command_palette", "Palette", id="app.palette", priority=True,
                tooltip="Search every action"),
    ]

    def __init__(self, *, demo: bool = False, today: date | None = None) -> None:
        super().__init__()
        self.open_demo_at_start = demo
        self._today = today
        self.store_ready = False
        self.store_error = ""
        self._waiting: list[Callable[[], Any]] = []

    # --- dates ---------------------------------------------------------------------------------
    def today(self) -> date:
        """The date screens plan against (fixed in tests so snapshots stay stable)."""
        return self._today or date.today()

    # --- start-up ------------------------------------------------------------------------------
    def on_mount(self) -> None:
        self.push_screen(screen_class("home")())
        self.call_after_refresh(self._open_store)

    @work(thread=True, group="startup", exit_on_error=False)
    def _open_store(self) -> None:
        """Heavy imports and the schema upgrade, off the UI thread and after the first frame."""
        try:
            from screens.calls import with_store

            for notice in _prepare_store():
                self.call_from_thread(self.notify, for_terminal(notice), severity="warning", markup=False)
            demo_id = with_store(partial(_demo_id, self.today())) if self.open_demo_at_start else None
            from app.store.location import current

            shared = current()
        except Exception as exc:  # shown on Home; the app stays usable for reading help
            self.call_from_thread(self._store_failed, f"{type(exc).__name__}: {exc}")
            return
        if shared.sqlite_path is None:  # a team's server: every screen's header says which (password masked)
            self.call_from_thread(setattr, self, "title", f"Redline · {shared.backend} {shared.shown}")
        self.call_from_thread(self._store_opened, demo_id)

    def _store_opened(self, demo_id: int | None) -> None:
        self.store_ready = True
        waiting, self._waiting = self._waiting, []
        for callback in waiting:
            callback()
        if demo_id is not None:
            self.open_engagement(demo_id)

    def _store_failed(self, message: str) -> None:
        from screens.messages import StoreFailed

        self.store_error = for_terminal(message)
        self.notify(self.store_error, title="cannot open the store", severity="error", markup=False, timeout=30)
        for screen in self.screen_stack:
            screen.post_message(StoreFailed(self.store_error))

    def when_store_ready(self, callback: Callable[[], Any]) -> None:
        """Call ``callback`` on the UI thread once the store is open (now, if it already is)."""
        if self.store_ready:
            callback()
        else:
            self._waiting.append(callback)

    # --- routing -------------------------------------------------------------------------------
    def push_screen_for(self, name: str, engagement_id: int, **kwargs: Any) -> None:
        """Open the registered screen ``name`` on one engagement."""
        self.push_screen(screen_class(name)(engagement_id, **kwargs))

    def open_engagement(self, engagement_id: int) -> None:
        """The wizard while the alignment is incomplete (resuming at the first open step), else
        the engagement's working screen."""
        from app.alignment import get_engagement, next_step
        from screens.calls import with_store

        step = with_store(lambda db: next_step(get_engagement(db, engagement_id)))
        if step is not None:
            self.push_screen_for("wizard", engagement_id, step=step)
        else:
            self.push_screen_for(self.ENGAGEMENT_HOME, engagement_id)

    def go_home(self) -> None:
        from screens.widgets.run_queue import LEFT

        leaving = self.screen_stack[2:]

        def pop_all() -> None:
            async def stop_then_pop() -> None:
                for screen in leaving:
                    if hasattr(screen, "stop_runs"):
                        await screen.stop_runs(LEFT)
                while len(self.screen_stack) > 2:  # the default screen, then Home
                    self.pop_screen()

            self.run_worker(stop_then_pop(), group="app-leave")

        self.confirm_leaving(leaving, pop_all, leaving="these screens")

    # --- leaving with runs in flight -----------------------------------------------------------
    def confirm_leaving(self, screens: list[Screen[Any]], then: Callable[[], Any], *, leaving: str) -> None:
        """Call ``then`` at once if no run is in flight or queued on ``screens``; else ask first.

        The question says what leaving does: runs in flight are cancelled (the
        runner keeps their text and records them cancelled) and queued runs are
        recorded as not started. Declining changes nothing.
        """
        in_flight = queued = 0
        for screen in screens:
            counts = getattr(screen, "runs_in_flight", None)
            if counts is not None:
                running, waiting = counts()
                in_flight, queued = in_flight + running, queued + waiting
        if not in_flight and not queued:
            then()
            return
        from screens.widgets.prompt import ConfirmScreen

        question = (f"{in_flight} run(s) in flight and {queued} queued. Leave {leaving} anyway? Runs in flight "
                    "are cancelled (their streamed text is kept); queued runs are recorded as not started.")
        self.push_screen(ConfirmScreen(question), lambda yes: then() if yes else None)

    async def action_quit(self) -> None:
        """``q``: quit, but never drop runs in flight or queued without asking and leaving a trace."""
        from screens.widgets.run_queue import QUIT

        def quit_now() -> None:
            async def stop_then_exit() -> None:
                for screen in list(self.screen_stack):
                    if hasattr(screen, "stop_runs"):
                        await screen.stop_runs(QUIT)
                self.exit()

            self.run_worker(stop_then_exit(), group="app-quit")

        self.confirm_leaving(list(self.screen_stack), quit_now, leaving="Redline")

    # --- help and palette ----------------------------------------------------------------------
    def action_help(self) -> None:
        from screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
            return
        self.push_screen(HelpScreen.for_screen(self.screen))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Every key of the screen is also a palette command, then the app-wide ones."""
        seen: set[str] = set()
        for command in binding_commands(screen):
            seen.add(command.title)
            yield command
        if screen in self.screen_stack and self.screen_stack.index(screen) > 1:
            yield SystemCommand("Go home", "Back to the list of engagements", self.go_home)
        for command in super().get_system_commands(screen):
            if command.title not in seen:
                yield command


def binding_commands(screen: Screen[Any]) -> list[SystemCommand]:
    """Palette entries for the keys usable on ``screen`` (one source of truth: the bindings)."""
    from screens.help import is_generic, keys_of

    commands: list[SystemCommand] = []
    for key in keys_of(screen):
        if key.scope not in ("this screen", "everywhere") or is_generic(key.action):
            continue  # cursor keys of a table are not commands worth searching for
        if key.action.rpartition(".")[2] == "command_palette" or key.node is None:
            continue
        if any(c.title == key.description for c in commands):
            continue
        commands.append(SystemCommand(key.description, f"key {key.key} · {key.tooltip or key.scope}",
                                      partial(key.node.run_action, key.action)))
    return commands


def _prepare_store() -> list[str]:
    """The same start as every evidence command (app.startup): sweep killed exports, recover crashed runs."""
    from app.startup import prepare_store

    return prepare_store()


def _demo_id(today: date, db: Any) -> int:
    from app.demo_engagement import ensure_demo_engagement

    return ensure_demo_engagement(db, today=today).id or 0


def run_cockpit(demo: bool = False) -> int:
    """Open the cockpit (the ``redline`` command with no subcommand); returns the exit code."""
    app = RedlineApp(demo=demo)
    app.run()
    return int(app.return_code or 0)
