"""Home: the engagements, what is due next, and the ways to start one.

The list comes from :func:`app.engagements.list_engagements` (the same figures
``redline engagement list`` prints). A first-time user sees what to do next
instead of an empty table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from screens.base import report_error, try_store, with_store
from screens.messages import StoreFailed
from screens.widgets.literal import cell
from screens.widgets.prompt import PromptScreen

if TYPE_CHECKING:
    from sqlmodel import Session

    from screens.app import RedlineApp

FIRST_STEPS = (
    "No engagements yet. What to do next:\n\n"
    "  d  open the built-in demo engagement: a deliberately weak support bot\n"
    "     to practise on, with no network and nothing to set up\n"
    "  n  start a new engagement: the wizard walks through the in-scope\n"
    "     systems, the control matrix, timing and the evidence format\n"
    "  i  import an engagement file (e.g. assets/examples/acme-2026.yaml)\n\n"
    "  ?  every key on this screen      ctrl+p  search every action"
)
SEVERITY_ORDER = ("high", "medium", "low")


@dataclass(frozen=True)
class HomeRow:
    """One engagement as Home shows it (already formatted; names and clients are user text)."""

    engagement_id: int
    name: str
    client: str
    audit_type: str
    period: str
    next_window: str
    open_findings: str
    aligned: str  # "4/4" when the wizard is done
    systems: int
    windows: int
    waiting: Any = None  # app.waiting.Waiting: drafts to triage, findings in progress, interrupted runs


# Each count of what waits, and the key that goes to it.
WAITING_KEYS = (("t", "drafts"), ("f", "in_progress"), ("u", "interrupted"), ("f", "overdue"))


def home_rows(db: Session, today: date) -> list[HomeRow]:
    """The engagements list, formatted for the table."""
    from app.alignment import STEPS, steps_done
    from app.engagements import list_engagements
    from app.store.models import Engagement
    from app.waiting import waiting_work

    rows = []
    for summary in list_engagements(db, today=today):
        engagement = db.get(Engagement, summary.engagement_id)
        aligned = f"{len(steps_done(engagement))}/{len(STEPS)}" if engagement is not None else "–"
        rows.append(_home_row(summary, today, aligned, waiting_work(db, summary.engagement_id, today)))
    return rows


def glance_rows(today: date) -> list[HomeRow] | None:
    """The rows read before the store is ready (:mod:`app.glance`), alignment and waiting work still unknown."""
    from app.glance import glance
    from app.paths import db_path

    found = glance(db_path(), today)
    return None if found is None else [_home_row(s, today, "…", None) for s in found]


def _home_row(summary: Any, today: date, aligned: str, waiting: Any) -> HomeRow:
    """One engagement summary (:class:`app.glance.EngagementSummary`) as Home shows it."""
    from app.glance import period_label, window_countdown

    if summary.audit_type == "type1":
        period = summary.as_of.isoformat() if summary.as_of else "–"
        upcoming = (window_countdown("as-of", summary.as_of, today)
                    if summary.as_of and summary.as_of >= today else ("done" if summary.as_of else "–"))
    else:
        period = period_label(summary.period_start, summary.period_end)
        if summary.next_window and summary.next_window_start:
            upcoming = window_countdown(summary.next_window, summary.next_window_start, today)
        else:
            upcoming = "done" if summary.windows else "–"
    worst = next((s for s in SEVERITY_ORDER if summary.open_by_severity.get(s)), "")
    open_text = f"{summary.open_findings} {worst[:1].upper()}".strip() if summary.open_findings else "–"
    if waiting is not None and waiting.overdue:
        open_text += f" !{waiting.overdue}"  # findings past their remediation due date
    return HomeRow(summary.engagement_id, summary.name, summary.client,
                   "I" if summary.audit_type == "type1" else "II", period, upcoming, open_text,
                   aligned, summary.systems_in_scope, summary.windows, waiting)


class HomeScreen(Screen[None]):
    """The list of engagements."""

    HELP_TITLE = "engagements"
    HELP = ("Each engagement is one audit: its in-scope AI systems, control matrix, test windows and "
            "evidence. Enter opens the alignment wizard until it is complete, then the engagement.")
    BINDINGS = [
        Binding("n", "new", "New", id="home.new", tooltip="Start a new engagement in the wizard"),
        Binding("i", "import_file", "Import", id="home.import", tooltip="Import an engagement file"),
        Binding("d", "demo", "Demo", id="home.demo", tooltip="Open the built-in demo engagement"),
        Binding("enter", "open", "Open", id="home.open", tooltip="Open the highlighted engagement"),
        Binding("w", "align", "Alignment", show=False, id="home.align",
                tooltip="Review the highlighted engagement's alignment wizard"),
        Binding("c", "controls", "Controls", show=False, id="home.controls",
                tooltip="Controls and results of the highlighted engagement"),
        Binding("r", "reload", "Reload", show=False, id="home.reload"),
        Binding("t", "waiting('drafts')", "Triage drafts", show=False, id="home.drafts",
                tooltip="The highlighted engagement's draft findings, to triage"),
        Binding("f", "waiting('in_progress')", "Findings", show=False, id="home.findings",
                tooltip="The highlighted engagement's findings register"),
        Binding("u", "waiting('interrupted')", "Interrupted runs", show=False, id="home.interrupted",
                tooltip="The highlighted engagement's runs, where R resumes an interrupted one"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[HomeRow] = []

    @property
    def redline(self) -> RedlineApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        yield DataTable(id="engagements", cursor_type="row", zebra_stripes=True)
        yield Static(Text("opening the store…", style="dim"), id="home-panel")
        yield Footer(show_command_palette=False, compact=True)

    def on_mount(self) -> None:
        self.sub_title = "engagements"
        self.query_one("#engagements", DataTable).display = False
        if not self.redline.store_ready:  # the rows at a glance, while the store layer is still loading
            rows = glance_rows(self.redline.today())
            if rows:
                self._fill(rows, sized=True)
        self.redline.when_store_ready(self.reload)

    def on_screen_resume(self) -> None:
        if self.redline.store_ready:
            self.reload()

    def on_resize(self) -> None:
        if self.rows:
            self._fill(self.rows, sized=not self.redline.store_ready)

    def on_store_failed(self, message: StoreFailed) -> None:
        self.query_one("#home-panel", Static).update(Text(f"The store could not be opened:\n\n{message.error}",
                                                          style="red"))

    # --- the list ------------------------------------------------------------------------------
    def action_reload(self) -> None:
        self.reload()

    def reload(self, select: int | None = None) -> None:
        rows = try_store(self, lambda db: home_rows(db, self.redline.today()))
        if rows is not None:
            self._fill(rows, select)

    def _fill(self, rows: list[HomeRow], select: int | None = None, *, sized: bool = False) -> None:
        """Show ``rows``. ``sized``: give the columns their widths now rather than when the table measures
        them (before the first frame, a terminal's table has nothing to measure against yet)."""
        table = self.query_one("#engagements", DataTable)
        panel = self.query_one("#home-panel", Static)
        current = select if select is not None else self.selected_id()
        self.rows = rows
        wide = self.size.width >= 110
        table.clear(columns=True)
        columns = ["NAME", "CLIENT", "TYPE", "PERIOD", "NEXT WINDOW", "OPEN", "ALIGN"]
        columns += ["SYSTEMS", "WINDOWS"] if wide else []
        name_w, client_w = (32, 28) if wide else (16, 12)
        lines = []
        for row in rows:
            cells = [cell(row.name, name_w, "bold"), cell(row.client, client_w), cell(row.audit_type),
                     cell(row.period, 22 if wide else 11), cell(row.next_window, 14),
                     cell(row.open_findings, style="red" if "H" in row.open_findings or "!" in row.open_findings
                          else ""),
                     cell(row.aligned, style="green" if row.aligned.startswith("4") else "yellow")]
            if wide:
                cells += [cell(row.systems), cell(row.windows)]
            lines.append(cells)
        if sized:
            for index, label in enumerate(columns):
                table.add_column(label, width=max([len(label)] + [line[index].cell_len for line in lines]))
        else:
            table.add_columns(*columns)
        for row, cells in zip(rows, lines, strict=True):
            table.add_row(*cells, key=str(row.engagement_id))
        table.display = bool(rows)
        panel.set_class(not rows, "first-steps")
        if current is not None:
            for index, row in enumerate(rows):
                if row.engagement_id == current:
                    table.move_cursor(row=index)
        if rows:
            table.focus()
        self._panel()

    def _panel(self) -> None:
        """Under the list: what waits in the highlighted engagement (each with its key), then the keys."""
        panel = self.query_one("#home-panel", Static)
        if not self.rows:
            panel.update(Text(FIRST_STEPS))
            return
        out = Text()
        row = next((r for r in self.rows if r.engagement_id == self.selected_id()), None)
        waiting = row.waiting if row is not None else None
        if row is not None and waiting is not None and waiting.anything:
            phrases = dict(zip(("drafts", "in_progress", "interrupted", "overdue"), waiting.parts_by_kind(),
                               strict=True))
            parts = [f"{phrases[kind]} ({key})" for key, kind in WAITING_KEYS if phrases.get(kind)]
            out.append(cell(row.name, 32).plain + ": ", style="bold")
            out.append(" · ".join(parts) + "\n", style="yellow")
        elif row is not None and waiting is not None:  # None: not read yet (the rows at a glance)
            out.append(cell(row.name, 32).plain + ": nothing waits for triage or re-test\n", style="dim")
        out.append("n new  i import  d demo  enter open  w alignment  c controls  ? help", style="dim")
        panel.update(out)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._panel()

    def action_waiting(self, kind: str) -> None:
        """Go to what waits: drafts in the register (filtered), the register, or the runs (R resumes)."""
        engagement_id = self.selected_id()
        if engagement_id is None or not self._ready():
            return
        if kind == "drafts":
            self.redline.push_screen_for("findings", engagement_id, status="draft")
        elif kind == "in_progress":
            self.redline.push_screen_for("findings", engagement_id)
        else:
            self.redline.push_screen_for("run", engagement_id)

    def selected_id(self) -> int | None:
        table = self.query_one("#engagements", DataTable)
        if not self.rows or table.cursor_row < 0 or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row].engagement_id

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    # --- actions -------------------------------------------------------------------------------
    def _ready(self) -> bool:
        if not self.redline.store_ready:
            self.notify("the store is still opening; try again in a moment", markup=False)
        return self.redline.store_ready

    def action_open(self) -> None:
        engagement_id = self.selected_id()
        if engagement_id is not None and self._ready():
            self.redline.open_engagement(engagement_id)

    def action_align(self) -> None:
        engagement_id = self.selected_id()
        if engagement_id is not None and self._ready():
            self.redline.push_screen_for("wizard", engagement_id)

    def action_controls(self) -> None:
        engagement_id = self.selected_id()
        if engagement_id is not None and self._ready():
            self.redline.push_screen_for("controls", engagement_id)

    def action_new(self) -> None:
        if not self._ready():
            return
        self._ask_name("")

    def _ask_name(self, value: str) -> None:
        self.app.push_screen(PromptScreen("New engagement", hint="A short name: letters, digits, '.', '_', '-'",
                                          placeholder="acme-2026", value=value), self._named)

    def _named(self, name: str | None) -> None:
        from app.alignment import check_new_engagement_name

        if not name:
            return
        typed = name
        checked = try_store(self, lambda db: check_new_engagement_name(db, typed))
        if checked is None:  # refused, and said why: ask again with what was typed, to fix in place
            self._ask_name(name)
            return
        name = checked
        self.app.push_screen(PromptScreen(f"Client for {name}", hint="The audited company (optional)"),
                             lambda client: self._create(name, client or ""))

    def _create(self, name: str, client: str) -> None:
        from app.alignment import create_engagement

        engagement = try_store(self, lambda db: create_engagement(db, name, client))
        if engagement is not None:
            self.reload(select=engagement.id)
            self.redline.push_screen_for("wizard", engagement.id or 0, step="systems")

    def action_import_file(self) -> None:
        if not self._ready():
            return
        self.app.push_screen(PromptScreen("Import engagement file", hint="Path to an engagement .yaml file",
                                          placeholder="assets/examples/acme-2026.yaml"), self._import)

    def _import(self, path: str | None) -> None:
        if path:
            self.notify(f"importing {path}…", markup=False, timeout=3)
            self.import_engagement_file(Path(path).expanduser())

    @work(thread=True, exclusive=True, group="home-import", exit_on_error=False)
    def import_engagement_file(self, path: Path) -> None:
        """Validate and import in a worker: the library and catalog are read from disk."""
        from app.engagements import apply_engagement, load_engagement_file
        from app.errors import RedlineError

        try:
            spec = load_engagement_file(path)
            outcome = with_store(lambda db: apply_engagement(db, spec, path))
        except (RedlineError, OSError) as exc:
            self.app.call_from_thread(report_error, self, exc, "import failed")
            return
        verb = "imported" if outcome.created else "updated"
        self.app.call_from_thread(self.notify, f"{verb} {spec.name}: {outcome.summary}", markup=False)
        self.app.call_from_thread(self.reload, outcome.engagement.id)

    def action_demo(self) -> None:
        if self._ready():
            self.query_one("#home-panel", Static).update(Text("preparing the demo engagement…", style="yellow"))
            self.open_demo()

    @work(thread=True, exclusive=True, group="home-demo", exit_on_error=False)
    def open_demo(self) -> None:
        from app.demo_engagement import ensure_demo_engagement
        from app.errors import RedlineError

        try:
            demo_id = with_store(lambda db: ensure_demo_engagement(db, today=self.redline.today()).id)
        except RedlineError as exc:
            self.app.call_from_thread(report_error, self, exc)
            self.app.call_from_thread(self.reload)
            return
        self.app.call_from_thread(self._open_demo, demo_id or 0)

    def _open_demo(self, demo_id: int) -> None:
        self.reload(select=demo_id)
        self.redline.open_engagement(demo_id)
