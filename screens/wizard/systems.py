"""Wizard step 1: the AI systems in (and explicitly out of) the SOC 2 scope boundary.

"Only AI systems within the service organization's trust boundary require
testing": each system records whether it is in scope, who owns it, how to
reach it (a key *reference*, never a key), and the documented model
inventory that "test connection" checks the endpoint's listing against.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from app.errors import RedlineError
from app.text import one_line
from screens.base import report_error, with_store
from screens.widgets.columns import fit_columns, set_columns
from screens.widgets.literal import cell, literal
from screens.widgets.prompt import ConfirmScreen, PromptScreen
from screens.wizard.common import WizardStep
from screens.wizard.forms import SystemForm


def key_label(target: dict[str, Any]) -> str:
    key = target.get("api_key") or {}
    if "env" in key:
        return f"env {key['env']}"
    if "keyring" in key:
        return f"keyring {key['keyring']}"
    return "built-in" if target.get("kind") == "demo" else "none"


class SystemsStep(WizardStep):
    step = "systems"
    intro = "which AI systems are inside the audit boundary"
    BINDINGS = [
        Binding("a", "add", "Add", id="systems.add", tooltip="Add an AI system"),
        Binding("e", "edit", "Edit", id="systems.edit"),
        Binding("x", "remove", "Remove", id="systems.remove"),
        Binding("t", "test", "Test", id="systems.test",
                tooltip="Test connection: model listing, TTFT, inventory check"),
    ]

    def __init__(self, engagement_id: int) -> None:
        super().__init__(engagement_id)
        self.systems: dict[int, Any] = {}

    def body(self) -> ComposeResult:
        yield DataTable(id="systems-table", cursor_type="row")
        yield Static(Text("a add · e edit · x remove · t test connection (models, TTFT, inventory check)",
                          style="dim"), id="systems-result")

    def load(self) -> None:
        from app.alignment import systems_of

        rows = with_store(lambda db: systems_of(db, self.engagement_id))
        self.systems = {s.id: s for s in rows if s.id is not None}
        table = self.query_one("#systems-table", DataTable)
        current = self.selected_key(table)
        wide = self.size.width >= 90
        labels = ["NAME", "SCOPE", "KIND", "MODEL", "KEY", "INVENTORY"] if wide else \
            ["NAME", "TARGET", "INVENTORY"]
        wanted = [18, 5, 9, 18, 18, 40] if wide else [14, 20, 30]
        widths = fit_columns(self.size.width, wanted, flex=len(wanted) - 1)
        set_columns(table, labels, widths)
        for s in rows:
            kind = s.target.get("kind", "")
            if wide:
                cells = [cell(s.name, widths[0], "bold"),
                         cell("in", style="green") if s.in_scope else cell("out", style="dim"),
                         cell(kind, widths[2]), cell(s.target.get("model", "") or "–", widths[3]),
                         cell(key_label(s.target), widths[4])]
            else:  # out-of-scope systems are dimmed and marked, to keep room for the inventory
                name = s.name if s.in_scope else f"{s.name} (out)"
                cells = [cell(name, widths[0], "bold" if s.in_scope else "dim"),
                         cell(f"{kind} {key_label(s.target)}", widths[1])]
            cells.append(cell(", ".join(s.models) or "– none documented", widths[-1]))
            table.add_row(*cells, key=str(s.id))
        if current in self.systems:
            table.move_cursor(row=list(self.systems).index(current))
        in_scope = sum(1 for s in rows if s.in_scope)
        self.set_status(f"{in_scope} in scope, {len(rows) - in_scope} out" if rows else "no systems yet: press a")

    def on_resize(self) -> None:
        self.load()  # column widths follow the terminal

    def _selected(self) -> Any | None:
        key = self.selected_key(self.query_one("#systems-table", DataTable))
        if key is None:
            self.notify("no system selected; press a to add one", markup=False)
            return None
        return self.systems.get(key)

    def action_add(self) -> None:
        from app.formats.engagement import TARGET_KINDS

        self.app.push_screen(SystemForm(TARGET_KINDS), self._save)

    def action_edit(self) -> None:
        from app.formats.engagement import TARGET_KINDS

        system = self._selected()
        if system is not None:
            self.app.push_screen(SystemForm(TARGET_KINDS, system), lambda spec: self._save(spec, system.id))

    def _save(self, spec: Any, system_id: int | None = None) -> None:
        from app.alignment import save_system

        if spec is not None and self.store(lambda db: save_system(db, self.engagement_id, spec, system_id)):
            self.load()

    def action_remove(self) -> None:
        system = self._selected()
        if system is None:
            return
        question = (f"Remove system '{system.name}'? A system that has runs is kept and taken out of scope, "
                    "so its evidence stays.")
        self.app.push_screen(ConfirmScreen(question), lambda yes: self._remove(system.id) if yes else None)

    def _remove(self, system_id: int) -> None:
        from app.alignment import remove_system

        if self.store(lambda db: remove_system(db, self.engagement_id, system_id)):
            self.load()

    def action_test(self) -> None:
        system = self._selected()
        if system is not None:
            self.query_one("#systems-result", Static).update(
                Text(f"testing {one_line(system.name, 40)}: listing models, then one short chat…", style="yellow"))
            self.test_connection(system)

    @work(exclusive=True, group="systems-test", exit_on_error=False)
    async def test_connection(self, system: Any) -> None:
        """Network I/O in an async worker: the screen stays live while the endpoint answers."""
        from app.alignment import check_connection, record_connection_check, target_spec_of
        from app.secrets import SecretUnavailable

        result = self.query_one("#systems-result", Static)
        try:
            report = await check_connection(target_spec_of(system), system.models,
                                            stored_target=dict(system.target or {}))
        except SecretUnavailable as exc:
            result.update(literal(f"{system.name}: cannot test: {exc}", style="red"))
            self.ask_for_key(system)
            return
        except (RedlineError, ValueError, OSError) as exc:
            result.update(literal(f"{system.name}: cannot test: {exc}", style="red"))
            return
        self.store(lambda db: record_connection_check(db, self.engagement_id, system.id, report))
        result.update(connection_text(system.name, report))


    def ask_for_key(self, system: Any) -> None:
        """Offer to supply a missing key now (keyring, or this session), then test again: no restart."""
        from app.alignment import target_spec_of
        from app.secrets import how_to_keep, missing_refs, supply_key

        spec = target_spec_of(system)
        missing = missing_refs([spec.api_key, getattr(spec, "revoked_key", None)])
        if not missing:
            return
        ref = missing[0]
        where = f"{{env: {ref.env}}}" if ref.env else f"{{keyring: {ref.keyring}}}"
        hint = (f"Paste the key for {system.name} ({where}). "
                + ("It is stored in the keyring. " if ref.keyring else
                   "It is set for this session only and never written anywhere. ")
                + f"To keep it for later sessions, run: {how_to_keep(ref)}")

        def supplied(value: str | None) -> None:
            if not value:
                return
            try:
                done = supply_key(ref, value)
            except RedlineError as exc:
                report_error(self, exc)
                return
            self.notify(f"key {done}; testing {system.name} again", markup=False)
            self.test_connection(system)

        self.app.push_screen(PromptScreen(f"API key missing: {ref.env or ref.keyring}", hint=hint,
                                          password=True), supplied)


def connection_text(name: str, report: Any) -> Text:
    """The connection check, in words: listing, inventory gaps (AI-GOV-01), TTFT and the reply."""
    out = literal(f"{name}: ", style="bold")
    if report.list_error:
        out += literal(f"model listing failed ({report.list_error}). ", style="yellow")
    else:
        out += literal(f"lists {len(report.models)} model(s): {', '.join(report.models) or 'none'}. ")
    if report.undocumented:
        out += literal(f"Undocumented (AI-GOV-01): {', '.join(report.undocumented)}. ", style="bold red")
    if report.chat_error:
        out += literal(f"Chat failed: {report.chat_error}", style="red")
    else:
        ttft = f"{report.ttft_ms:.0f} ms" if report.ttft_ms is not None else "no text"
        out += literal(f"TTFT {ttft}; reply: {report.reply.strip()[:60]!r}", style="green")
    for name, found in report.operations:  # GET operations tried; the others only listed
        style = "yellow" if found.startswith("not tried") else "green" if found.startswith("HTTP 2") else "red"
        out += literal(f" · {name}: {found}", style=style)
    return out
