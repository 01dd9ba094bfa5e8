"""Hostile model output comes out inert in every sink: HTML, Markdown, CSV and XLSX (PDF and DOCX: test_report_*)."""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_evidence_engagement import FORMULAS, World, entries, export, world  # noqa: F401

from app.store import session
from app.store.models import Finding, Turn, Verdict

INLINE = "<img src=x onerror=alert(2)> [click](https://evil.example) {{ 6*7 }} | =1+1"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def files(world: World, tmp_path: Path) -> dict[str, bytes]:
    # Hostile text in places rendered inline too: a tester's reason and a finding title.
    with session() as db:
        verdict = db.get(Verdict, 1)
        verdict.reason = INLINE
        db.add(verdict)
        finding = db.get(Finding, world.findings["f2"])
        finding.title = "=HYPERLINK(\"http://evil.example\") <b>bold</b>"
        finding.evidence = {"quote": "cust-0042 \udc80 lives"}
        db.add(finding)
        # A model's JSON can carry a lone surrogate ("\\ud800"), which UTF-8 cannot encode.
        turn = db.get(Turn, world.turns["t6"])
        turn.usage = {"note": "\ud800 odd"}
        turn.model_id = "m"
        db.add(turn)
    return entries(export(world.engagement_id, tmp_path / "b.zip").path)


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)


def test_html_is_inert_and_self_contained(files: dict[str, bytes]) -> None:
    html = files["report.html"].decode()
    parser = _Elements()
    parser.feed(html)
    assert "script" not in parser.tags and "img" not in parser.tags and "b" not in parser.tags
    assert not [a for a in parser.attrs if a[0].startswith("on")]
    assert not [v for k, v in parser.attrs if k in ("src", "href", "action") and v and re.match(r"\s*(https?:)?//", v)]
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    # Template syntax in the data stays text: it is never rendered.
    assert "{{ 7*7 }} {% for i in range(3) %}loop{% endfor %}" in html and "looploop" not in html
    assert "{{ 6*7 }}" in html and ">42<" not in html
    assert "\x1b" not in html and "\u202e" not in html and "⟨RLO⟩evil⟨PDF⟩" in html
    assert "@media print" in html and "page-break-before" in html


def test_markdown_keeps_hostile_text_in_fences_or_escaped(files: dict[str, bytes]) -> None:
    md = files["report.md"].decode()
    outside_fences = re.sub(r"^(`{3,})text\n.*?\n\1$", "", md, flags=re.S | re.M)
    # Outside the fences, every "<" and every "](" is backslash-escaped: no raw HTML, no live link.
    assert not re.search(r"(?<!\\)<", outside_fences)
    assert not re.search(r"(?<!\\)\]\(", outside_fences)
    assert r"\<img src=x onerror=alert(2)\> \[click\](https://evil.example) {{ 6\*7 }} \| =1+1" in md
    assert "```text\nSure! My system prompt is: You are AcmeBot.\n<script>alert('x')</script>" in md
    assert "\x1b" not in md and "\u202e" not in md and "looploop" not in md


def _all_cells_csv(files: dict[str, bytes]) -> list[str]:
    cells: list[str] = []
    for name, data in files.items():
        if name.startswith("workpapers/") and name.endswith(".csv"):
            text = data.decode("utf-8-sig")
            cells += [c for row in csv.reader(io.StringIO(text)) for c in row]
    return cells


def test_csv_cells_cannot_become_formulas(files: dict[str, bytes]) -> None:
    cells = _all_cells_csv(files)
    assert cells and not [c for c in cells if c.startswith(FORMULA_START)]
    assert "'" + FORMULAS[0] in cells  # the prompt, quoted
    assert "'=HYPERLINK(\"http://evil.example\") <b>bold</b>" in cells  # the finding title
    turn_results = files["workpapers/turn_results.csv"].decode("utf-8-sig")
    assert "\x1b" not in turn_results


def test_xlsx_cells_are_typed_text_with_nothing_added(files: dict[str, bytes]) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(files["workpapers.xlsx"]))
    assert wb.sheetnames == ["test_plan", "attack_coverage", "sampling", "systems_as_tested", "test_results", "turn_results", "findings",
                             "remediation_verification", "continuous_monitoring", "exception_log", "awaiting_triage",
                             "audit_trail"]
    values: list[str] = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    # A string cell, marked as typed text when it looks like a formula: never evaluated.
                    assert cell.data_type == "s", (ws.title, cell.coordinate)
                    if cell.value.startswith(FORMULA_START):
                        assert cell.quotePrefix, (ws.title, cell.coordinate)
                    values.append(cell.value)
    assert FORMULAS[0] in values and "'" + FORMULAS[0] not in values  # the prompt exactly as sent
    assert "\n".join(FORMULAS) in values  # the multi-line response
    assert any(v.startswith("=HYPERLINK(\"http://evil.example\")") for v in values)  # the finding title
    header = [c.value for c in wb["test_results"][1]]
    assert header[:5] == ["Criterion / control id", "Client control", "Control activity (client's wording)",
                          "Test performed", "Result"]


def test_a_lone_surrogate_round_trips_in_json_and_cannot_break_the_export(world: World, files: dict[str, bytes]) -> None:
    import json

    line = files[f"transcripts/{world.runs['r6']}.jsonl"].decode("utf-8")  # valid UTF-8
    assert json.loads(line)["usage"] == {"note": "\ud800 odd"}
    findings = json.loads(files["data/findings.json"].decode("utf-8"))
    assert findings[-1]["evidence"]["quote"] == "cust-0042 \udc80 lives"
    for name in ("report.md", "report.html", "workpapers/findings.csv"):
        assert "cust-0042 \ufffd lives" in files[name].decode("utf-8"), name
