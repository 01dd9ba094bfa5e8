"""The finding form: a new finding from a quoted span, or the span added to an existing finding.

It opens pre-filled (:func:`app.triage.draft_finding`): title, severity on the
seed's scale and the SOC 2 impact for the controls, the controls themselves
with their ISO 42001 / NIST AI RMF / EU AI Act crosswalk beside them (redrawn
as the tester edits the list), the steps to reproduce, the quote and notes.
The form only collects; the screen saves through :mod:`app.triage`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Select, Static, TextArea
from textual.widgets.option_list import Option

from app.errors import RedlineError
from app.findings import SEVERITIES
from app.resources import assets_dir
from app.text import for_terminal, one_line
from screens.widgets.literal import literal
from screens.wizard.controls import crosswalk_text

NEW = 0  # the "add to" choice meaning a new finding
QUOTE_LINES = 6


@dataclass(frozen=True)
class FindingChoice:
    """What the tester asked for: ``extend`` is the finding to add the span to, or None for a new one."""

    extend: int | None
    title: str
    severity: str
    impact: str
    controls: list[str]
    steps_to_reproduce: str
    notes: str


def split_controls(value: str) -> list[str]:
    return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]


def quote_preview(quote: str, lines: int = QUOTE_LINES, chars: int = 600) -> Text:
    """The quoted evidence as the terminal may show it, cut to a few lines (and characters)."""
    shown = for_terminal(quote[:chars]).split("\n")
    text = "\n".join(shown[:lines])
    if len(shown) > lines or len(quote) > chars:
        text += f" … ({len(quote):,} characters quoted)"
    return Text(f"“{text}”", style="italic")


class FindingForm(ModalScreen[FindingChoice | None]):
    """Fill in a finding; ctrl+s saves, escape cancels."""

    CSS_PATH = assets_dir() / "tcss" / "finding_form.tcss"
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="finding_form.save"),
        Binding("escape", "cancel", "Cancel", id="finding_form.cancel"),
    ]

    def __init__(self, draft: Any, findings: Sequence[Any], catalog: Any, *, where: str = "") -> None:
        super().__init__()
        self.draft = draft
        self.findings = list(findings)
        self.catalog = catalog
        self.where = where

    def compose(self) -> ComposeResult:
        d = self.draft
        with Vertical(classes="dialog", id="finding-dialog"):
            yield Static(Text("Finding from the selection", style="bold") + Text(f"  {self.where}", style="dim"),
                         classes="dialog-title")
            with VerticalScroll(id="finding-fields"):
                yield Label("Add to", classes="form-label")
                # The run's own finding (the draft the runner filed, or the finding this run is another
                # occurrence of) comes first, so extending it rather than filing a duplicate is one keystroke away.
                mine = list(d.run_findings)
                ours = sorted((f for f in self.findings if f.id in mine or f.run_id == d.run_id),
                              key=lambda f: mine.index(f.id) if f.id in mine else len(mine))
                options = [(Text("a new finding"), NEW)] + [
                    (Text(one_line(f"#{f.id} ({f.status}, this run) {f.title}", 60)), f.id or 0) for f in ours
                ] + [(Text(one_line(f"#{f.id} {f.title} ({f.status})", 60)), f.id or 0)
                     for f in self.findings if f not in ours]
                yield Select(options, value=NEW, allow_blank=False, id="finding-target", compact=True)
                yield Label("Title", classes="form-label")
                yield Input(value=for_terminal(d.title), id="finding-title", compact=True)
                yield Label("Severity (the auditor's scale)", classes="form-label")
                yield Select([(Text(s), s) for s in SEVERITIES], value=d.severity, allow_blank=False,
                             id="finding-severity", compact=True)
                yield Label("SOC 2 impact", classes="form-label")
                yield Input(value=for_terminal(d.impact), placeholder="e.g. CC6.6 control failure",
                            id="finding-impact", compact=True)
                yield Label("Controls (comma separated)", classes="form-label")
                yield Input(value=", ".join(d.controls), id="finding-controls", compact=True)
                yield Static(self._crosswalk(d.controls), id="finding-crosswalk")
                yield Label("Evidence (quoted from the response)", classes="form-label")
                yield Static(quote_preview(d.evidence.get("quote", "")), id="finding-quote")
                yield Label("Steps to reproduce", classes="form-label")
                yield TextArea(for_terminal(d.steps_to_reproduce), id="finding-steps", soft_wrap=True)
                yield Label("Notes (or, when adding to a finding, why)", classes="form-label")
                yield TextArea("", id="finding-notes", soft_wrap=True)
                yield Static("", id="finding-error", classes="form-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save (ctrl+s)", id="finding-save", variant="success", compact=True)
                yield Button("Cancel (esc)", id="finding-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#finding-title", Input).focus()

    def _crosswalk(self, controls: Sequence[str]) -> Text:
        if not controls:
            return Text("no controls: a finding needs at least one", style="red")
        lines = []
        for ident in controls:
            if self.catalog is not None and self.catalog.get(ident) is None:
                lines.append(literal(ident, style="bold red") + Text(" is not in the catalog", style="red"))
            else:
                lines.append(crosswalk_text(self.catalog, ident.strip().upper()))
        return Text("\n").join(lines)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "finding-controls":
            self.query_one("#finding-crosswalk", Static).update(self._crosswalk(split_controls(event.value)))

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id != "finding-target":
            return
        new = event.value == NEW
        for selector in ("#finding-title", "#finding-severity", "#finding-impact", "#finding-controls",
                         "#finding-steps"):
            self.query_one(selector).disabled = not new

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "finding-save":
            self.action_save()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_save(self) -> None:
        from app.triage import check_controls

        target = self.query_one("#finding-target", Select).value
        extend = None if target == NEW else int(target)  # type: ignore[arg-type]
        title = self.query_one("#finding-title", Input).value.strip()
        controls = split_controls(self.query_one("#finding-controls", Input).value)
        error = self.query_one("#finding-error", Static)
        if extend is None:
            if not title:
                error.update(Text("a finding needs a title", style="red"))
                return
            try:
                controls = check_controls(controls, self.catalog)
            except RedlineError as exc:
                error.update(literal(str(exc), style="red"))
                return
        self.dismiss(FindingChoice(
            extend=extend, title=title, severity=str(self.query_one("#finding-severity", Select).value),
            impact=self.query_one("#finding-impact", Input).value.strip(), controls=controls,
            steps_to_reproduce=self.query_one("#finding-steps", TextArea).text,
            notes=self.query_one("#finding-notes", TextArea).text.strip()))


class ChoiceScreen(ModalScreen[str | None]):
    """Pick one of a few values (e.g. the next status of a finding); escape returns None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="choice.cancel")]

    def __init__(self, title: str, choices: Sequence[tuple[str, ...]], hint: str = "") -> None:
        """``choices`` are ``(value, label)`` or ``(value, label, meaning)``; a meaning shows dim below its label."""
        super().__init__()
        self.choice_title, self.choices, self.hint = title, list(choices), hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.choice_title, style="bold"), classes="dialog-title")
            if self.hint:
                yield Static(Text(self.hint), classes="dialog-hint")
            yield OptionList(*[Option(self._prompt(*choice[1:]), id=choice[0]) for choice in self.choices],
                             id="choice-list")
            yield Static(Text("enter to choose · escape to cancel", style="dim"), classes="dialog-hint")

    @staticmethod
    def _prompt(label: str, meaning: str = "") -> Text:
        text = Text(label)
        if meaning:
            text.append("\n  " + meaning, style="dim")
        return text

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
