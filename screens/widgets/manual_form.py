"""The dialog that records a manual step's outcome: pass or fail, a note, and an optional attachment reference.

The outcome goes through :func:`app.manual.record_manual_outcome`, the same
function ``redline manual`` calls, so the cockpit and the CLI record the same
human verdict and the same audit events.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Input, Select, Static

from app.text import one_line
from screens.wizard.forms import FormScreen, _field


class ManualForm(FormScreen):
    """Returns ``{"outcome", "note", "attachment"}``, or None when cancelled."""

    def __init__(self, item: Any) -> None:
        super().__init__()
        self.item = item
        self.form_title = f"Manual step {item.step + 1} of run {item.run_id}"

    def fields(self) -> ComposeResult:
        yield from _field("To do", Static(Text(one_line(self.item.instruction, 400))))  # scenario text: literal
        yield from _field("Outcome", Select([("pass: seen as expected", "pass"), ("fail: not as expected", "fail")],
                                            value="pass", allow_blank=False, id="manual-outcome", compact=True))
        yield from _field("Note", Input("", id="manual-note", compact=True,
                                        placeholder="what you did and what you saw (required)"))
        yield from _field("Attachment", Input("", id="manual-attachment", compact=True,
                                              placeholder="reference of an attached file (optional)"))

    def build(self) -> Any:
        from app.manual import ManualStepError

        note = self.value_of("manual-note")
        if not note:
            raise ManualStepError("a manual step's outcome needs a note saying what was done and observed")
        return {"outcome": str(self.query_one("#manual-outcome", Select).value), "note": note,
                "attachment": self.value_of("manual-attachment") or None}
