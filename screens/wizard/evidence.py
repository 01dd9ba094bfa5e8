"""Wizard step 4: the evidence format agreed with the CPA firm.

"Some auditors accept red team reports directly; others need findings
formatted into their testing workpapers." The choice decides what the
evidence bundle leads with; the engagement file can be exported from here to
share the agreed plan.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Checkbox, Input, Label, Static

from screens.base import with_store
from screens.widgets.literal import literal
from screens.widgets.prompt import PromptScreen
from screens.widgets.toggles import Tick
from screens.wizard.common import WizardStep

FORMATS = (
    ("report", "Report: Markdown and HTML, read directly"),
    ("workpapers", "Workpapers: results-of-tests rows, CSV and XLSX"),
    ("oscal", "OSCAL: assessment plan, results, POA&M (JSON)"),
)


class EvidenceStep(WizardStep):
    step = "evidence"
    intro = "what the CPA firm needs"
    BINDINGS = [
        Binding("x", "export", "Export file", id="evidence.export",
                tooltip="Write the engagement file (YAML) to share or re-import"),
    ]

    def body(self) -> ComposeResult:
        for key, label in FORMATS:
            yield Tick(label, id=f"fmt-{key}", compact=True)
        with Horizontal(classes="field-row"):
            yield Label("CPA firm")
            yield Input(id="cpa-firm", placeholder="the service auditor's firm", compact=True)
        yield Static(Text("x exports the whole alignment as an engagement file (YAML) to share or re-import",
                          style="dim"), id="evidence-hint")

    def load(self) -> None:
        from app.alignment import get_engagement

        engagement = with_store(lambda db: get_engagement(db, self.engagement_id))
        for key, _label in FORMATS:
            checkbox = self.query_one(f"#fmt-{key}", Checkbox)
            with checkbox.prevent(Checkbox.Changed):
                checkbox.value = key in engagement.evidence_format
        self.query_one("#cpa-firm", Input).value = engagement.cpa_firm
        self._status(engagement.evidence_format)

    def chosen(self) -> list[str]:
        return [key for key, _label in FORMATS if self.query_one(f"#fmt-{key}", Checkbox).value]

    def _status(self, formats: list[str]) -> None:
        self.set_status(f"chosen: {', '.join(formats)}" if formats else "choose at least one format")

    def save(self) -> bool:
        from app.alignment import set_evidence

        formats, firm = self.chosen(), self.query_one("#cpa-firm", Input).value
        saved = self.store(lambda db: set_evidence(db, self.engagement_id, formats, firm))
        if saved:
            self._status(formats)
        return saved

    def before_done(self) -> bool:
        return self.save()

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        self.save()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.save():
            self.notify("evidence format saved", markup=False)

    def action_export(self) -> None:
        name = self.wizard.engagement_name or "engagement"
        self.app.push_screen(PromptScreen("Export engagement file", hint="Where to write the YAML file",
                                          value=f"{name}.yaml"), self._export)

    def _export(self, path: str | None) -> None:
        from app.alignment import write_engagement_file

        if not path:
            return
        written: list[Any] = []
        if self.store(lambda db: written.append(write_engagement_file(db, self.engagement_id, Path(path)))):
            self.query_one("#evidence-hint", Static).update(literal(f"wrote {written[0]}", style="green"))
            self.notify(f"engagement file written to {written[0]}", markup=False)
