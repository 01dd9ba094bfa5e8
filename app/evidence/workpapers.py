"""Workpapers: one CSV per evidence type, and one XLSX with a sheet per type.

The columns follow the results-of-tests layout a CPA firm pastes into its own
workpapers. Every cell is hostile until proven otherwise: it is stripped of
control characters (``app.text.for_terminal``), so nothing a model said can
become a terminal escape in whoever opens the file. Then each format keeps it
from becoming a formula or a hyperlink in its own way:

- CSV cells have no type, so text that starts like a formula gets a leading
  quote (``app.text.for_spreadsheet``);
- XLSX cells are typed: text is a string (with Excel's quote-prefix style when
  it starts like a formula, so editing it keeps it text), timestamps are real
  datetimes in UTC, counts and milliseconds are numbers. Nothing is added to
  the evidence, and an auditor can sort, filter and paste it as data.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from typing import IO, TYPE_CHECKING, Any

from app.evidence import tables
from app.evidence.collect import EvidenceSet
from app.evidence.report import displayable
from app.text import for_spreadsheet, starts_like_formula

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

MAX_CELL = 32_000  # Excel's limit is 32,767 characters per cell
TRUNCATED = " [truncated; the full text is in transcripts/]"


WRAP_WIDTH = 30  # columns at least this wide hold prose: their cells wrap
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
DATE_FORMAT = "yyyy-mm-dd"


@dataclass(frozen=True)
class Column:
    header: str
    key: str
    width: int = 16
    kind: str = "value"  # "value" (numbers stay numbers, the rest is text), "datetime" (UTC) or "date"


@dataclass(frozen=True)
class Sheet:
    name: str  # the CSV file stem and the XLSX sheet title (<= 31 characters)
    columns: tuple[Column, ...]
    rows: Callable[[EvidenceSet], Iterable[dict[str, Any]]]


def cell(value: Any) -> Any:
    """One CSV cell, safe for any spreadsheet: plain numbers stay numbers, everything else is inert text."""
    value = plain(value)
    return for_spreadsheet(value) if isinstance(value, str) else value


def plain(value: Any) -> Any:
    """A cell's value before any sink's defence: a number, or displayable text cut to what a cell holds."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return round(value, 1)
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value)
    elif isinstance(value, dict):
        value = json.dumps(value, sort_keys=True, ensure_ascii=False)
    text = displayable(str(value))  # the XLSX is XML: no surrogates or non-characters
    if len(text) > MAX_CELL:
        text = text[: MAX_CELL - len(TRUNCATED)] + TRUNCATED
    return text


