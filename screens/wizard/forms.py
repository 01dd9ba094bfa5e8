"""The wizard's edit dialogs: an AI system, a control matrix row, a test window.

Each dialog validates with the core (the same rules as the engagement file)
before it closes, and shows the problem inside the dialog, literally, so the
tester can fix the field without losing what they typed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, SelectionList, Static
from textual.widgets.selection_list import Selection

from app.errors import RedlineError
from app.text import for_terminal, one_line
from screens.widgets.toggles import Tick, TickList

KEY_SOURCES = (("no key", "none"), ("env var", "env"), ("keyring", "keyring"))


class FormScreen(ModalScreen[Any]):
    """A dialog with a grid of labelled fields, an error line, and save / cancel."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="form.save", priority=True),
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
    ]
    form_title = ""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog form"):
            yield Static(Text(self.form_title, style="bold"), classes="dialog-title")
            with Grid(classes="form-grid"):
                yield from self.fields()
            yield from self.extra()
            yield Static("", classes="form-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save (ctrl+s)", id="save", variant="primary", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def fields(self) -> ComposeResult:
        yield from ()

    def extra(self) -> ComposeResult:
        yield from ()

    def value_of(self, field_id: str) -> str:
        return self.query_one(f"#{field_id}", Input).value.strip()

    def show_error(self, message: str) -> None:
        self.query_one(".form-error", Static).update(Text(for_terminal(message), style="bold red"))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_save(self) -> None:
        try:
            result = self.build()
        except (RedlineError, ValueError) as exc:
            self.show_error(str(exc))
            return
        self.dismiss(result)

    def build(self) -> Any:
        raise NotImplementedError


def _field(label: str, widget: Any) -> ComposeResult:
    yield Label(label)
    yield widget


class SystemForm(FormScreen):
    """Add or edit an AI system; returns a validated ``SystemSpec``."""

    def __init__(self, kinds: Sequence[str], system: Any = None) -> None:
        super().__init__()
        self.kinds, self.system = tuple(kinds), system
        self.form_title = f"Edit system {one_line(system.name, 40)}" if system else "Add an AI system"

    def fields(self) -> ComposeResult:
        s = self.system
        target: dict[str, Any] = dict(s.target) if s else {}
        key = target.get("api_key") or {}
        source = "env" if "env" in key else "keyring" if "keyring" in key else "none"
        yield from _field("Name", Input(s.name if s else "", id="sys-name", compact=True, placeholder="support-bot"))
        yield from _field("Kind", Select([(k, k) for k in self.kinds], value=target.get("kind", self.kinds[0]),
                                         allow_blank=False, id="sys-kind", compact=True))
        yield from _field("Base URL", Input(target.get("base_url", ""), id="sys-url", compact=True,
                                            placeholder="https://api.example.com/v1"))
        yield from _field("Model", Input(target.get("model", ""), id="sys-model", compact=True))
        yield from _field("API key in", Select(KEY_SOURCES, value=source, allow_blank=False, id="sys-keysrc",
                                               compact=True))
        yield from _field("Key name", Input(key.get("env") or key.get("keyring") or "", id="sys-keyname",
                                            compact=True, placeholder="ACME_KEY (the variable, not the key)"))
        revoked = target.get("revoked_key") or {}
        revoked_source = "env" if "env" in revoked else "keyring" if "keyring" in revoked else "none"
        yield from _field("Revoked key", Select(KEY_SOURCES, value=revoked_source, allow_blank=False,
                                                id="sys-revokedsrc", compact=True))
        yield from _field("Revoked name", Input(revoked.get("env") or revoked.get("keyring") or "",
                                                id="sys-revokedname", compact=True,
                                                placeholder="ACME_REVOKED_KEY: a key the client revoked (CC6.3)"))
        yield from _field("Documented", Input(", ".join(s.models) if s else "", id="sys-models", compact=True,
                                              placeholder="model ids in the inventory, comma separated"))
        yield from _field("Canaries", Input(", ".join(target.get("canaries", [])), id="sys-canaries",
                                            compact=True, placeholder="tokens planted in its prompt, comma separated"))
        from app.alignment.systems import operations_text

        yield from _field("Operations", Input(operations_text(target.get("operations") or {}), id="sys-operations",
                                              compact=True, placeholder="security_alerts=GET https://siem.example"
                                              "/alerts?user={identity} env:SIEM_KEY; outage=POST /admin/outage"))
        yield from _field("Owner", Input(s.owner if s else "", id="sys-owner", compact=True))
        yield from _field("In scope", Tick("inside the SOC 2 boundary", s.in_scope if s else True,
                                               id="sys-scope", compact=True))

    def build(self) -> Any:
        from app.alignment import key_reference, system_spec
        from app.alignment.systems import parse_operations

        target = dict(self.system.target) if self.system else {}
        target.pop("canaries", None)
        operations = parse_operations(self.value_of("sys-operations"), target.pop("operations", None))
        canaries = [c.strip() for c in self.value_of("sys-canaries").split(",") if c.strip()]
        key = key_reference(str(self.query_one("#sys-keysrc", Select).value), self.value_of("sys-keyname"))
        # The revoked key is a reference too, checked by the same rule: never the key itself.
        revoked = key_reference(str(self.query_one("#sys-revokedsrc", Select).value),
                                self.value_of("sys-revokedname"))
        kind = str(self.query_one("#sys-kind", Select).value)
        if target.get("kind") != kind:
            target = {}  # kind-specific settings of another kind do not carry over
        target.pop("revoked_key", None)
        if revoked:
            target["revoked_key"] = revoked
        return system_spec(name=self.value_of("sys-name"), kind=kind, base_url=self.value_of("sys-url"),
                           model=self.value_of("sys-model"), key=key,
                           in_scope=self.query_one("#sys-scope", Checkbox).value, owner=self.value_of("sys-owner"),
                           description=self.system.description if self.system else "",
                           models=self.value_of("sys-models").split(","), canaries=canaries, extra_target=target,
                           operations=operations)


class RowForm(FormScreen):
    """Add or edit a control matrix row; returns ``dict(criterion, client_ref, activity, scenarios)``."""

    def __init__(self, catalog: Any, library: Any, row: Any = None) -> None:
        super().__init__()
        self.catalog, self.library, self.row = catalog, library, row
        self.form_title = "Edit control matrix row" if row else "Add a control matrix row"

    def fields(self) -> ComposeResult:
        row = self.row
        options = [(Text(f"{c.id}  {one_line(getattr(c, 'name', '') or c.objective, 40)}"), c.id)
                   for c in (*self.catalog.criteria, *self.catalog.controls)]
        yield from _field("Criterion", Select(options, value=row.criterion if row else Select.NULL,
                                              id="row-criterion", compact=True, prompt="criterion or AI control"))
        yield from _field("Client ref", Input(row.client_ref if row else "", id="row-ref", compact=True,
                                              placeholder="the client's control id, e.g. SEC-12"))
        yield from _field("Activity", Input(row.activity if row else "", id="row-activity", compact=True,
                                            placeholder="the control activity, in the client's words"))

    def extra(self) -> ComposeResult:
        chosen = set(self.row.scenarios) if self.row else set()
        yield Label("Scenarios that test it (space toggles):", classes="form-label")
        yield TickList(*self._selections(chosen), id="row-scenarios")

    def _selections(self, chosen: set[str], criterion: str = "") -> list[Selection[str]]:
        if not criterion and self.row:
            criterion = self.row.criterion
        declared = {s.spec.id for s in self.library.for_controls([criterion])} if criterion else set()
        ordered = sorted(self.library.all(), key=lambda s: (s.spec.id not in chosen, s.spec.id not in declared))
        return [Selection(Text(f"{s.spec.id}" + (" ★" if s.spec.id in declared else "")
                               + f"  {one_line(s.spec.title, 40)}"), s.spec.id, s.spec.id in chosen)
                for s in ordered]

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id != "row-criterion" or event.value is Select.NULL:
            return
        listing = self.query_one("#row-scenarios", SelectionList)
        chosen = set(listing.selected)
        listing.clear_options()
        listing.add_options(self._selections(chosen, str(event.value)))

    def build(self) -> dict[str, Any]:
        criterion = self.query_one("#row-criterion", Select).value
        if criterion is Select.NULL:
            raise RedlineError("choose the criterion or AI control this row maps to")
        return {"criterion": str(criterion), "client_ref": self.value_of("row-ref"),
                "activity": self.value_of("row-activity"),
                "scenarios": list(self.query_one("#row-scenarios", SelectionList).selected)}


def parse_day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise RedlineError(f"{what}: expected a date like 2026-04-15, got {text.strip()!r}") from None


class WindowForm(FormScreen):
    """Add or edit a test window; returns a ``WindowPlan``."""

    def __init__(self, window: Any | None = None, suggested_name: str = "") -> None:
        super().__init__()
        self.window, self.suggested_name = window, suggested_name
        self.form_title = "Edit test window" if window else "Add a test window"

    def fields(self) -> ComposeResult:
        w = self.window
        yield from _field("Name", Input(w.name if w else self.suggested_name, id="win-name", compact=True))
        yield from _field("Start", Input(w.start.isoformat() if w else "", id="win-start", compact=True,
                                         placeholder="YYYY-MM-DD"))
        yield from _field("End", Input(w.end.isoformat() if w else "", id="win-end", compact=True,
                                       placeholder="YYYY-MM-DD"))

    def build(self) -> Any:
        from app.alignment import WindowPlan

        name = self.value_of("win-name")
        if not name:
            raise RedlineError("a window needs a name")
        plan = WindowPlan(name, parse_day(self.value_of("win-start"), "start"),
                          parse_day(self.value_of("win-end"), "end"))
        if plan.end < plan.start:
            raise RedlineError("the window ends before it starts")
        return plan
