"""The workpapers' row writer gives the bytes openpyxl's own write-only writer gives, for every kind of cell."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from app.evidence import workpapers
from app.evidence.workpapers import WRAP_WIDTH, Column, Sheet, _xlsx_cell
from app.evidence.xlsx import SheetRows, write_package

COLUMNS = (Column("Text", "text", 40), Column("Short", "short", 8), Column("At (UTC)", "at", 22, "datetime"),
           Column("Day", "day", 12, "date"), Column("Number", "number", 9))
VALUES: list[Any] = [
    "plain", "", " leading", "trailing ", "\u00a0nbsp", "é ü 中文 😀", "a&b<c>d\"e'f", "x\r\ny\tz", "=1+1",
    '=HYPERLINK("http://evil.example","x")', "+cmd", "@SUM(1)", "-2+3", "\x1b[31mred\x1b[0m \u202eevil",
    "\ud800 lone", "\ufffe", "x" * 40_000, None, True, False, 0, -3, 10**17, 2**63, 1.25, 0.1 + 0.2, float("nan"),
    float("inf"), ["a", "b"], {"k": [1, 2]}, datetime(2025, 2, 12, 10, 5, 7, 123456, tzinfo=UTC),
    datetime(2025, 2, 12, 10, tzinfo=timezone(timedelta(hours=-5))), datetime(2025, 2, 12, 10), date(2025, 3, 1),
    "2025-02-12T10:05:07.123456+00:00", "2025-03-01", "not a date", "2025-13-45",
]


def rows() -> list[dict[str, Any]]:
    """Every value in every column, so each cell kind meets each column kind."""
    out = []
    for offset in range(len(VALUES)):
        out.append({c.key: VALUES[(offset + i) % len(VALUES)] for i, c in enumerate(COLUMNS)})
    return out


def openpyxl_package() -> dict[str, bytes]:
    """The workbook as openpyxl alone writes it: a cell object per value, appended row by row."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.writer.excel import ExcelWriter

    wb = Workbook(write_only=True)
    bold, top, wrap = Font(bold=True), Alignment(vertical="top"), Alignment(vertical="top", wrap_text=True)
    for name in ("first", "second"):
        ws = wb.create_sheet(name)
        ws.append([_xlsx_cell(ws, c.header, Column(c.header, "", kind="value"), wrap, bold) for c in COLUMNS])
        count = 0
        for row in rows():
            ws.append([_xlsx_cell(ws, row[c.key], c, wrap if c.width >= WRAP_WIDTH else top) for c in COLUMNS])
            count += 1
        ws.auto_filter.ref = f"A1:E{count + 1}"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        ExcelWriter(wb, archive).write_data()
    with zipfile.ZipFile(buffer) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def redline_package() -> tuple[dict[str, bytes], list[zipfile.ZipInfo]]:
    from functools import partial

    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook(write_only=True)
    bold, top, wrap = Font(bold=True), Alignment(vertical="top"), Alignment(vertical="top", wrap_text=True)
    styles: dict[Any, str] = {}
    sheet = Sheet("x", COLUMNS, lambda ev: rows())
    sheets = []
    for name in ("first", "second"):
        ws = wb.create_sheet(name)

        def make_cell(key: Any, value: Any, ws: Any = ws) -> Any:
            return _xlsx_cell(ws, value, key[0], wrap if key[1] else top, bold if key[2] else None)

        out = SheetRows(ws, len(COLUMNS), make_cell, styles)
        values = workpapers.SheetValues(None)  # type: ignore[arg-type]  # the sheet's rows need no evidence
        sheets.append((ws, "E", partial(workpapers._sheet_rows, sheet, values, out)))
    buffer = io.BytesIO()
    write_package(wb, buffer, sheets)
    with zipfile.ZipFile(buffer) as archive:
        return {name: archive.read(name) for name in archive.namelist()}, archive.infolist()


def test_every_part_of_the_package_matches_openpyxl_byte_for_byte() -> None:
    expected = openpyxl_package()
    found, infos = redline_package()
    assert list(found) == list(expected)
    assert b"&#20013;" in found["xl/worksheets/sheet1.xml"]  # written as openpyxl does: ASCII and references
    for name in expected:
        assert found[name] == expected[name], name
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr for i in infos} == {0o644 << 16}


def test_the_package_reads_back_with_openpyxl() -> None:
    from openpyxl import load_workbook

    found, _ = redline_package()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in found.items():
            archive.writestr(name, data)
    wb = load_workbook(buffer)
    ws = wb["first"]
    assert ws.auto_filter.ref == f"A1:E{len(VALUES) + 1}"
    assert [c.value for c in ws[1]] == [c.header for c in COLUMNS]
    assert ws["A2"].value == "plain" and ws["A7"].value == "é ü 中文 😀" and ws["A10"].value == "=1+1"
    assert ws["A10"].data_type == "s" and ws["A10"].quotePrefix  # a formula stays text
