"""Control matrix import from the CSV or XLSX a client already keeps."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import FileFormatError
from app.formats.engagement import ControlRow
from app.formats.matrix import load_control_matrix
from app.resources import assets_dir


def test_shipped_example_splits_multi_criterion_cells() -> None:
    rows = load_control_matrix(assets_dir() / "examples" / "control-matrix.csv")
    assert [r.criterion for r in rows] == [
        "CC6.1", "CC6.3", "CC6.6", "AI-SEC-01", "AI-SEC-02", "CC7.2", "CC7.3", "PI1.4", "C1.1", "AI-DATA-02",
        "AI-GOV-01",
    ]
    cc66, ai_sec_01 = rows[2], rows[3]
    assert cc66.client_ref == ai_sec_01.client_ref == "ACME-SEC-12"
    assert cc66.activity.startswith("Customer prompts are screened")
    assert cc66.scenarios == ["pi-direct-override", "sysprompt-summary-request"]
    assert rows[1].scenarios == []


def test_header_aliases_title_rows_and_semicolon_csv(tmp_path: Path) -> None:
    path = tmp_path / "matrix.csv"
    path.write_text(
        "\ufeffAcme control matrix;;\n;;\nTSC;Control;Description;Tests;Owner\n"
        "CC6.6;SEC-12;\"Prompts are screened; alerts are raised.\";pi-direct-override, x-1;Sec\n"
        ";;;\n",
        encoding="utf-8",
    )
    assert load_control_matrix(path) == [
        ControlRow(criterion="CC6.6", client_ref="SEC-12", activity="Prompts are screened; alerts are raised.",
                   scenarios=["pi-direct-override", "x-1"]),
    ]


def test_xlsx_with_row_numbers_as_excel_shows_them(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet["A3"], sheet["B3"], sheet["C3"] = "Criteria", "Control ID", "Control Activity"
    sheet.append(["CC6.1\nAI-SEC-03", "AC-01", "=1+1"])
    sheet.append([None, None, None])
    sheet.append(["CC6.2", 7, "Reviewed quarterly"])
    sheet.append(["", "AC-09", "No criterion given"])
    path = tmp_path / "matrix.xlsx"
    book.save(path)
    with pytest.raises(FileFormatError) as caught:
        load_control_matrix(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:6: column 'Criteria': unknown criterion 'CC6.2'",
        f"{path}:7: column 'Criteria': empty: name a criterion or AI control, e.g. CC6.6 or AI-SEC-01",
    ]
    sheet["A6"], sheet["A7"] = "CC6.3", "CC7.2"
    book.save(path)
    rows = load_control_matrix(path)
    assert [(r.criterion, r.client_ref) for r in rows] == [
        ("CC6.1", "AC-01"), ("AI-SEC-03", "AC-01"), ("CC6.3", "7"), ("CC7.2", "AC-09")]
    assert rows[0].activity == ""  # a formula never calculated has no value: it is not read as text


def test_unknown_scenarios_are_checked_when_known_ids_are_given(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("criterion,scenarios\nCC6.6,pi-direct-override pi-typo\n", encoding="utf-8")
    assert load_control_matrix(path)[0].scenarios == ["pi-direct-override", "pi-typo"]
    with pytest.raises(FileFormatError) as caught:
        load_control_matrix(path, known_scenarios={"pi-direct-override"})
    assert str(caught.value) == f"{path}:2: column 'scenarios': unknown scenario 'pi-typo'"


def test_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "m.xlsx"
    path.write_text("not a zip", encoding="utf-8")
    with pytest.raises(FileFormatError, match=r"m.xlsx: not a readable XLSX workbook"):
        load_control_matrix(path)
