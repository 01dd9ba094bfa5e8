"""What the four wizard steps share: their place in the wizard, store access, and the "step done" button."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from app.alignment.steps import STEP_TITLES, STEPS
from app.errors import RedlineError
from screens.base import report_error, with_store
from screens.messages import EngagementChanged

if TYPE_CHECKING:
    from sqlmodel import Session

    from screens.app import RedlineApp


class StepHost(Protocol):
    """What a step uses of the wizard screen that holds it (:class:`screens.wizard.screen.WizardScreen`),
    named here so the steps need not import the screen that imports them."""

    @property
    def engagement_name(self) -> str: ...

    @property
    def redline(self) -> RedlineApp: ...

    def action_step_done(self) -> None: ...


class WizardStep(Vertical):
    """One step's pane. Subclasses set ``step`` and ``intro``, compose ``body()`` and implement ``load()``."""

    step = ""
    intro = ""

    def __init__(self, engagement_id: int) -> None:
        super().__init__(id=f"step-{self.step}", classes="wizard-step")
        self.engagement_id = engagement_id

    @property
    def wizard(self) -> StepHost:
        return self.screen  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        number = STEPS.index(self.step) + 1
        yield Static(Text(f"{number} · {STEP_TITLES[self.step]}", style="bold") + Text(f"  {self.intro}", style="dim"),
                     classes="step-title")
        yield from self.body()
        with Horizontal(classes="step-actions"):
            yield Static("", classes="step-status")
            yield Button("Step done ▸ (ctrl+s)", id=f"done-{self.step}", variant="success", compact=True)

    def body(self) -> ComposeResult:
        yield from ()

    def load(self) -> None:
        """Read this step's state from the store and draw it."""

    def store(self, action: Callable[[Session], Any]) -> bool:
        """Save through the core in one transaction. An error becomes a literal notification and
        nothing is written; on success the views of this engagement are told to reload."""
        try:
            with_store(action)
        except RedlineError as exc:
            report_error(self, exc)
            return False
        self.post_message(EngagementChanged(self.engagement_id, self.step))
        return True

    def set_status(self, text: Text | str) -> None:
        self.query_one(".step-status", Static).update(text if isinstance(text, Text) else Text(text, style="dim"))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == f"done-{self.step}":
            event.stop()
            self.wizard.action_step_done()

    def before_done(self) -> bool:
        """Save anything typed but not yet saved; False keeps the step open."""
        return True

    def selected_key(self, table: Any) -> int | None:
        """The integer row key of a DataTable's cursor row, or None."""
        if table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except Exception:  # no cursor yet
            return None
        return int(key.value) if key and key.value is not None else None
