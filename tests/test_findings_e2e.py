"""Findings follow the rules end to end, against the demo AI system, through the CLI and the evidence bundle.

Duplicate failing runs make one finding with two occurrences; a manual pass of a failed re-test is refused;
a closed finding that fails again comes back as a regression; a classification made on the command line is
in the exception log. (The cockpit's side of the same rules: tests/screens/test_findings_screen.py.)
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from app.cli import main
from app.findings import FindingStateError, transition
from app.store import session
from app.store.models import Finding
from tests.test_lifecycle_support import demo, make_engagement  # noqa: F401


def _json(capsys: Any, *argv: str) -> Any:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def _csv(files: dict[str, bytes], name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(files[f"workpapers/{name}.csv"].decode("utf-8-sig"))))


@pytest.mark.usefixtures("store_backend")
def test_findings_follow_the_rules_end_to_end(demo: Any, capsys: Any, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    make_engagement(demo.base_url, scenarios=("api-unauthenticated-chat",), criterion="CC6.1")
    assert main(["run", "acme"]) == 1
    assert main(["run", "acme"]) == 1  # the same weakness, failing again
    [finding] = _json(capsys, "findings", "acme", "--json")
    assert finding["title"] == "Chat request without credentials is answered"  # what went wrong
    assert [(o["run"], o["first"]) for o in finding["occurrences"]] == [(1, True), (2, False)]

    assert main(["findings", "acme", "confirm", "1", "--reason", "reproduced twice"]) == 0
    assert main(["retest", "acme", "--no-probe"]) == 1  # still unauthenticated: the re-test fails
    with session() as db, pytest.raises(FindingStateError, match="only a re-test run can set retest_passed"):
        transition(db, db.get(Finding, 1), "retest_passed", reason="manual")
    capsys.readouterr()
    assert main(["findings", "acme", "close", "1", "--reason", "manual"]) == 2
    assert "cannot move to closed" in capsys.readouterr().err
    assert main(["findings", "acme", "classify", "1", "--type", "design", "--reason", "no auth on the route"]) == 0

    demo.hardened = True
    assert main(["retest", "acme", "--no-probe"]) == 0
    assert main(["findings", "acme", "close", "1", "--reason", "fix verified by re-test run 4"]) == 0
    demo.hardened = False
    assert main(["run", "acme"]) == 1  # the fix did not hold
    listed = _json(capsys, "findings", "acme", "--json")
    assert [(f["id"], f["status"], f["regression_of"]) for f in listed] == [(1, "closed", None), (2, "draft", 1)]
    assert [o["run"] for o in listed[1]["occurrences"]] == [5]

    out = tmp_path / "bundle.zip"
    assert main(["export", "acme", "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as archive:
        files = {n: archive.read(n) for n in archive.namelist()}
    [exception] = _csv(files, "exception_log")
    assert (exception["Exception"], exception["Exception type"], exception["Status"]) == ("finding 1", "Design", "closed")
    assert (exception["Runs that showed it"], exception["Occurrences"].split(":")[0]) == ("1, 2", "Seen in 2 runs")
    [waiting] = _csv(files, "awaiting_triage")
    assert (waiting["Item"], waiting["Regression of finding"]) == ("finding 2", "1")
    results = {r["Run"]: r["Result"] for r in _csv(files, "test_results")}
    assert results["2"].startswith("Exception noted: finding 1 ")  # the repeat run names its finding
    data = {f["id"]: f for f in json.loads(files["data/findings.json"])}
    assert [o["run"] for o in data[1]["occurrences"]] == [1, 2] and data[1]["regressions"] == [2]
    sheet = list(load_workbook(io.BytesIO(files["workpapers.xlsx"]))["findings"].iter_rows(values_only=True))
    occurrences = sheet[0].index("Occurrences")
    assert [row[occurrences].split(":")[0] for row in sheet[1:]] == ["Seen in 2 runs", "Seen once"]
    report = files["report.md"].decode()
    assert "Regression: the weakness of finding 1 came back" in report
    assert "1 exception noted: 1 design." in report
