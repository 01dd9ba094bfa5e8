"""The XLSX workpaper is typed the way an auditor pastes it: real UTC datetimes, numbers, inert text, print-ready.

The CSV stays formula-neutralised with a leading quote (a spreadsheet reads CSV
cells with no types); the XLSX needs no added character, because its cells
carry their type.
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import pytest
from test_evidence_engagement import FORMULAS, HOSTILE, World, entries, export, world  # noqa: F401


@pytest.fixture
def workbook(world: World, tmp_path: Path) -> object:
    from openpyxl import load_workbook

    return load_workbook(io.BytesIO(entries(export(world.engagement_id, tmp_path / "b.zip").path)["workpapers.xlsx"]))


def _column(ws: object, header: str) -> list[object]:
    headers = [c.value for c in ws[1]]  # type: ignore[index]
    index = headers.index(header)
    return [row[index] for row in ws.iter_rows(min_row=2)]  # type: ignore[attr-defined]


def test_timestamps_are_real_utc_datetimes_named_in_the_header(workbook: object, world: World) -> None:
    ws = workbook["turn_results"]  # type: ignore[index]
    started = _column(ws, "Started (UTC)")
    assert started and all(isinstance(c.value, datetime) and c.is_date for c in started)
    assert started[0].value.tzinfo is None and started[0].value.year == 2025  # Excel has no zones: UTC, as the header says
    results = workbook["test_results"]  # type: ignore[index]
    assert all(isinstance(c.value, datetime) for c in _column(results, "Tested at (UTC)"))
    for ws in workbook.worksheets:  # type: ignore[attr-defined]
        for header in (c.value for c in ws[1]):
            if header and any(word in header for word in ("(UTC)",)):
                values = [c.value for c in _column(ws, header) if c.value not in (None, "")]
                assert all(isinstance(v, datetime) for v in values), (ws.title, header, values[:3])
    audit = workbook["audit_trail"]  # type: ignore[index]
    assert all(isinstance(c.value, datetime) for c in _column(audit, "At (UTC)"))


def test_counts_rates_and_milliseconds_are_numbers(workbook: object) -> None:
    turns = workbook["turn_results"]  # type: ignore[index]
    total = [c.value for c in _column(turns, "Total ms") if c.value not in (None, "")]
    assert total and all(isinstance(v, (int, float)) for v in total)
    assert all(isinstance(c.value, int) for c in _column(turns, "Turn"))
    monitoring = workbook["continuous_monitoring"]  # type: ignore[index]
    assert all(isinstance(c.value, int) for c in _column(monitoring, "Runs"))


def test_hostile_text_is_typed_as_text_without_an_added_apostrophe(workbook: object) -> None:
    turns = workbook["turn_results"]  # type: ignore[index]
    prompts = {c.value: c for c in _column(turns, "Prompt sent")}
    cell = prompts[FORMULAS[0]]  # exactly what was sent: no leading quote added
    assert cell.data_type == "s" and cell.quotePrefix  # a string, shown as typed text by Excel and LibreOffice
    responses = [c.value for c in _column(turns, "Response received")]
    assert "\n".join(FORMULAS) in responses
    for ws in workbook.worksheets:  # type: ignore[attr-defined]
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", (ws.title, c.coordinate)
                if isinstance(c.value, str):
                    assert not c.value.startswith("'="), (ws.title, c.coordinate)
                    assert "\x1b" not in c.value


def test_every_sheet_filters_freezes_wraps_and_prints_landscape_to_width(workbook: object) -> None:
    for ws in workbook.worksheets:  # type: ignore[attr-defined]
        last = ws.max_column
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:"), ws.title
        assert ws.freeze_panes == "A2", ws.title
        assert ws.print_title_rows == "$1:$1", ws.title
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth == 1, ws.title
        assert ws.page_setup.fitToHeight == 0, ws.title  # as many pages down as it takes, one page across
        assert last >= 2
    turns = workbook["turn_results"]  # type: ignore[index]
    response = _column(turns, "Response received")[0]
    assert response.alignment.wrap_text and response.alignment.vertical == "top"
    assert HOSTILE.split("\n")[0] in [c.value for c in _column(turns, "Response received")][0]
