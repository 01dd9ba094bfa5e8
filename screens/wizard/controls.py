"""Wizard step 2: the client's control matrix, mapped to criteria and to scenarios, with the gaps.

"Each control should have at least one corresponding test." Rows can come
from the client's own CSV/XLSX matrix or be added by hand; the coverage line
names what is still untested, and the highlighted row shows its criterion's
ISO 42001 / NIST AI RMF / EU AI Act counterparts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from screens.base import report_error, with_store
from screens.widgets.columns import fit_columns, set_columns
from screens.widgets.literal import cell, literal
from screens.widgets.prompt import ConfirmScreen, PromptScreen
from screens.wizard.common import WizardStep
from screens.wizard.forms import RowForm

CROSSWALK_NAMES = (("iso42001", "ISO 42001"), ("nist_ai_rmf", "NIST AI RMF"), ("eu_ai_act", "EU AI Act"))


def crosswalk_text(catalog: Any, criterion: str) -> Text:
    """``CC6.6 Boundary protection · ISO 42001 A.6.2.5 · NIST AI RMF MS-2.3 · EU AI Act Art. 15``."""
    item = catalog.get(criterion) if catalog else None
    title = getattr(item, "name", "") or getattr(item, "objective", "") if item else "not in the catalog"
    out = Text(criterion, style="bold") + literal(f" {title}")
    ids = [criterion, *getattr(item, "criteria", ())] if item is not None else [criterion]
    for ident in ids:
        mapping = catalog.crosswalk_for(ident) if catalog else None
        if mapping:
            via = "" if ident == criterion else f" (via {ident})"
            parts = [f"{label} {mapping[key]}" for key, label in CROSSWALK_NAMES if mapping.get(key)]
            return out + literal(f"{via} · " + " · ".join(parts), style="cyan")
    return out + Text(" · no ISO 42001 / NIST AI RMF / EU AI Act crosswalk in the catalog", style="dim")


class ControlsStep(WizardStep):
    step = "controls"
    intro = "map the client's controls to tests"
    BINDINGS = [
        Binding("a", "add", "Add", id="controls.add", tooltip="Add a matrix row by hand"),
        Binding("e", "edit", "Edit", id="controls.edit"),
        Binding("x", "remove", "Remove", id="controls.remove"),
        Binding("i", "import_matrix", "Import", id="controls.import",
                tooltip="Import the client's matrix from CSV or XLSX"),
        Binding("s", "suggest", "Suggest", id="controls.suggest",
                tooltip="Map the row to every scenario that declares its criterion"),
    ]

    def __init__(self, engagement_id: int) -> None:
        super().__init__(engagement_id)
        self.catalog: Any = None
        self.library: Any = None
        self.rows: dict[int, Any] = {}

    def body(self) -> ComposeResult:
        yield DataTable(id="matrix-table", cursor_type="row")
        yield Static(Text("loading the catalog and the scenario library…", style="dim"), id="matrix-crosswalk")
        yield Static("", id="matrix-coverage")

    def on_mount(self) -> None:
        self.load_references()

    def on_resize(self) -> None:
        if self.library is not None:
            self.load()

    @work(thread=True, exclusive=True, group="controls-refs", exit_on_error=False)
    def load_references(self) -> None:
        """The catalog and the library are parsed from YAML: off the UI thread."""
        from app.alignment import engagement_library
        from app.catalog import load_catalog
        from app.errors import RedlineError

        try:
            catalog = load_catalog()
            library = with_store(lambda db: engagement_library(db, self.engagement_id))
        except RedlineError as exc:
            self.app.call_from_thread(report_error, self, exc, "cannot load the scenario library")
            return
        self.app.call_from_thread(self._references_loaded, catalog, library)

    def _references_loaded(self, catalog: Any, library: Any) -> None:
        self.catalog, self.library = catalog, library
        self.load()

    def load(self) -> None:
        from app.alignment import coverage, rows_of

        table = self.query_one("#matrix-table", DataTable)
        current = self.selected_key(table)
        rows = with_store(lambda db: rows_of(db, self.engagement_id))
        self.rows = {r.id: r for r in rows if r.id is not None}
        known = self.library.ids() if self.library is not None else None
        # Narrow terminals show the activity under the table, for the highlighted row.
        wide = self.size.width >= 90
        labels = ["CRITERION", "CLIENT REF", "ACTIVITY", "SCENARIOS"] if wide else \
            ["CRITERION", "CLIENT REF", "SCENARIOS"]
        widths = fit_columns(self.size.width, [10, 14, 120, 48] if wide else [10, 12, 40],
                             flex=len(labels) - 2 if wide else 2)
        set_columns(table, labels, widths)
        for r in rows:
            runnable = [s for s in r.scenarios if known is None or s in known]
            scenarios = (cell(", ".join(runnable), widths[-1]) if runnable
                         else cell("none: gap", style="bold red"))
            cells = [cell(r.criterion, widths[0], "bold"), cell(r.client_ref, widths[1])]
            if wide:
                cells.append(cell(r.activity, widths[2]))
            table.add_row(*cells, scenarios, key=str(r.id))
        if current in self.rows:
            table.move_cursor(row=list(self.rows).index(current))
        if self.catalog is None:
            return
        cov = with_store(lambda db: coverage(db, self.engagement_id, catalog=self.catalog, known_scenarios=known,
                                             library=self.library))
        style = "green" if cov.complete else "yellow"
        text = Text(cov.summary() if rows else "no rows yet: press i to import the client's matrix or a to add",
                    style=style)
        self.query_one("#matrix-coverage", Static).update(text)
        self.set_status(f"{len(rows)} row(s), {len(cov.gaps)} gap(s)")
        self._show_crosswalk()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_crosswalk()

    def _show_crosswalk(self) -> None:
        row = self._row(quiet=True)
        target = self.query_one("#matrix-crosswalk", Static)
        if row is None or self.catalog is None:
            target.update(Text("highlight a row to see its crosswalk", style="dim"))
        else:
            activity = literal(f"{row.client_ref or '(no ref)'}: {row.activity or '(no activity given)'}\n",
                               style="italic")
            target.update(activity + crosswalk_text(self.catalog, row.criterion))

    def _row(self, quiet: bool = False) -> Any | None:
        key = self.selected_key(self.query_one("#matrix-table", DataTable))
        if key is None and not quiet:
            self.notify("no row selected; press a to add one", markup=False)
        return self.rows.get(key) if key is not None else None

    def _ready(self) -> bool:
        if self.catalog is None or self.library is None:
            self.notify("still loading the catalog and scenario library", markup=False)
            return False
        return True

    def action_add(self) -> None:
        if self._ready():
            self.app.push_screen(RowForm(self.catalog, self.library), self._save)

    def action_edit(self) -> None:
        row = self._row()
        if row is not None and self._ready():
            self.app.push_screen(RowForm(self.catalog, self.library, row), lambda v: self._save(v, row.id))

    def _save(self, values: dict[str, Any] | None, row_id: int | None = None) -> None:
        from app.alignment import save_row

        if values is None:
            return
        if self.store(lambda db: save_row(db, self.engagement_id, row_id=row_id, catalog=self.catalog,
                                          known_scenarios=self.library.ids(), **values)):
            self.load()

    def action_remove(self) -> None:
        row = self._row()
        if row is not None:
            question = f"Remove the row {row.criterion} {row.client_ref}?".replace("  ", " ")
            self.app.push_screen(ConfirmScreen(question), lambda yes: self._remove(row.id) if yes else None)

    def _remove(self, row_id: int) -> None:
        from app.alignment import remove_row

        if self.store(lambda db: remove_row(db, self.engagement_id, row_id)):
            self.load()

    def action_suggest(self) -> None:
        """Map the highlighted row to every bundled scenario that declares its criterion."""
        from app.alignment import save_row, suggested_scenarios

        row = self._row()
        if row is None or not self._ready():
            return
        from app.alignment import systems_of
        from app.alignment.needs import needs_note, unmet_needs

        candidates = [s for s in suggested_scenarios(row.criterion, self.library) if s not in row.scenarios]
        if not candidates:
            self.notify(f"no other scenario declares {row.criterion}", markup=False)
            return
        unmet = with_store(lambda db: {s: unmet_needs(self.library.get(s).spec, systems_of(db, self.engagement_id))
                                       for s in candidates})
        found = [s for s in candidates if not unmet[s]]
        notes = [needs_note(s, needs) for s, needs in unmet.items() if needs]
        if notes:  # offered, with what they need, rather than mapped to fail as "client_error" or "!"
            self.notify("\n".join(notes), title="not mapped yet", markup=False, timeout=20)
        if not found:
            return
        if self.store(lambda db: save_row(db, self.engagement_id, row_id=row.id, criterion=row.criterion,
                                          client_ref=row.client_ref, activity=row.activity,
                                          scenarios=[*row.scenarios, *found], catalog=self.catalog,
                                          known_scenarios=self.library.ids())):
            self.notify(f"{row.criterion}: added {', '.join(found)}", markup=False)
            self.load()

    def action_import_matrix(self) -> None:
        self.app.push_screen(PromptScreen("Import the client's control matrix",
                                          hint="Path to a .csv or .xlsx file (rows are added to the matrix)",
                                          placeholder="assets/examples/control-matrix.csv"), self._import)

    def _import(self, path: str | None) -> None:
        if path:
            self.set_status(Text(f"importing {path}…", style="yellow"))
            self.import_matrix_file(Path(path).expanduser())

    @work(thread=True, exclusive=True, group="controls-import", exit_on_error=False)
    def import_matrix_file(self, path: Path) -> None:
        from app.alignment import import_matrix
        from app.errors import RedlineError

        try:
            added = with_store(lambda db: len(import_matrix(db, self.engagement_id, path)))
        except (RedlineError, OSError) as exc:
            self.app.call_from_thread(report_error, self, exc, "matrix import failed")
            return
        self.app.call_from_thread(self._imported, path, added)

    def _imported(self, path: Path, added: int) -> None:
        self.notify(f"imported {added} row(s) from {path.name}", markup=False)
        self.load()
