"""What every cockpit screen shares: the engagement base, and (from :mod:`screens.calls`) store access.

Screens read and write through the headless core (``app/``) only. Small reads
and saves run on the UI thread (SQLite answers in milliseconds); anything that
parses files, loads the library or touches the network runs in a worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.binding import Binding
from textual.screen import Screen

from app.text import for_terminal

# Re-exported: screens reach the store and report errors through their base module.
from screens.calls import report_error as report_error
from screens.calls import try_store as try_store
from screens.calls import with_store as with_store

if TYPE_CHECKING:
    from screens.app import RedlineApp


class EngagementScreen(Screen[None]):
    """A screen about one engagement: knows its id, goes back with escape, reloads on demand."""

    # The engagement's screens, reachable from each other by one key and from the palette.
    # Capitals, so they never collide with a screen's own lower-case keys; a screen that
    # binds one of them for itself (Findings: R re-tests) keeps its own meaning.
    BINDINGS = [
        Binding("escape", "back", "Back", id="screen.back"),
        Binding("R", "goto('run')", "Go to Run", show=False, id="nav.run"),
        Binding("F", "goto('findings')", "Go to Findings", show=False, id="nav.findings"),
        Binding("O", "goto('controls')", "Go to Controls", show=False, id="nav.controls"),
        Binding("M", "goto('monitoring')", "Go to Monitoring", show=False, id="nav.monitoring"),
        Binding("A", "goto('questions')", "Go to Auditor questions", show=False, id="nav.questions"),
        Binding("E", "goto('export')", "Go to Export", show=False, id="nav.export"),
        Binding("W", "goto('wizard')", "Go to Alignment", show=False, id="nav.wizard"),
    ]
    SCREEN_NAME = ""  # this screen's name in screens.app.SCREENS

    def action_goto(self, name: str) -> None:
        """Open another screen of this engagement; the one already on top is left as it is."""
        if name == self.SCREEN_NAME:
            return
        self.redline.push_screen_for(name, self.engagement_id)

    def __init__(self, engagement_id: int, *, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self.engagement_id = engagement_id
        self.engagement_name = ""

    @property
    def redline(self) -> RedlineApp:
        return self.app  # type: ignore[return-value]

    def action_back(self) -> None:
        self.app.pop_screen()

    def set_heading(self, what: str) -> None:
        """The header line: engagement name and the screen's purpose (names are user text: literal)."""
        self.title = for_terminal(self.engagement_name or f"engagement {self.engagement_id}")
        self.sub_title = what
