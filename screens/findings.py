"""The findings register: filter by control, severity and status; open the evidence; re-test; move status.

Status changes call :func:`app.findings.transition` (the lifecycle's one
home) after asking for the reason, and for a risk acceptance the approver.
Re-tests call :func:`app.retest.retest_findings_async` in an async worker: the
finding's scenario runs again exactly as first run, and its verdict moves the
finding. Filtering by a criterion also finds the AI controls that map to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Header, Select, Static

from app.findings import OPEN_STATUSES, SEVERITIES, STATUSES, legal_moves
from app.resources import assets_dir
from app.text import one_line
from screens.base import EngagementScreen, report_error, try_store, with_store
from screens.findings_plan import FindingPlanActions
from screens.widgets.columns import fit_columns, set_columns
from screens.widgets.finding_form import ChoiceScreen, quote_preview
from screens.widgets.literal import cell, literal
from screens.widgets.prompt import PromptScreen
from screens.wizard.controls import crosswalk_text

if TYPE_CHECKING:
    from sqlmodel import Session

ALL = "*"
SEVERITY_STYLES = {"high": "bold red", "medium": "yellow", "low": "cyan"}


class FindingsScreen(FindingPlanActions, EngagementScreen):
    """Every finding of the engagement, filtered; the highlighted one in detail below."""

    SCREEN_NAME = "findings"

    CSS_PATH = assets_dir() / "tcss" / "findings.tcss"
    HELP_TITLE = "findings"
    HELP = ("The engagement's findings. Filter by control (a criterion also matches the AI controls that map "
            "to it), severity and status. enter opens the quoted evidence in triage; s changes the status "
            "(with a reason) to the moves the lifecycle allows; e sets the exception type (design, operating "
            "effectiveness, system description); R re-tests the finding's scenario on the same system, which "
            "alone decides retest passed or failed. p sets the remediation priority and due date (pre-filled "
            "from the severity and the catalog's remediation table; DUE turns LATE when a finding awaiting "
            "remediation passes it, and at 80 columns its id is marked !); a attaches a file (a ticket, a signed acceptance) as evidence.")
    BINDINGS = [
        Binding("enter", "open", "Evidence", id="findings.open", tooltip="Open the evidence turn in triage"),
        Binding("s", "status", "Status", id="findings.status", tooltip="Move the finding along its lifecycle"),
        Binding("R", "retest", "Re-test", key_display="R", id="findings.retest",
                tooltip="Run the finding's scenario again on the same system"),
        Binding("e", "classify", "Type", id="findings.classify",
                tooltip="Classify the exception: design, operating effectiveness or system description"),
        # Shown in help and the palette; the footer has no room left at 80 columns.
        Binding("p", "priority", "Priority", show=False, id="findings.priority",
                tooltip="Set the remediation priority and due date"),
        Binding("a", "attach", "Attach", show=False, id="findings.attach", tooltip="Attach a file as evidence to the finding"),
        Binding("slash", "filter", "Filter", key_display="/", id="findings.filter", tooltip="Focus the filters"),
        Binding("r", "reload", "Reload", show=False, id="findings.reload"),
    ]

    def __init__(self, engagement_id: int, status: str | None = None) -> None:
        super().__init__(engagement_id)
        self.start_status = status  # opened on one status (Home's "drafts to triage")
        self.all: list[Any] = []
        self.shown: list[Any] = []
        self.catalog: Any = None
        self.retesting: set[int] = set()
        self.seen: dict[int, list[Any]] = {}  # finding id -> its occurrences (app.occurrences)
        self.plans: dict[int, Any] = {}  # finding id -> app.remediation.RemediationPlan
        self.attached: dict[int, list[Any]] = {}  # finding id -> its attachments

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with Horizontal(id="findings-filters"):
            yield Select([(Text("any control"), ALL)], value=ALL, allow_blank=False, id="filter-control",
                         compact=True)
            yield Select([(Text("any severity"), ALL)] + [(Text(s), s) for s in SEVERITIES], value=ALL,
                         allow_blank=False, id="filter-severity", compact=True)
            yield Select([(Text("any status"), ALL)] + [(Text(s.replace("_", " ")), s) for s in STATUSES],
                         value=self.start_status if self.start_status in STATUSES else ALL, allow_blank=False,
                         id="filter-status", compact=True)
        yield DataTable(id="findings-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="finding-detail")
        yield Footer(show_command_palette=False, compact=True)

    def on_mount(self) -> None:
        from app.alignment import get_engagement
        from app.catalog import load_catalog

        self.engagement_name = with_store(lambda db: get_engagement(db, self.engagement_id)).name
        self.set_heading("findings")
        self.catalog = load_catalog()
        self.reload()
        self.query_one("#findings-table", DataTable).focus()

    def on_screen_resume(self) -> None:
        self.reload()

    def on_resize(self) -> None:
        self._fill()

    # ------------------------------------------------------------------ data

    def reload(self, select: int | None = None) -> None:
        from app.attachments import list_attachments
        from app.findings import find
        from app.occurrences import occurrences
        from app.remediation import plan_of
        from app.runner.plan import today_utc
        from app.store.models import Engagement

        def load(db: Any) -> tuple[list[Any], dict[int, list[Any]], dict[int, Any], dict[int, list[Any]]]:
            found = find(db, self.engagement_id)
            engagement, today = db.get(Engagement, self.engagement_id), today_utc()
            plans = {f.id or 0: plan_of(f, engagement, today, self.catalog) for f in found}
            attached: dict[int, list[Any]] = {}
            for row in list_attachments(db, self.engagement_id):
                if row.finding_id is not None:
                    attached.setdefault(row.finding_id, []).append(row)
            return found, occurrences(db, found), plans, attached

        loaded = try_store(self, load)
        if loaded is None:
            return
        findings, self.seen, self.plans, self.attached = loaded
        keep = select or self.selected_id()
        self.all = findings
        controls = sorted({c for f in findings for c in self._controls_of(f)})
        picker = self.query_one("#filter-control", Select)
        current = picker.value
        picker.set_options([(Text("any control"), ALL)] + [(Text(c), c) for c in controls])
        picker.value = current if current in controls else ALL
        self._fill(keep)

    def _controls_of(self, finding: Any) -> list[str]:
        """A finding's controls and, through the catalog, the criteria its AI controls map to."""
        return self.catalog.expand(finding.controls) if self.catalog else list(finding.controls)

    def _filtered(self) -> list[Any]:
        control = self.query_one("#filter-control", Select).value
        severity = self.query_one("#filter-severity", Select).value
        status = self.query_one("#filter-status", Select).value
        return [f for f in self.all
                if (control == ALL or control in self._controls_of(f))
                and (severity == ALL or f.severity == severity)
                and (status == ALL or f.status == status)]

    def _fill(self, select: int | None = None) -> None:
        table = self.query_one("#findings-table", DataTable)
        keep = select if select is not None else self.selected_id()
        wide = self.size.width >= 110
        # The due date has a column where there is room; at 80 columns a late finding's id carries "!" instead.
        labels = ["#", "SEV", "STATUS", "CONTROLS", "TITLE"] + (["IMPACT", "DUE"] if wide else [])
        wanted = [4, 6, 13, 18 if wide else 12, 60] + ([30, 10] if wide else [])
        widths = fit_columns(self.size.width or 80, wanted, flex=4)
        set_columns(table, labels, widths)
        self.shown = self._filtered()
        for f in self.shown:
            status = f.status.replace("_", " ") + (" …" if f.id in self.retesting else "")
            plan = self.plans.get(f.id or 0)
            late = plan is not None and plan.overdue
            cells = [cell(f"{f.id}!" if late and not wide else f.id, style="bold red" if late else ""),
                     cell(f.severity, style=SEVERITY_STYLES.get(f.severity, "")), cell(status),
                     cell(", ".join(f.controls), widths[3]), cell(f.title, widths[4])]
            if wide:
                cells.append(cell(f.impact, widths[5]))
                if plan is not None and plan.overdue:
                    cells.append(cell(f"LATE {plan.days_overdue}d", style="bold red"))
                else:
                    cells.append(cell(plan.due_date.isoformat() if plan is not None and plan.due_date else "–"))
            table.add_row(*cells, key=str(f.id))
        index = next((i for i, f in enumerate(self.shown) if f.id == keep), 0)
        if self.shown:
            table.move_cursor(row=index)
        self._detail()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id and event.select.id.startswith("filter-"):
            self._fill()

    def selected(self) -> Any | None:
        table = self.query_one("#findings-table", DataTable)
        if not self.shown or not 0 <= table.cursor_row < len(self.shown):
            return None
        return self.shown[table.cursor_row]

    def shown_version(self, finding_id: int) -> int | None:
        """The version of the finding as this screen showed it: a change decided on it is refused if
        another tester has changed the finding since (the message says who; reload shows theirs)."""
        shown = next((f for f in self.all if f.id == finding_id), None)
        return getattr(shown, "version", None)

    def selected_id(self) -> int | None:
        finding = self.selected()
        return finding.id if finding is not None else None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail()

    def _detail(self) -> None:
        detail = self.query_one("#finding-detail", Static)
        f = self.selected()
        if f is None:
            detail.update(Text("No findings match." if self.all else
                               "No findings yet: failing runs file draft findings, and triage (f) files them "
                               "by hand.", style="dim"))
            return
        kind = f.exception_kind.replace("_", " ") if f.exception_kind else "type not classified"
        out = literal(f"#{f.id} {f.title}", style="bold") + Text(
            f"  {f.severity} · {f.status.replace('_', ' ')} · {kind}", style=SEVERITY_STYLES.get(f.severity, ""))
        if f.impact:
            out += Text("\nimpact ", style="dim") + literal(one_line(f.impact, 120))
        for ident in f.controls[:3]:
            out += Text("\n") + crosswalk_text(self.catalog, ident)
        quote = (f.evidence or {}).get("quote", "")
        if quote:
            out += Text("\n") + quote_preview(quote, lines=2)
        extra = len((f.evidence or {}).get("additional", []))
        where = f"run {f.run_id} · turn {f.turn_id}" if f.run_id else "no run"
        seen = self.seen.get(f.id or 0, [])
        if len(seen) > 1:
            where += f" · seen in {len(seen)} runs: " + ", ".join(str(o.run_id) for o in seen)
        if f.regression_of:
            where += f" · regression of #{f.regression_of}"
        out += Text(f"\n{where}" + (f" · {extra} more quoted span(s)" if extra else "")
                    + (f" · accepted by {one_line(f.accepted_by, 30)}" if f.accepted_by else ""), style="dim")
        plan = self.plans.get(f.id or 0)
        if plan is not None:
            out += Text(f"\nremediation: {plan.priority.replace('_', ' ')} priority, {plan.flag()}",
                        style="bold red" if plan.overdue else "")
        files = self.attached.get(f.id or 0, [])
        for row in files[:2]:
            out += Text(f"\nattachment {row.id}: ", style="dim") + literal(
                f"{one_line(row.filename, 40)} ({row.media_type}, {row.size:,} B) {one_line(row.note, 60)}")
        if len(files) > 2:
            out += Text(f"\n… {len(files) - 2} more attachment(s): redline attach --list", style="dim")
        detail.update(out)

    # --------------------------------------------------------------- actions

    def action_reload(self) -> None:
        self.reload()

    def action_filter(self) -> None:
        self.query_one("#filter-control", Select).focus()

    def action_open(self) -> None:
        f = self.selected()
        if f is None:
            return
        if f.run_id is None or f.turn_id is None:
            self.notify("This finding quotes no transcript (it has no run).", markup=False)
            return
        evidence = f.evidence or {}
        span = (evidence["start"], evidence["end"]) if isinstance(evidence.get("start"), int) and isinstance(
            evidence.get("end"), int) else None
        self.redline.push_screen_for("triage", self.engagement_id, run_id=f.run_id, turn_id=f.turn_id, span=span)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_status(self) -> None:
        f = self.selected()
        if f is None:
            return
        moves = legal_moves(f)  # the core's rule: re-test outcomes are never offered by hand
        if not moves:
            self.notify(f"finding {f.id} is {f.status}: its lifecycle has ended", markup=False)
            return
        hint = "A re-test (R) decides retest passed or failed." if f.status in OPEN_STATUSES else ""
        self.app.push_screen(ChoiceScreen(f"Move finding #{f.id} from {f.status.replace('_', ' ')} to…",
                                          [(m.to, f"{m.to.replace('_', ' ')} ({m.action})", m.meaning)
                                           for m in moves], hint=hint),
                             lambda to: self._ask_reason(f.id, to))

    def _ask_reason(self, finding_id: int, to: str | None) -> None:
        if not to:
            return
        self.app.push_screen(PromptScreen(f"Why move finding #{finding_id} to {to.replace('_', ' ')}?",
                                          hint="The reason goes into the audit trail."),
                             lambda reason: self._ask_approver(finding_id, to, reason))

    def _ask_approver(self, finding_id: int, to: str, reason: str | None) -> None:
        if reason is None:
            return
        if to != "risk_accepted":
            self._transition(finding_id, to, reason, "")
            return
        self.app.push_screen(PromptScreen("Who approved accepting this risk?", hint="The approver's name"),
                             lambda approver: self._transition(finding_id, to, reason, approver)
                             if approver is not None else None)

    def _transition(self, finding_id: int, to: str, reason: str, approver: str) -> None:
        from app.findings import load_for_change, transition

        def move(db: Any) -> Any:
            finding = load_for_change(db, finding_id, expected_version=self.shown_version(finding_id))
            return transition(db, finding, to, reason=reason, approver=approver)

        if try_store(self, move) is not None:
            self.notify(f"finding #{finding_id} is now {to.replace('_', ' ')}", markup=False)
        self.reload(select=finding_id)  # after a refusal too: a conflict's message asks the tester to look again

    def action_classify(self) -> None:
        from app.findings import EXCEPTION_KINDS

        f = self.selected()
        if f is None:
            return
        current = f.exception_kind.replace("_", " ") if f.exception_kind else "not classified"
        self.app.push_screen(ChoiceScreen(f"Exception type of finding #{f.id} (now {current})",
                                          [(kind, kind.replace("_", " "), meaning)
                                           for kind, meaning in EXCEPTION_KINDS.items()]),
                             lambda kind: self._ask_classify_reason(f.id, kind))

    def _ask_classify_reason(self, finding_id: int, kind: str | None) -> None:
        if not kind:
            return
        self.app.push_screen(PromptScreen(f"Why is finding #{finding_id} a {kind.replace('_', ' ')} exception?",
                                          hint="The reason goes into the audit trail."),
                             lambda reason: self._classify(finding_id, kind, reason) if reason is not None else None)

    def _classify(self, finding_id: int, kind: str, reason: str) -> None:
        from app.findings import classify, load_for_change
        from app.store.models import Finding

        version = self.shown_version(finding_id)

        def act(db: Session) -> Finding:
            # load_for_change says plainly when the finding is gone, and refuses a change decided on an
            # older view of it than the store now holds.
            return classify(db, load_for_change(db, finding_id, expected_version=version), kind, reason=reason)

        if try_store(self, act) is not None:
            self.notify(f"finding #{finding_id} is now a {kind.replace('_', ' ')} exception", markup=False)
            self.reload(select=finding_id)

    def action_retest(self) -> None:
        f = self.selected()
        if f is None:
            return
        if f.status not in OPEN_STATUSES:
            self.notify(f"only open findings ({', '.join(OPEN_STATUSES)}) can be re-tested; #{f.id} is "
                        f"{f.status}", markup=False, severity="warning")
            return
        if f.id in self.retesting:
            return
        self.retesting.add(f.id)
        self._fill(f.id)
        self.notify(f"re-testing finding #{f.id}…", markup=False)
        self.retest(f.id)

    @work(group="findings-retest", exit_on_error=False)
    async def retest(self, finding_id: int) -> None:
        """The re-test core runs the scenario as first run; its verdict moves the finding."""
        from app.errors import RedlineError
        from app.retest import retest_findings_async

        try:
            outcomes = await retest_findings_async(self.engagement_id, [finding_id])
        except RedlineError as exc:
            report_error(self, exc, "re-test")
            outcomes = []
        finally:
            self.retesting.discard(finding_id)
        for outcome in outcomes:
            message = f"finding #{outcome.finding_id}: re-test {outcome.outcome}, now {outcome.status}"
            if outcome.reason:
                message += f" ({outcome.reason})"
            self.notify(one_line(message, 200), markup=False,
                        severity="information" if outcome.outcome == "pass" else "warning")
        self.reload(select=finding_id)
