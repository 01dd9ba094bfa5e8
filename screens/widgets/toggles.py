"""Check boxes whose state shows in their shape, not only in their colour.

Textual draws a box as ``▐X▌`` whether it is ticked or not and tells them apart
by colour alone, which fails on a monochrome terminal, for colour-blind
testers, and in a screenshot pasted into a ticket. Here a ticked box reads
``▐✓▌`` and an empty one ``▐ ▌``. The cockpit uses these two widgets wherever
it offers a choice to tick.
"""

from __future__ import annotations

from typing import Any

from rich.segment import Segment
from textual.content import Content
from textual.strip import Strip
from textual.widgets import Checkbox, SelectionList
from textual.widgets._toggle_button import ToggleButton

TICKED, EMPTY = "✓", " "


class Tick(Checkbox):
    """A Checkbox drawn ``▐✓▌`` when ticked and ``▐ ▌`` when not."""

    @property
    def _button(self) -> Content:
        self.BUTTON_INNER = TICKED if self.value else EMPTY
        return super()._button


class TickList(SelectionList[Any]):
    """A SelectionList whose boxes show ``✓`` for a picked option and a blank for the others."""

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        segments = list(strip)
        for index, segment in enumerate(segments[:3]):
            meta = segment.style.meta if segment.style is not None else {}
            if segment.text == ToggleButton.BUTTON_INNER and "option" in meta:
                option = self.get_option_at_index(meta["option"])
                inner = TICKED if option.value in self.selected else EMPTY
                segments[index] = Segment(inner, segment.style, segment.control)
                return Strip(segments, strip.cell_length)
        return strip
