"""Wizard step 3: timing agreed with the auditors.

Type I is one "as of" date with a tolerance. Type II is a period with test
windows spread through it ("schedule testing at intervals throughout the audit
period rather than all at once"): g fills in a window in the middle of each
quarter, which the tester can then edit. The calendar strip shows the spread.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Label, RadioButton, RadioSet

from app.errors import RedlineError
from screens.base import report_error, with_store
from screens.widgets.calendar import CalendarStrip
from screens.widgets.literal import cell
from screens.widgets.prompt import ConfirmScreen
from screens.wizard.common import WizardStep
from screens.wizard.forms import WindowForm, parse_day


class TimingStep(WizardStep):
    step = "timing"
    intro = "when testing happens"
    BINDINGS = [
        Binding("g", "suggest", "Suggest", id="timing.suggest",
                tooltip="A two-week window in the middle of each quarter"),
        Binding("a", "add", "Add", id="timing.add", tooltip="Add a test window"),
        Binding("e", "edit", "Edit", id="timing.edit"),
        Binding("x", "remove", "Remove", id="timing.remove"),
    ]

    def __init__(self, engagement_id: int) -> None:
        super().__init__(engagement_id)
        self.windows: list[Any] = []  # WindowPlan, in date order
        self.audit_type = "type2"

    def body(self) -> ComposeResult:
        with RadioSet(id="timing-type", compact=True):
            yield RadioButton("Type II: a period, tested in windows", id="type2", value=True, compact=True)
            yield RadioButton("Type I: as of one date", id="type1", compact=True)
        with Horizontal(id="type2-fields", classes="field-row"):
            yield Label("Period")
            yield Input(id="period-start", placeholder="YYYY-MM-DD", compact=True)
            yield Label("to")
            yield Input(id="period-end", placeholder="YYYY-MM-DD", compact=True)
        with Horizontal(id="type1-fields", classes="field-row"):
            yield Label("As of")
            yield Input(id="as-of", placeholder="YYYY-MM-DD", compact=True)
            yield Label("± days")
            yield Input("7", id="tolerance", compact=True, type="integer")
        with Vertical(id="type2-windows"):
            table: DataTable[Any] = DataTable(id="windows-table", cursor_type="row")
            table.add_columns("WINDOW", "START", "END", "DAYS")
            yield table
            yield CalendarStrip(id="calendar")

    def load(self) -> None:
        from app.alignment import WindowPlan, get_engagement, windows_of

        def read(db: Any) -> tuple[Any, list[Any]]:
            return get_engagement(db, self.engagement_id), windows_of(db, self.engagement_id)

        engagement, rows = with_store(read)
        self.audit_type = engagement.audit_type
        self.windows = [WindowPlan(w.name, w.start, w.end) for w in rows]
        self.query_one("#type1" if self.audit_type == "type1" else "#type2", RadioButton).value = True
        start = engagement.period_start or self._default_period()[0]
        end = engagement.period_end or self._default_period()[1]
        self.query_one("#period-start", Input).value = start.isoformat()
        self.query_one("#period-end", Input).value = end.isoformat()
        self.query_one("#as-of", Input).value = engagement.as_of.isoformat() if engagement.as_of else ""
        self.query_one("#tolerance", Input).value = str(engagement.type1_tolerance_days)
        self._draw()

    def _default_period(self) -> tuple[date, date]:
        from app.alignment import calendar_year

        return calendar_year(self.wizard.redline.today())

    def _draw(self) -> None:
        type2 = self.audit_type == "type2"
        self.query_one("#type2-fields").display = type2
        self.query_one("#type2-windows").display = type2
        self.query_one("#type1-fields").display = not type2
        table = self.query_one("#windows-table", DataTable)
        table.clear()
        for index, w in enumerate(self.windows):
            table.add_row(cell(w.name, 12, "bold"), cell(w.start.isoformat()), cell(w.end.isoformat()),
                          cell(w.days), key=str(index))
        period = self._period(quiet=True)
        self.query_one(CalendarStrip).show(period[0] if period else None, period[1] if period else None,
                                           self.windows, self.wizard.redline.today())
        if type2:
            self.set_status(f"{len(self.windows)} window(s)" if self.windows else "no windows: press g")
        else:
            self.set_status("tests must be dated within the tolerance of the as-of date")

    def _period(self, quiet: bool = False) -> tuple[date, date] | None:
        try:
            return (parse_day(self.query_one("#period-start", Input).value, "period start"),
                    parse_day(self.query_one("#period-end", Input).value, "period end"))
        except RedlineError as exc:
            if not quiet:
                report_error(self, exc)
            return None

    # --- saving --------------------------------------------------------------------------------
    def save(self) -> bool:
        """Store what the step shows now (the period and windows, or the as-of date)."""
        from app.alignment import set_type1, set_type2

        if self.audit_type == "type1":
            try:
                as_of = parse_day(self.query_one("#as-of", Input).value, "as of")
                tolerance = int(self.query_one("#tolerance", Input).value or "0")
            except (RedlineError, ValueError) as exc:
                report_error(self, exc)
                return False
            return self.store(lambda db: set_type1(db, self.engagement_id, as_of, tolerance))
        period = self._period()
        if period is None:
            return False
        windows = list(self.windows)
        return self.store(lambda db: set_type2(db, self.engagement_id, period[0], period[1], windows))

    def before_done(self) -> bool:
        return self.save()

    def _save_windows(self, windows: list[Any]) -> None:
        previous, self.windows = self.windows, sorted(windows, key=lambda w: (w.start, w.name))
        if not self.save():
            self.windows = previous
        self._draw()

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        event.stop()
        self.audit_type = event.pressed.id or "type2"
        self._draw()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.save():
            self.notify("timing saved", markup=False)
        self._draw()

    # --- windows -------------------------------------------------------------------------------
    def action_suggest(self) -> None:
        from app.alignment import suggest_windows

        period = self._period()
        if period is None:
            return
        try:
            plans = suggest_windows(period[0], period[1], "quarter", today=self.app.today())  # type: ignore[attr-defined]
        except ValueError as exc:
            report_error(self, RedlineError(str(exc)))
            return
        self._save_windows(plans)
        self.notify(f"suggested {len(plans)} window(s), one per quarter still ahead, none before today; "
                    "edit any with e", markup=False)

    def _selected_index(self) -> int | None:
        index = self.selected_key(self.query_one("#windows-table", DataTable))
        if index is None:
            self.notify("no window selected", markup=False)
        return index

    def action_add(self) -> None:
        self.app.push_screen(WindowForm(suggested_name=f"W{len(self.windows) + 1}"),
                             lambda plan: self._save_windows([*self.windows, plan]) if plan else None)

    def action_edit(self) -> None:
        index = self._selected_index()
        if index is None:
            return
        old = self.windows[index]
        self.app.push_screen(WindowForm(old), lambda plan: self._save_windows(
            [plan if w is old else w for w in self.windows]) if plan else None)

    def action_remove(self) -> None:
        index = self._selected_index()
        if index is None:
            return
        old = self.windows[index]
        self.app.push_screen(ConfirmScreen(f"Remove window {old.name}?"), lambda yes: self._save_windows(
            [w for w in self.windows if w is not old]) if yes else None)

