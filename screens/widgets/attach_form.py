"""The small dialog that attaches a file as evidence: a path, then a note, keyboard first.

enter in the path moves to the note; enter in the note attaches; escape
cancels. The dialog only collects the two values: the copy, the limits and the
audit event are :func:`app.attachments.attach`'s, called by the screen.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from app.text import for_terminal, one_line
from screens.base import EngagementScreen, try_store


class AttachScreen(ModalScreen[tuple[str, str] | None]):
    """Ask for a file and a note; dismissed with ``(path, note)``, or None on escape."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="attach.cancel")]

    def __init__(self, title: str, *, limit_bytes: int) -> None:
        super().__init__()
        self.attach_title = title
        self.limit_bytes = limit_bytes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(for_terminal(self.attach_title), style="bold"), classes="dialog-title")
            yield Static(Text(f"The file is copied into the store (at most {self.limit_bytes:,} bytes); its SHA-256 "
                              "enters the audit trail. It is never opened or rendered."), classes="dialog-hint")
            yield Input(placeholder="path of the file (~ allowed)", id="attach-path")
            yield Input(placeholder="what it shows, e.g. CHG-4711: the fix deployed on 2 March", id="attach-note")
            yield Static(Text("enter: next / attach · escape to cancel", style="dim"), classes="dialog-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        path = self.query_one("#attach-path", Input)
        note = self.query_one("#attach-note", Input)
        if not path.value.strip():
            path.focus()
            return
        if event.input is path:
            note.focus()
            return
        if not note.value.strip():
            self.notify("Say what the file shows: the note goes into the audit trail.", markup=False,
                        severity="warning")
            return
        self.dismiss((path.value.strip(), note.value.strip()))

    def action_cancel(self) -> None:
        self.dismiss(None)


def ask_to_attach(screen: EngagementScreen, where: str, after: Callable[[], None] | None = None, *,
                  finding_id: int | None = None, run_id: int | None = None) -> None:
    """Ask for a file and a note, attach it to the finding or run, and say what was kept.

    The one flow the findings and run screens share: :func:`app.attachments.attach` copies, limits and audits.
    """
    from app.attachments import attach, max_bytes

    def done(got: tuple[str, str] | None) -> None:
        if not got:
            return
        path, note = got
        row = try_store(screen, lambda db: attach(db, screen.engagement_id, path, note=note, finding_id=finding_id,
                                                  run_id=run_id))
        if row is not None:
            screen.notify(f"attachment {row.id}: {one_line(row.filename, 40)} ({row.media_type}, {row.size:,} "
                          f"bytes) on {where}", markup=False)
            if after is not None:
                after()

    screen.app.push_screen(AttachScreen(f"Attach a file to {where}", limit_bytes=max_bytes()), done)
