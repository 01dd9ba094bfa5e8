"""The client's control matrix, from the CSV or XLSX they already keep.

Clients name their columns in their own way, so headers are matched without
regard to case, with a few common aliases, and columns Redline does not use
(owner, frequency, ...) are ignored. A header row may sit below a title row.
A cell may list several criteria (``CC6.6; AI-SEC-01``): each becomes its own
row, because the evidence is organised by criterion. Errors name the file, the
spreadsheet row and the column as the client wrote it.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from app.errors import FileFormatError, Problem
from app.formats.engagement import ControlRow

HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "criterion": ("criterion", "criteria", "tsc"),
    "client_ref": ("client_ref", "control id", "control"),
    "activity": ("activity", "control activity", "description"),
    "scenarios": ("scenarios", "tests"),
}
HEADER_SEARCH_ROWS = 20  # how far down a title block may push the header row
_SPLIT_CRITERIA = re.compile(r"[;,\n]+")
_SPLIT_SCENARIOS = re.compile(r"[;,\s]+")


def load_control_matrix(path: Path, *, catalog: Any = None,
                        known_scenarios: Iterable[str] | None = None) -> list[ControlRow]:
    """One :class:`ControlRow` per (matrix row, criterion); every problem raised together.

    Criteria must exist in the catalog. When ``known_scenarios`` is given, the
    scenario ids a row names must be among them.
    """
    path = Path(path)
    rows = list(_rows(path))
    header_at, columns = _find_header(rows)
    if header_at is None:
        names = ", ".join(f"'{a}'" for a in HEADER_ALIASES["criterion"])
        raise FileFormatError([Problem(str(path), 1, None, "", f"no criterion column found (a header named {names})")])
    if catalog is None:
        from app.catalog import load_catalog

        catalog = load_catalog()
    known_ids = set(catalog.ids())
    scenarios_known = set(known_scenarios) if known_scenarios is not None else None
    header = rows[header_at][1]
    out: list[ControlRow] = []
    problems: list[Problem] = []
    for number, cells in rows[header_at + 1:]:
        values = {key: _cell(cells, index) for key, index in columns.items()}
        if not any(_cell(cells, i) for i in range(len(cells))):
            continue  # blank spacer rows are common in hand-kept matrices

        def problem(key: str, message: str, number: int = number) -> None:
            problems.append(Problem(str(path), number, None, _cell(header, columns[key]), message, kind="column"))

        criteria = [c.strip() for c in _SPLIT_CRITERIA.split(values["criterion"]) if c.strip()]
        if not criteria:
            problem("criterion", "empty: name a criterion or AI control, e.g. CC6.6 or AI-SEC-01")
            continue
        scenarios = [s for s in _SPLIT_SCENARIOS.split(values.get("scenarios", "")) if s]
        bad = False
        for criterion in criteria:
            if criterion not in known_ids:
                problem("criterion", f"unknown criterion '{criterion}'")
                bad = True
        if scenarios_known is not None:
            for scenario in scenarios:
                if scenario not in scenarios_known:
                    problem("scenarios", f"unknown scenario '{scenario}'")
                    bad = True
        if bad:
            continue
        for criterion in criteria:
            out.append(ControlRow(criterion=criterion, client_ref=values.get("client_ref", ""),
                                  activity=values.get("activity", ""), scenarios=list(scenarios)))
    if problems:
        raise FileFormatError(problems)
    return out


def _cell(cells: list[str], index: int) -> str:
    return cells[index] if index < len(cells) else ""


def _find_header(rows: list[tuple[int, list[str]]]) -> tuple[int | None, dict[str, int]]:
    """The first row (within the first few) naming a criterion column, and where each known column is."""
    lookup = {alias: key for key, aliases in HEADER_ALIASES.items() for alias in aliases}
    for position, (_number, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        columns: dict[str, int] = {}
        for index, cell in enumerate(cells):
            key = lookup.get(" ".join(cell.replace("_", " ").split()).lower()) or lookup.get(cell.strip().lower())
            if key is not None and key not in columns:
                columns[key] = index
        if "criterion" in columns:
            return position, columns
    return None, {}


def _rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(spreadsheet row number, cell texts) for every row of the file."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        yield from _xlsx_rows(path)
    else:
        yield from _csv_rows(path)


def _csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")  # Excel writes a BOM
    except FileNotFoundError:
        raise FileFormatError([Problem(str(path), None, None, "", "no such file")]) from None
    except UnicodeDecodeError as exc:
        raise FileFormatError([Problem(str(path), None, None, "", f"is not UTF-8 text (byte {exc.start})")]) from None
    first = text.split("\n", 1)[0]
    # Excel in many locales writes ';'-separated "CSV".
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(text.splitlines(keepends=True), delimiter=delimiter)
    number = 0  # records, not lines: a quoted cell may span lines but is one spreadsheet row
    try:
        for number, cells in enumerate(reader, start=1):
            yield number, [c.strip() for c in cells]
    except csv.Error as exc:
        raise FileFormatError([Problem(str(path), number + 1, None, "", f"invalid CSV: {exc}")]) from None


def _xlsx_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise FileFormatError([Problem(str(path), None, None, "", "no such file")]) from None
    except (InvalidFileException, BadZipFile, OSError, KeyError, ValueError) as exc:
        raise FileFormatError([Problem(str(path), None, None, "", f"not a readable XLSX workbook ({exc})")]) from None
    try:
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [_text(v) for v in values]
    finally:
        workbook.close()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
