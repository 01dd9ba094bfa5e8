"""Exceptions are triaged and classified: drafts wait apart; the type is set and audited; acceptances carry through."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from app.cli import main
from tests.test_lifecycle_support import demo, events, make_engagement, run  # noqa: F401


def _bundle(tmp_path: Path, name: str) -> dict[str, bytes]:
    out = tmp_path / f"{name}.zip"
    assert main(["export", "acme", "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as archive:
        return {n: archive.read(n) for n in archive.namelist()}


def _csv(files: dict[str, bytes], name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(files[f"workpapers/{name}.csv"].decode("utf-8-sig"))))


def _sheet(files: dict[str, bytes], name: str) -> list[dict[str, Any]]:
    from openpyxl import load_workbook

    rows = list(load_workbook(io.BytesIO(files["workpapers.xlsx"]))[name].iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_drafts_await_triage_apart_and_classification_and_acceptance_reach_every_export(
        demo: Any, tmp_path: Path, capsys: Any) -> None:
    make_engagement(demo.base_url, scenarios=("pi-direct-override", "sysprompt-summary-request"))
    run(1)
    drafts = _bundle(tmp_path, "drafts")
    assert _csv(drafts, "exception_log") == []  # an untriaged draft is no exception
    assert [(r["Item"], r["Status"]) for r in _csv(drafts, "awaiting_triage")] == [
        ("finding 1", "draft"), ("finding 2", "draft")]
    report = drafts["report.md"].decode()
    assert "No exceptions noted." in report.split("## 7. Exception log")[1]
    assert "2 draft findings await triage; they are not exceptions until a tester confirms them." in report

    assert main(["findings", "acme", "confirm", "1", "2", "--reason", "reproduced"]) == 0
    assert main(["findings", "acme", "classify", "1", "--type", "design", "--reason",
                 "no input screening exists at all", "--by", "ana"]) == 0
    assert "finding 1: exception type not classified → design" in capsys.readouterr().out
    assert main(["findings", "acme", "classify", "1", "--type", "design", "--reason", "again"]) == 2
    assert "already classified as design" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["findings", "acme", "classify", "1", "--type", "cosmetic", "--reason", "x"])
    assert main(["findings", "acme", "accept", "2", "--reason", "compensating monitoring of summaries",
                 "--approver", "Dana (CISO)"]) == 0
    [edit] = events(1, "finding.edited")
    assert (edit.actor, edit.payload["changes"], edit.payload["reason"]) == (
        "ana", {"exception_kind": {"from": "", "to": "design"}}, "no input screening exists at all")

    triaged = _bundle(tmp_path, "triaged")
    log = {r["Exception"]: r for r in _csv(triaged, "exception_log")}
    assert set(log) == {"finding 1", "finding 2"} and _csv(triaged, "awaiting_triage") == []
    assert log["finding 1"]["Exception type"] == "Design"
    assert log["finding 2"]["Exception type"].startswith("Operating effectiveness (default for Type II; not classified")
    assert (log["finding 2"]["Risk accepted by"], log["finding 2"]["Risk acceptance reason"]) == (
        "Dana (CISO)", "compensating monitoring of summaries")
    assert log["finding 1"]["Risk accepted by"] == ""
    sheet = {r["Exception"]: r for r in _sheet(triaged, "exception_log")}
    assert (sheet["finding 2"]["Risk accepted by"], sheet["finding 1"]["Exception type"]) == ("Dana (CISO)", "Design")
    report = triaged["report.md"].decode()
    section = report.split("## 7. Exception log")[1]
    assert ("2 exceptions noted: 1 design, 1 operating effectiveness. 1 is not classified yet (shown with the "
            "default type). Management accepted the risk of 1.") in section
    assert "No failure awaits triage." in section and "Dana (CISO)" in section
    assert "Risk accepted by Dana (CISO): compensating monitoring of summaries." in report.split("## 4. Findings")[1]
    html = triaged["report.html"].decode()
    assert "Dana (CISO)" in html.split('id="exceptions"')[1]
    findings = {f["id"]: f for f in json.loads(triaged["data/findings.json"])}
    assert (findings[1]["exception_kind"], findings[2]["accepted_by"]) == ("design", "Dana (CISO)")


def test_a_dismissed_finding_cannot_be_classified(demo: Any, capsys: Any) -> None:
    make_engagement(demo.base_url)
    run(1)
    assert main(["findings", "acme", "dismiss", "1", "--reason", "false positive"]) == 0
    assert main(["findings", "acme", "classify", "1", "--type", "operating", "--reason", "x"]) == 2
    assert "no exception to classify" in capsys.readouterr().err


def test_exception_and_triage_sentences_are_computed_from_their_rows() -> None:
    from app.evidence import wording
    from app.lifecycle import EXCEPTION_KINDS

    assert set(wording.EXCEPTION_KINDS) == set(EXCEPTION_KINDS)
    assert wording.exception_summary([]) == "No exceptions noted."
    row = {"exception": "finding 4", "exception_kind": "system_description", "classified": True,
           "risk_acceptance": ""}
    both = [row, dict(row)]  # two management responses: still one exception
    assert wording.exception_summary(both) == "1 exception noted: 1 system description."
    accepted = dict(row, exception="finding 5", exception_kind="operating", classified=False,
                    risk_acceptance="Risk accepted by Dana: monitored.")
    assert wording.exception_summary([row, accepted]) == (
        "2 exceptions noted: 1 operating effectiveness, 1 system description. 1 is not classified yet (shown with "
        "the default type). Management accepted the risk of 1.")
    assert wording.triage_summary([]) == "No failure awaits triage."
    assert wording.triage_summary([{"finding_id": None}]) == (
        "1 failed run with no finding awaits triage; they are not exceptions until a tester confirms them.")
    assert wording.occurrences_text([]) == "No run in this bundle."
    assert wording.occurrences_text([{"run": 3, "started_at": "2026-01-02T10:00:00"}, {"run": 9}]) == (
        "Seen in 2 runs: run 3 (2026-01-02), run 9.")
    assert wording.risk_acceptance({"status": "open", "accepted_by": "Dana"}) == ""  # reopened: no longer accepted
