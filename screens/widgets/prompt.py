"""Small modal dialogs: ask for one line of text, or confirm an action.

Their titles and questions often quote names from engagement files (systems,
client control refs), so the dialogs make every line terminal-safe themselves
rather than trusting each caller to.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from app.text import for_terminal


class PromptScreen(ModalScreen[str | None]):
    """Ask for one value: enter returns it (stripped), escape returns None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]

    def __init__(self, title: str, *, hint: str = "", value: str = "", placeholder: str = "",
                 password: bool = False) -> None:
        super().__init__()
        self.prompt_title, self.hint, self.value, self.placeholder = title, hint, value, placeholder
        self.password = password  # a secret is typed blind and never drawn

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(for_terminal(self.prompt_title), style="bold"), classes="dialog-title")
            if self.hint:
                yield Static(Text(for_terminal(self.hint)), classes="dialog-hint")
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input", password=self.password)
            yield Static(Text("enter to confirm · escape to cancel", style="dim"), classes="dialog-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """Yes or no: y/enter confirms, n/escape declines."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(for_terminal(self.question)), classes="dialog-title")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Yes (y)", id="yes", variant="error", compact=True)
                yield Button("No (n)", id="no", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