def moment(value: Any, kind: str) -> datetime | date | None:
    """A stored ISO timestamp as the naive UTC datetime (or date) a spreadsheet stores; ``None`` if it is not one.

    Excel and LibreOffice have no time zones, so every datetime is converted to
    UTC and the column's header names the zone.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        return value
    elif isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    if kind == "date" and "T" not in str(value) and parsed.time() == datetime.min.time():
        return parsed.date()
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _turn_rows(ev: EvidenceSet) -> Iterable[dict[str, Any]]:
    for run, turns in ev.iter_transcripts():
        for t in turns:
            yield dict(t, scenario_id=run["scenario_id"], system=run["system"], window=run["window"],
                       retry_count=len(t["retries"] or []),
                       error=(f"{t['error_type']}: {t['error_detail']}" if t["error_type"] else ""),
                       auto="; ".join(f"{v['detector'] or 'auto'}: {v['outcome']} - {v['reason']}"
                                      for v in t["auto_verdicts"]),
                       human="; ".join(f"{v['actor'] or 'tester'}: {v['outcome']} - {v['reason']}"
                                       for v in t["human_verdicts"]),
                       author=_author(t["request"]), judges=_judges(t["auto_verdicts"]))


def _author(request: Any) -> str:
    """Who wrote the prompt: the scenario, or the attacker model with its method and turn."""
    from app.provenance import written_by

    system = written_by(request)
    if not system:
        return "scenario"
    record = request.get("attacker") or {}
    return (f"attacker {system} ({record.get('method')}, turn {record.get('turn')} of {record.get('max_turns')}, "
            f"prompt {record.get('prompt_version')})")


def _judges(verdicts: list[dict[str, Any]]) -> str:
    """What each model judge said: its verdict (or why it gave none), its reason, and its prompt version."""
    from app.provenance import judge_grades

    return "; ".join(f"{g['system']}: {g['verdict'] or 'no verdict'} - {g['reason'] or g['error']} "
                     f"({g['prompt_sha256'][:12]})" for g in judge_grades(verdicts))


def _audit_rows(ev: EvidenceSet) -> Iterable[dict[str, Any]]:
    for event in ev.iter_audit_events():
        yield dict(event, payload=json.dumps(event["payload"], sort_keys=True, ensure_ascii=False))


C = Column
SHEETS: tuple[Sheet, ...] = (
    Sheet("test_plan", (
        C("Criterion / control id", "criterion", 14), C("Criterion name", "criterion_name", 28),
        C("Client control", "client_ref", 12), C("Control activity (client's wording)", "activity", 48),
        C("Scenarios mapped", "scenarios", 36), C("Scenarios run", "scenarios_run", 36), C("Runs", "runs", 8),
        C("Windows tested", "windows_tested", 16), C("Coverage", "coverage", 28)), tables.test_plan),
    Sheet("attack_coverage", (
        C("Taxonomy", "taxonomy", 30), C("Id", "id", 14), C("Name", "name", 32), C("Tactic", "tactic", 18),
        C("Scenarios", "scenarios", 40), C("Runs", "runs", 8), C("Pass", "pass", 8), C("Fail", "fail", 8),
        C("Review", "review", 8), C("Error", "error", 8), C("Open findings", "open_findings", 10),
        C("Result", "result", 40)), tables.attack_coverage),
    Sheet("sampling", (
        C("Test window", "window", 16), C("Start", "start", 12, "date"), C("End", "end", 12, "date"),
        C("Population (scheduled runs)", "population", 12), C("Sample tested (scheduled runs inside the window)",
                                                              "sampled", 12),
        C("Sample runs (inside the window, not re-tests)", "runs", 10), C("Status", "status", 28),
        C("Not counted (late, early or unplanned)", "not_counted", 28), C("Re-tests (remediation verification)",
                                                                          "retests", 20),
        C("Rationale", "rationale", 60), C("In this bundle", "in_bundle", 16)), tables.sampling_rows),
    Sheet("systems_as_tested", (
        C("System", "system", 16), C("Configuration SHA-256", "sha256", 66), C("Configuration as tested",
                                                                                "configuration", 60),
        C("Runs", "runs", 30), C("Run count", "count", 8), C("First run (UTC)", "first", 22, "datetime"),
        C("Last run (UTC)", "last", 22, "datetime"), C("Current configuration", "current", 18)), tables.system_configurations),
    Sheet("test_results", (
        C("Criterion / control id", "criterion", 14), C("Client control", "client_ref", 12),
        C("Control activity (client's wording)", "activity", 40), C("Test performed", "test_performed", 60),
        C("Result", "result", 48), C("Run", "run_id", 8), C("Scenario", "scenario_id", 24),
        C("System", "system", 16), C("Test window", "window", 12), C("Tested at (UTC)", "tested_at", 22, "datetime"),
        C("Run type", "run_type", 32), C("System configuration SHA-256", "system_sha256", 20),
        C("Dating flags", "dating_flags", 36), C("Run verdict", "verdict", 10)),
        tables.results_of_tests),
    Sheet("turn_results", (
        C("Run", "run_id", 8), C("Turn", "id", 8), C("Scenario", "scenario_id", 24), C("System", "system", 16),
        C("Test window", "window", 12), C("Step", "step", 6), C("Sample", "sample", 7), C("Kind", "kind", 10),
        C("Identity", "identity", 12), C("Status", "status", 10), C("Started (UTC)", "started_at", 22, "datetime"),
        C("TTFT ms", "ttft_ms", 9), C("Total ms", "total_ms", 9), C("Model", "model_id", 16),
        C("HTTP status", "http_status", 8), C("Error", "error", 24), C("Retries", "retry_count", 8),
        C("Automatic verdicts", "auto", 40), C("Human verdicts", "human", 40), C("Outcome", "outcome", 10),
        C("Model judges", "judges", 40), C("Prompt written by", "author", 24), C("Strategy", "strategy", 18),
        C("Prompt sent", "prompt", 60), C("Original prompt (before the strategy)", "original_prompt", 60),
        C("Response received", "response_text", 80)), _turn_rows),
    Sheet("findings", (
        C("Finding", "id", 8), C("Title", "title", 36), C("Status", "status", 12), C("Severity", "severity", 9),
        C("SOC 2 impact", "impact", 32), C("Controls", "controls_text", 20), C("ISO 42001", "iso42001", 28),
        C("NIST AI RMF", "nist_ai_rmf", 20), C("EU AI Act", "eu_ai_act", 28), C("Scenario", "scenario_id", 24),
        C("Run", "run_id", 8), C("Turn", "turn_id", 8), C("Evidence (quoted)", "quote", 48),
        C("Steps to reproduce", "steps_to_reproduce", 60), C("Exception type", "exception_type", 28),
        C("Open", "open", 6), C("Created (UTC)", "created_at", 22, "datetime"), C("Created by", "created_by", 14),
        C("Occurrences", "occurrences_text", 40), C("Regression of finding", "regression_of", 10),
        C("Risk acceptance", "risk_acceptance", 40), C("Priority", "priority", 12),
        C("Due date", "due_date", 12, "date"), C("Overdue", "overdue", 8), C("Attachments", "attachments_text", 48)),
        tables.findings_rows),
    Sheet("remediation_verification", (
        C("Finding", "finding_id", 8), C("Title", "finding_title", 36), C("Controls", "controls", 20),
        C("Original run", "original_run_id", 10), C("Before", "before", 9), C("Re-test run", "run_id", 10),
        C("Test window", "window", 12), C("Re-tested at (UTC)", "run_started_at", 22, "datetime"), C("After", "after", 9),
        C("Result", "result", 40)), lambda ev: ev.retests),
    Sheet("continuous_monitoring", (
        C("Criterion / control id", "criterion", 14), C("Criterion name", "criterion_name", 28),
        C("Test window", "window", 16), C("Runs", "runs", 8), C("Pass", "pass", 8), C("Fail", "fail", 8),
        C("Review", "review", 8), C("Error", "error", 8), C("Result", "result", 40)), tables.monitoring),
    Sheet("exception_log", (
        C("Exception", "exception", 12), C("Finding", "finding_id", 8), C("Title", "title", 36),
        C("Controls", "controls", 20), C("Exception type", "exception_type", 28), C("Severity", "severity", 9),
        C("Status", "status", 14), C("Observed (UTC)", "observed_at", 22, "datetime"), C("Run", "run_id", 8),
        C("Runs that showed it", "runs", 16), C("Occurrences", "occurrences", 40),
        C("Regression of finding", "regression_of", 10),
        C("Description", "description", 40), C("Management response", "response", 40), C("Cause", "cause", 30),
        C("Mitigating controls", "mitigating_controls", 30), C("Remediation", "remediation", 30),
        C("Owner", "owner", 14), C("Response date", "response_date", 12, "date"),
        C("Risk accepted by", "accepted_by", 16), C("Risk acceptance reason", "accepted_reason", 36),
        C("Priority", "priority", 12), C("Due date", "due_date", 12, "date"), C("Overdue", "overdue", 8)),
        tables.exception_log),
    Sheet("awaiting_triage", (
        C("Item", "item", 12), C("Finding", "finding_id", 8), C("Title", "title", 36), C("Controls", "controls", 20),
        C("Severity", "severity", 9), C("Status", "status", 18), C("Observed (UTC)", "observed_at", 22, "datetime"),
        C("Runs that showed it", "runs", 16), C("Occurrences", "occurrences", 40),
        C("Regression of finding", "regression_of", 10), C("Description", "description", 40)),
        tables.awaiting_triage),
    Sheet("audit_trail", (
        C("Seq", "seq", 6), C("At (UTC)", "at", 22, "datetime"), C("Actor", "actor", 14), C("Action", "action", 22),
        C("Entity", "entity", 16), C("Payload", "payload", 60), C("Previous hash", "prev_hash", 20),
        C("Hash", "hash", 20)), _audit_rows),
)


class SheetValues:
    """Each sheet's rows as cell values computed once, for its CSV and then its XLSX sheet.

    A value column holds :func:`plain`'s result; a date or datetime column
    keeps the value as given, since the XLSX parses it and the CSV shows it
    as text. A sheet's values are kept between its two writers when it has at
    most :data:`ROWS_KEPT` rows; a longer sheet is computed again for the second.
    """

    def __init__(self, ev: EvidenceSet) -> None:
        self.ev = ev
        self._kept: dict[str, list[list[Any]]] = {}

    def rows(self, sheet: Sheet) -> Iterator[list[Any]]:
        kept = self._kept.pop(sheet.name, None)
        if kept is not None:
            yield from kept
            return
        keep: list[list[Any]] | None = []
        plan = [(column.key, column.kind == "value") for column in sheet.columns]
        for row in sheet.rows(self.ev):
            values = [plain(row.get(key)) if as_value else row.get(key) for key, as_value in plan]
            if keep is not None:
                keep.append(values)
                if len(keep) > ROWS_KEPT:
                    keep = None
            yield values
        if keep is not None:
            self._kept[sheet.name] = keep


ROWS_KEPT = 50_000


def write_csv(sheet: Sheet, ev: EvidenceSet, out: SupportsWrite[str], values: SheetValues | None = None) -> int:
    """One sheet as UTF-8 CSV (with a BOM, so Excel reads the encoding right); returns the row count.

    ``values``: the cell values shared with :func:`write_xlsx`, computed here if not given.
    """
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([cell(c.header) for c in sheet.columns])
    count = 0
    as_value = [column.kind == "value" for column in sheet.columns]
    for row in (values or SheetValues(ev)).rows(sheet):
        # a value column already holds plain(); cell() would give the same, as plain() is idempotent
        writer.writerow([(for_spreadsheet(v) if isinstance(v, str) else v) if ready else cell(v)
                         for v, ready in zip(row, as_value, strict=True)])
        count += 1
    return count


def write_xlsx(ev: EvidenceSet, target: IO[bytes], timestamp: datetime, values: SheetValues | None = None) -> None:
    """Every sheet into one workbook written to ``target`` (seekable), streamed and byte-for-byte repeatable.

    Each sheet is ready to filter and print as it opens: an autofilter over
    its rows, the header row frozen and repeated on every printed page,
    landscape, one page wide. openpyxl would stamp the workbook with the
    current time; the document dates are set to ``timestamp`` (the evidence's
    own as-of time) and every zip entry gets a fixed date, so the same data
    always gives the same bytes. The rows are written by :mod:`app.evidence.xlsx`;
    ``values`` are the cell values shared with :func:`write_csv`.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    from app.evidence.xlsx import SheetRows, write_package

    wb = Workbook(write_only=True)
    naive = timestamp.replace(tzinfo=None)
    wb.properties.created = naive
    wb.properties.modified = naive
    wb.properties.creator = "redline"
    bold, top, wrap = Font(bold=True), Alignment(vertical="top"), Alignment(vertical="top", wrap_text=True)
    styles: dict[Any, str] = {}
    sheets = []
    for sheet in SHEETS:
        ws = wb.create_sheet(sheet.name)
        for index, column in enumerate(sheet.columns, start=1):
            ws.column_dimensions[get_column_letter(index)].width = column.width
        ws.freeze_panes = "A2"
        ws.print_title_rows = "1:1"
        ws.page_setup.orientation = "landscape"
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True

        def make_cell(key: Any, value: Any, ws: Any = ws) -> Any:
            column, wrapped, is_header = key[:3]
            return _xlsx_cell(ws, value, column, wrap if wrapped else top, bold if is_header else None)

        rows = SheetRows(ws, len(sheet.columns), make_cell, styles)
        sheets.append((ws, get_column_letter(len(sheet.columns)),
                       partial(_sheet_rows, sheet, values or SheetValues(ev), rows)))
    write_package(wb, target, sheets)


