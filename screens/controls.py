"""Controls: per criterion, the client's controls, the scenarios testing them, and the result per window.

The screen only draws :func:`app.alignment.control_status`; the rules (latest
run per scenario, system and window; the worst result speaks) live there, so
the evidence bundle and this screen cannot disagree.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static

from screens.base import EngagementScreen, report_error, with_store
from screens.widgets.literal import cell, literal, result_cell
from screens.wizard.controls import crosswalk_text


class ControlsScreen(EngagementScreen):
    """Criterion by criterion: is the control working in each test window?"""

    SCREEN_NAME = "controls"

    HELP_TITLE = "controls"
    HELP = ("One row per criterion or AI control in the client's matrix. Each window column shows the "
            "latest result of its scenarios there: ✓ pass, ✗ fail, ? needs review, ! error, · not tested, "
            "with how many of its scenarios were tested.")
    BINDINGS = [
        Binding("w", "goto('wizard')", "Alignment", id="controls.alignment", tooltip="Open the alignment wizard"),
        Binding("r", "reload", "Reload", id="controls.reload"),
    ]

    def __init__(self, engagement_id: int) -> None:
        super().__init__(engagement_id)
        self.status: Any = None
        self.catalog: Any = None

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        yield DataTable(id="status-table", cursor_type="row", zebra_stripes=True)
        yield Static(Text("loading…", style="dim"), id="status-detail")
        yield Footer(show_command_palette=False, compact=True)

    def on_mount(self) -> None:
        from app.alignment import get_engagement

        self.engagement_name = with_store(lambda db: get_engagement(db, self.engagement_id)).name
        self.set_heading("controls")
        self.load_status()

    def on_screen_resume(self) -> None:
        self.load_status()

    def on_resize(self) -> None:
        if self.status is not None:
            self._draw()

    def action_reload(self) -> None:
        self.load_status()

    @work(thread=True, exclusive=True, group="controls-status", exit_on_error=False)
    def load_status(self) -> None:
        from app.alignment import control_status
        from app.catalog import load_catalog
        from app.errors import RedlineError

        try:
            catalog = load_catalog()
            status = with_store(lambda db: control_status(db, self.engagement_id, catalog=catalog))
        except RedlineError as exc:
            self.app.call_from_thread(report_error, self, exc)
            return
        self.app.call_from_thread(self._loaded, status, catalog)

    def _loaded(self, status: Any, catalog: Any) -> None:
        self.status, self.catalog = status, catalog
        self._draw()

    def _draw(self) -> None:
        table = self.query_one("#status-table", DataTable)
        keep = table.cursor_row
        wide = self.size.width >= 110
        table.clear(columns=True)
        columns = ["CRITERION"] + (["NAME"] if wide else []) + ["CLIENT CONTROL", "TESTS"]
        table.add_columns(*columns, *self.status.windows)
        for index, item in enumerate(self.status.criteria):
            refs = ", ".join(ref for ref, _activity in item.client_controls if ref) or "–"
            cells = [cell(item.criterion, 10, "bold")]
            if wide:
                cells.append(cell(item.name, 28))
            cells += [cell(refs, 30 if wide else 14), cell(len(item.scenarios), style="" if item.scenarios else "red")]
            cells += [result_cell(w.result, f"{w.tested}/{w.total}" if w.total else "") for w in item.windows]
            table.add_row(*cells, key=str(index))
        if self.status.criteria:
            table.move_cursor(row=min(max(keep, 0), len(self.status.criteria) - 1))
            table.focus()
        self._detail()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.status is not None:
            self._detail()

    def _selected(self) -> Any | None:
        table = self.query_one("#status-table", DataTable)
        if not self.status.criteria or not 0 <= table.cursor_row < len(self.status.criteria):
            return None
        return self.status.criteria[table.cursor_row]

    def _detail(self) -> None:
        detail = self.query_one("#status-detail", Static)
        item = self._selected()
        if item is None:
            detail.update(Text("The control matrix is empty: press w to map controls in the wizard.", style="dim"))
            return
        out = crosswalk_text(self.catalog, item.criterion)
        for ref, activity in item.client_controls[:2]:
            out += Text("\n") + literal(f"{ref or '(no ref)'}: {activity}", style="italic")
        if not item.scenarios:
            out += Text("\nNo scenario tests this criterion: a coverage gap.", style="bold red")
        if item.scenarios:
            out += Text("\n" + " ".join(w.window.ljust(2) for w in item.windows) + "  scenario", style="dim")
        for scenario in item.scenarios[:4]:
            marks = Text("\n")
            for window in item.windows:
                mark = result_cell(window.scenarios.get(scenario, "not tested"))
                marks += mark + Text(" " * (max(2, len(window.window)) - len(mark.plain) + 1))
            out += marks + Text(" ") + literal(scenario)
        if len(item.scenarios) > 4:
            out += Text(f"\n… {len(item.scenarios) - 4} more", style="dim")
        detail.update(out)
