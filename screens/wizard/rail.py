"""The step rail on the wizard's left: Systems · Controls · Timing · Evidence, with a tick when done."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from app.alignment.steps import STEP_TITLES, STEPS


def rail_label(index: int, step: str, done: bool, current: bool = False) -> Text:
    mark = Text("✓ ", style="green") if done else Text("○ ", style="dim")
    title = Text(f"{index} {STEP_TITLES[step]}", style="bold" if current else "")
    return mark + title + (Text(" ◂", style="bold") if current else Text(""))


class StepRail(OptionList):
    """One option per step; choosing one shows that step (the wizard listens for the highlight)."""

    DEFAULT_CSS = """
    StepRail { width: 16; height: 1fr; }
    """

    def __init__(self, done: Iterable[str] = (), *, id: str | None = None) -> None:
        super().__init__(*[Option(rail_label(i, step, step in set(done)), id=step)
                           for i, step in enumerate(STEPS, start=1)], id=id)
        self.done: set[str] = set(done)
        self.current = STEPS[0]

    def _redraw(self) -> None:
        for i, step in enumerate(STEPS, start=1):
            self.replace_option_prompt(step, rail_label(i, step, step in self.done, step == self.current))

    def mark(self, done: Iterable[str]) -> None:
        """Redraw the ticks."""
        self.done = set(done)
        self._redraw()

    def show_step(self, step: str) -> None:
        """Mark ``step`` as the one shown (the highlight follows, without moving focus)."""
        self.current = step
        self._redraw()
        if self.highlighted != STEPS.index(step):
            self.highlighted = STEPS.index(step)