def _sheet_rows(sheet: Sheet, values: SheetValues, out: Any) -> Iterator[str]:
    """The header and every row of one sheet as ``<row>`` texts, each cell as :func:`_xlsx_cell` would make it."""
    headers = [Column(column.header, "", kind="value") for column in sheet.columns]
    yield out.row([_typed(column.header, header, True, True)
                   for column, header in zip(sheet.columns, headers, strict=True)])
    plan = [(column, column.width >= WRAP_WIDTH) for column in sheet.columns]
    for row in values.rows(sheet):
        yield out.row([_typed(value, column, wrapped, False, ready=column.kind == "value")
                       for value, (column, wrapped) in zip(row, plan, strict=True)])


def _typed(value: Any, column: Column, wrapped: bool, is_header: bool,
           ready: bool = False) -> tuple[Any, Any, Any]:
    """(the value a cell shows, its style key, the value as given): the same decisions as :func:`_xlsx_cell`.

    ``ready``: ``value`` is already :func:`plain`'s result (see :class:`SheetValues`).
    """
    when = moment(value, column.kind) if column.kind in ("datetime", "date") else None
    if when is not None:
        return when, (column, wrapped, is_header, "datetime" if isinstance(when, datetime) else "date"), value
    shown = value if ready else plain(value)
    if isinstance(shown, str):
        return shown, (column, wrapped, is_header, "text", starts_like_formula(shown)), value
    return shown, (column, wrapped, is_header, "number"), value


def _xlsx_cell(ws: Any, value: Any, column: Column, alignment: Any, font: Any = None) -> Any:
    """One typed XLSX cell: a UTC datetime or date, a number, or a string that no spreadsheet evaluates."""
    from openpyxl.cell import WriteOnlyCell

    when = moment(value, column.kind) if column.kind in ("datetime", "date") else None
    if when is not None:
        c = WriteOnlyCell(ws, value=when)
        c.number_format = DATETIME_FORMAT if isinstance(when, datetime) else DATE_FORMAT
    else:
        shown = plain(value)
        c = WriteOnlyCell(ws, value=shown)
        if isinstance(shown, str):
            c.data_type = "s"  # never "f": the value is stored as the text it is
            c.quotePrefix = starts_like_formula(shown)  # Excel's own "typed as text" mark, not a character
    c.alignment = alignment
    if font is not None:
        c.font = font
    return c
