"""Monitoring: the Type II picture per criterion and test window, the schedule, and what needs explaining.

The screen draws :func:`app.monitoring.monitoring` and nothing else: the
rules (latest result per window, remediated after a failure, trend, windows
due/overdue/missed, dating flags, model change flags) live in the core, so
``redline monitor`` and this screen cannot disagree.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Sparkline, Static

from app.text import for_terminal
from screens.base import EngagementScreen, report_error, with_store
from screens.widgets.literal import cell, literal

STATE_STYLES: dict[str, str] = {"pass": "green", "fail": "bold red", "remediated": "cyan", "review": "yellow",
                                "error": "magenta", "not tested": "dim"}
WINDOW_STYLES: dict[str, str] = {"ran": "green", "due": "yellow", "overdue": "bold red", "missed": "bold red",
                                 "upcoming": "dim", "flagged": "bold red"}


class MonitoringScreen(EngagementScreen):
    """Criterion by window, with the trend, the schedule and the flags an auditor would raise."""

    SCREEN_NAME = "monitoring"

    HELP_TITLE = "monitoring"
    HELP = ("Type II monitoring. Each window column shows the latest result of the criterion's scenarios there: "
            "✓ pass, ✗ fail, ↻ remediated (failed, then re-tested and passed), ? review, ! error, · not tested. "
            "Flags list windows overdue or missed, runs outside the period or their window, and possible "
            "unapproved model changes (probe with p; check the model inventory with i).")
    BINDINGS = [
        Binding("r", "reload", "Reload", id="monitoring.reload"),
        Binding("a", "goto('questions')", "Questions", id="monitoring.questions",
                tooltip="The auditor's questions, answered from the evidence"),
        Binding("p", "probe", "Probe", id="monitoring.probe",
                tooltip="Send the canary probes to every in-scope system (model change detection)"),
        Binding("i", "inventory", "Inventory", id="monitoring.inventory",
                tooltip="Compare each endpoint's model listing with the inventory (AI-GOV-01)"),
    ]
    DEFAULT_CSS = """
    MonitoringScreen #monitoring-windows { height: auto; max-height: 6; padding: 0 1; }
    MonitoringScreen #monitoring-table { height: 1fr; min-height: 4; }
    MonitoringScreen #monitoring-spread-row { height: 2; padding: 0 1; }
    MonitoringScreen #monitoring-spread-label { width: auto; padding-right: 1; }
    MonitoringScreen #monitoring-spread { width: 1fr; height: 1; }
    MonitoringScreen #monitoring-flags-scroll { height: auto; max-height: 9; border-top: solid $panel; }
    MonitoringScreen #monitoring-flags { height: auto; padding: 0 1; }
    """

    def __init__(self, engagement_id: int) -> None:
        super().__init__(engagement_id)
        self.picture: Any = None
        self.busy = ""

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        yield Static(Text("loading…", style="dim"), id="monitoring-windows")
        yield DataTable(id="monitoring-table", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="monitoring-spread-row"):
            yield Static(Text("runs per month", style="dim"), id="monitoring-spread-label")
            yield Sparkline([], id="monitoring-spread")
        with VerticalScroll(id="monitoring-flags-scroll"):
            yield Static("", id="monitoring-flags")
        yield Footer(show_command_palette=False, compact=True)

    def on_mount(self) -> None:
        from app.alignment import get_engagement

        self.engagement_name = with_store(lambda db: get_engagement(db, self.engagement_id)).name
        self.set_heading("monitoring")
        self.load()

    def on_screen_resume(self) -> None:
        self.load()

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="monitoring-load", exit_on_error=False)
    def load(self) -> None:
        from app.errors import RedlineError
        from app.monitoring import monitoring

        try:
            picture = with_store(lambda db: monitoring(db, self.engagement_id, today=self.redline.today()))
        except RedlineError as exc:
            self.app.call_from_thread(report_error, self, exc)
            return
        self.app.call_from_thread(self._loaded, picture)

    def _loaded(self, picture: Any) -> None:
        self.picture = picture
        self._draw()

    # --- endpoint checks (network: in a worker) --------------------------------------------------
    def action_probe(self) -> None:
        self._check("probe")

    def action_inventory(self) -> None:
        self._check("inventory")

    @work(thread=True, exclusive=True, group="monitoring-check", exit_on_error=False)
    def _check(self, what: str) -> None:
        from app.errors import RedlineError

        self.busy = what
        self.app.call_from_thread(self._draw_flags)
        try:
            if what == "probe":
                from app.changes import probe_engagement

                lines = [f"probe {p.system}: " + (f"incomplete ({p.error})" if p.error else
                                                  f"behaviour {p.behaviour_fingerprint[:12]}, model {p.model_id or '?'}")
                         for p in probe_engagement(self.engagement_id)]
            else:
                from app.changes import check_inventory

                lines = [f"inventory {c.system}: " + (f"listing failed ({c.error})" if c.error else
                                                      f"undocumented {', '.join(c.undocumented)}" if c.undocumented
                                                      else "every listed model is documented")
                         for c in check_inventory(self.engagement_id)]
        except RedlineError as exc:
            self.app.call_from_thread(report_error, self, exc, what)
            lines = []
        finally:
            self.busy = ""
        for line in lines:
            self.app.call_from_thread(self.notify, for_terminal(line), title=what, markup=False)
        self.app.call_from_thread(self.load)

    # --- drawing ----------------------------------------------------------------------------------
    def _draw(self) -> None:
        picture = self.picture
        windows = Text()
        for w in picture.windows:
            dates = f"{w.start:%m-%d}..{w.end:%m-%d}" if w.start and w.end else "outside windows"
            windows += cell(w.name, 12, "bold") + Text(f" {dates} ") + Text(w.note, style=WINDOW_STYLES.get(w.status, ""))
            windows += Text("\n")
        if not picture.windows:
            windows = Text("No test windows are planned.", style="dim")
        windows.rstrip()
        self.query_one("#monitoring-windows", Static).update(windows)
        table = self.query_one("#monitoring-table", DataTable)
        keep = table.cursor_row
        table.clear(columns=True)
        table.add_columns("CRITERION", *[cell(w.name, 8) for w in picture.windows], "STRIP", "TREND")
        for index, row in enumerate(picture.criteria):
            cells = [Text(c.mark + (f"{c.tested}/{c.total}" if c.tested else ""), style=STATE_STYLES.get(c.state, ""),
                          no_wrap=True) for c in row.cells]
            table.add_row(cell(row.criterion, 12, "bold" if row.in_matrix else ""), *cells,
                          Text(row.strip, no_wrap=True), Text(row.trend, no_wrap=True), key=str(index))
        if picture.criteria:
            table.move_cursor(row=min(max(keep, 0), len(picture.criteria) - 1))
            table.focus()
        months = [float(m["runs"]) for m in picture.spread.get("months", [])]
        self.query_one("#monitoring-spread", Sparkline).data = months
        self.query_one("#monitoring-spread-label", Static).update(
            Text("runs per month" if months else "runs per month: no period set", style="dim"))
        self._draw_flags()

    def _draw_flags(self) -> None:
        if self.picture is None:
            return
        flags = self.picture.flags()
        out = Text(f"{self.busy}…\n", style="italic") if self.busy else Text()
        if not flags:
            out += Text("No flags: windows on schedule, every run dated inside its window, no model change seen.",
                        style="green")
        for flag in flags:
            out += Text("! ", style="bold red") + literal(flag) + Text("\n")
        out.rstrip()
        self.query_one("#monitoring-flags", Static).update(out)

    def selected(self) -> Any | None:
        """The highlighted criterion's row, if any."""
        if self.picture is None or not self.picture.criteria:
            return None
        row = self.query_one("#monitoring-table", DataTable).cursor_row
        return self.picture.criteria[row] if 0 <= row < len(self.picture.criteria) else None
