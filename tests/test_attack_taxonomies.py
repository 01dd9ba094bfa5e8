"""OWASP Top 10 for LLM Applications (2025) and MITRE ATLAS beside the SOC 2 controls: in the catalog, on every
scenario, and read back from the same runs by the CLI, the report, the workpapers and OSCAL."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest

from app.cli import main


def test_the_catalog_holds_both_taxonomies_and_every_scenario_cites_them() -> None:
    from app.catalog import load_catalog
    from app.library import load_library

    catalog = load_catalog()
    assert list(catalog.taxonomy("owasp")) == [f"LLM{n:02d}" for n in range(1, 11)]
    atlas = catalog.taxonomy("atlas")
    assert "AML.T0051.000" in atlas and atlas["AML.T0051.000"].parent == "AML.T0051"
    assert all(row.parent in atlas for row in atlas.values() if row.parent)
    library = load_library()
    cited: set[str] = set()
    for scenario in library.all():
        spec = scenario.spec if hasattr(scenario, "spec") else scenario
        assert spec.owasp and spec.atlas, spec.id
        assert set(spec.owasp) <= set(catalog.taxonomy("owasp")) and set(spec.atlas) <= set(atlas), spec.id
        cited.update(spec.owasp)
    assert len(cited) >= 9  # the library reaches nearly every OWASP LLM risk


def test_an_unknown_id_names_the_file_line_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("id: bad-tax\ntitle: The thing is answered\ncategory: security\ncontrols: [CC6.6]\n"
                    "owasp: [LLM11]\natlas: [AML.T0051.000]\nseverity: low\nturns:\n  - user: hi\n"
                    "detectors:\n  - type: contains\n    text: x\n", encoding="utf-8")
    assert main(["scenarios", "validate", str(path)]) != 0
    err = capsys.readouterr()
    assert f"{path}:5:9: field 'owasp[0]': unknown owasp id 'LLM11' (did you mean 'LLM10'?)" in err.out + err.err


def coverage(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, object]]:
    capsys.readouterr()
    assert main(["coverage", "demo", "--json"]) == 0
    return {row["id"]: row for row in json.loads(capsys.readouterr().out)}


def test_coverage_reads_the_runs_by_taxonomy_and_every_export_agrees(redline_home: Path, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from app.demo_engagement import ensure_demo_engagement
    from app.store import session

    with session() as db:
        ensure_demo_engagement(db)
    before = coverage(capsys)  # no run yet: every id is listed, none is claimed
    assert len(before) == 10 + 22 and all(row["result"] == "Not tested." and row["runs"] == 0
                                          for row in before.values())
    assert main(["run", "demo", "--scenario", "pi-direct-override"]) == 1  # 1: a scenario failed, as the demo should
    after = coverage(capsys)
    assert (after["LLM01"]["runs"], after["LLM01"]["fail"]) == (1, 1)
    assert after["LLM01"]["result"].startswith("Exceptions noted in 1 of 1 run")
    assert after["LLM07"]["scenarios"] == "pi-direct-override"
    assert after["AML.T0056"]["fail"] == 1 and after["LLM02"]["result"] == "Not tested."

    out = tmp_path / "bundle.zip"
    assert main(["export", "demo", "--out", str(out), "--no-sign"]) == 0
    with zipfile.ZipFile(out) as bundle:
        sheet = list(csv.DictReader(io.StringIO(bundle.read("workpapers/attack_coverage.csv").decode("utf-8-sig"))))
        report = bundle.read("report.md").decode()
        html = bundle.read("report.html").decode()
        plan = json.loads(bundle.read("oscal/assessment-plan.json"))["assessment-plan"]
    row = next(r for r in sheet if r["Id"] == "LLM01")
    assert (row["Runs"], row["Fail"], row["Result"]) == ("1", "1", after["LLM01"]["result"])
    assert len(sheet) == len(after)
    assert "### Attack coverage: OWASP LLM Top 10 and MITRE ATLAS" in report
    assert "| OWASP Top 10 for LLM Applications (2025) | LLM01 | Prompt Injection | pi-direct-override | 1 | 0 | 1 |" \
        in report
    assert 'id="attack-coverage"' in html and "LLM07, AML.T0051.000, AML.T0056" in html
    activity = next(a for a in plan["local-definitions"]["activities"] if a["title"].startswith("pi-direct-override"))
    values = {(p["name"], p["value"]) for p in activity["props"]}
    assert {("owasp-llm", "LLM01"), ("owasp-llm", "LLM07"), ("mitre-atlas", "AML.T0051.000"),
            ("mitre-atlas", "AML.T0056")} <= values
