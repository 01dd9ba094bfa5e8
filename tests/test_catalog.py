"""The control catalog: complete against the seed guidance, extensible, strict about bad files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import catalog as catalog_module
from app.catalog import load_catalog, sync_catalog
from app.errors import FileFormatError

REPO = Path(__file__).resolve().parents[1]
SEED = REPO.parent / "shared" / "seed" / "soc2-for-ai-systems.txt"
ID = r"(?:AI-[A-Z]+-\d+|CC\d+\.\d+|PI\d+\.\d+|A\d+\.\d+|C\d+\.\d+|P\d+)"

# The methodology keys scenarios cite, in the seed's bullet order (a contract, not derived data).
METHODOLOGY_KEYS = {
    "security": ["prompt_injection", "api_authn_authz", "output_data_extraction", "system_prompt_extraction",
                 "adversarial_inputs"],
    "availability": ["resource_exhaustion", "pipeline_stress", "failover_fallback", "rto_validation"],
    "processing_integrity": ["hallucination_rate", "output_manipulation", "human_oversight", "error_handling"],
    "confidentiality": ["training_data_extraction", "cross_tenant_leakage", "weight_config_extraction",
                        "history_isolation"],
    "privacy": ["pii_extraction", "consent_verification", "retention_deletion", "multitenant_isolation"],
}


# ------------------------------------------------------------- the seed, parsed here


def _seed_lines() -> list[str]:
    if not SEED.is_file():
        pytest.skip(f"seed guidance not found at {SEED}; completeness cannot be checked without it")
    return SEED.read_text(encoding="utf-8").splitlines()


def _seed_tables() -> list[tuple[str, list[str], list[list[str]]]]:
    """Each markdown table as (the last heading-like line before it, header cells, body rows)."""
    tables: list[tuple[str, list[str], list[list[str]]]] = []
    heading, current = "", None
    for line in _seed_lines():
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if current is None:
                current = (heading, cells, [])
                tables.append(current)
            elif not all(set(cell) <= {"-", ":"} for cell in cells):
                current[2].append(cells)
        else:
            current = None
            if line and not line.endswith((".", ":")):
                heading = line
    return tables


def _tables_with(header_start: str) -> list[tuple[str, list[list[str]]]]:
    found = [(heading, rows) for heading, header, rows in _seed_tables() if header[0] == header_start]
    assert found, f"the seed has no table starting with {header_start!r}"
    return found


def _ids(text: str) -> list[str]:
    """Ids named in a cell; ``P1-P8`` stands for P1..P8."""
    text = re.sub(r"P(\d)-P(\d)", lambda m: " ".join(f"P{i}" for i in range(int(m[1]), int(m[2]) + 1)), text)
    return re.findall(ID, text)


def _bullets_after(lines: list[str], start: str) -> list[str]:
    i = lines.index(start) + 1
    out = []
    while i < len(lines) and lines[i].startswith("- "):
        out.append(lines[i][2:])
        i += 1
    return out


@pytest.fixture(scope="module")
def cat() -> Iterator[catalog_module.Catalog]:
    yield load_catalog()


# ---------------------------------------------------------------- completeness


def test_every_seed_table_is_recognised() -> None:
    known = {"Criteria", "Control ID", "Dimension", "Question", "Evidence Type", "Finding", "SOC 2 Criteria"}
    assert {header[0] for _, header, _ in _seed_tables()} == known


def test_every_criterion_in_the_seed_is_in_the_catalog(cat: catalog_module.Catalog) -> None:
    category_of = {"Security (Common Criteria)": "security", "Availability": "availability",
                   "Processing Integrity": "processing_integrity", "Confidentiality": "confidentiality",
                   "Privacy": "privacy"}
    seen = set()
    for heading, rows in _tables_with("Criteria"):
        for row in rows:
            ids = _ids(row[0])
            assert ids, row
            for ident in ids:
                entry = cat.get(ident)
                assert entry is not None, f"{ident} is missing from the catalog"
                assert entry.category == category_of[heading]
                assert entry.ai_extension and entry.traditional
                seen.add(ident)
            if len(ids) == 1:  # the seed's short name is kept as the criterion's name
                assert entry.name.lower() == re.search(r"\((.+)\)", row[0])[1].lower()
    # Criteria that the seed cites outside the TSC tables (auditor questions, findings) exist too.
    cited = {i for _, rows in _tables_with("Question") for row in rows for i in _ids(row[1])}
    cited |= {i for _, rows in _tables_with("Finding") for row in rows for i in _ids(row[1])}
    assert cited - seen - {c.id for c in cat.controls} == {"CC8.1"}
    assert cat.get("CC8.1") is not None and cat.get("CC8.1").category == "security"
    assert {c.id for c in cat.criteria} == seen | {"CC8.1"}
    assert [c.name for c in cat.criteria_for_category("privacy")][2] == "Collection"


def test_every_ai_control_in_the_seed_is_in_the_catalog(cat: catalog_module.Catalog) -> None:
    family_of = {"Model Governance Controls": "governance", "Model Security Controls": "security",
                 "Data Handling Controls": "data"}
    seed_ids = set()
    for heading, rows in _tables_with("Control ID"):
        for ident, objective, _description, _test in rows:
            control = cat.get(ident)
            assert control is not None, f"{ident} is missing"
            assert (control.family, control.objective) == (family_of[heading], objective)
            assert control.description and control.red_team_test
            assert control.criteria and set(control.criteria) <= {c.id for c in cat.criteria}
            seed_ids.add(ident)
    assert {c.id for c in cat.controls} == seed_ids
    assert set(cat.get("AI-SEC-01").criteria) == {"CC6.6", "CC6.8"}


def test_crosswalk_matches_the_seed_exactly(cat: catalog_module.Catalog) -> None:
    (_, rows), = _tables_with("SOC 2 Criteria")
    assert len(rows) == len(cat.crosswalk) == 5
    for soc2, iso, nist, eu in rows:
        (ident,) = _ids(soc2)
        assert cat.crosswalk_for(ident) == {"iso42001": iso, "nist_ai_rmf": nist, "eu_ai_act": eu}
    assert cat.crosswalk_for("CC6.6") == {"iso42001": "A.6.2.5 (Deployment)", "nist_ai_rmf": "MS-2.3",
                                          "eu_ai_act": "Art. 15 (Cybersecurity)"}
    assert cat.crosswalk_for("CC6.1") is None
    # A finding against an AI control shows the crosswalk of the criteria it relates to.
    assert set(cat.crosswalks_for(["AI-SEC-02"])) == {"C1.1", "P3"}


def test_audit_tables_match_the_seed(cat: catalog_module.Catalog) -> None:
    (_, dims), = _tables_with("Dimension")
    assert [row[0] for row in dims] == [row.dimension for row in cat.audit_types]

    (_, questions), = _tables_with("Question")
    assert [q.key for q in cat.auditor_questions] == ["prompt_injection", "monitoring", "data_leakage",
                                                      "model_changes", "ai_errors"]
    for (question, assesses, _helps), entry in zip(questions, cat.auditor_questions, strict=True):
        assert entry.question == question.strip('"')
        assert list(entry.criteria) == _ids(assesses)
        assert entry.assesses and entry.red_team_help

    (_, evidence), = _tables_with("Evidence Type")
    assert [e.key for e in cat.evidence_types] == ["test_plan", "test_results", "remediation_verification",
                                                   "continuous_monitoring", "exception_log"]
    assert [row[0] for row in evidence] == [e.name for e in cat.evidence_types]

    (_, findings), = _tables_with("Finding")
    labels = {"High": "high", "Medium": "medium", "Low to Medium": "low-medium"}
    for (_finding, impact, severity), entry in zip(findings, cat.finding_impacts, strict=True):
        label, _, note = severity.partition(" -- ")
        assert list(entry.criteria) == _ids(impact)
        assert (entry.severity, entry.auditor_note) == (labels[label], note)
        assert entry.soc2_impact == impact


def test_alignment_steps_methodology_and_remediation_match_the_seed(cat: catalog_module.Catalog) -> None:
    lines = _seed_lines()
    start, end = lines.index("Pre-Engagement Alignment"), lines.index("Testing Methodology by Trust Service Category")
    titles = lines[start + 2:end:2]  # title, paragraph, title, paragraph ...
    assert [s.title for s in cat.pre_engagement] == titles and len(titles) == 4

    heads = {"Security": "security", "Availability": "availability", "Processing integrity": "processing_integrity",
             "Confidentiality": "confidentiality", "Privacy": "privacy"}
    for line in lines:
        match = re.fullmatch(r"(.+) testing \(\w+ criteria\):", line)
        if not match:
            continue
        category = heads[match[1]]
        bullets = _bullets_after(lines, line)
        items = [m for m in cat.methodology if m.category == category]
        assert [m.key for m in items] == METHODOLOGY_KEYS[category]
        # Each paraphrase is closest to the bullet it stands for, and to no other.
        for i, bullet in enumerate(bullets):
            overlaps = [len(_stems(bullet) & _stems(item.text)) for item in items]
            assert overlaps[i] > 0 and overlaps[i] == max(overlaps), (bullet, items[i].text)
        assert len(bullets) == len(items)
    assert cat.methodology_keys() == {k for keys in METHODOLOGY_KEYS.values() for k in keys}

    immediate = _bullets_after(lines, "Immediate priorities (fix before audit period ends):")
    assert len(cat.remediation.immediate) == len(immediate) == 3
    assert len(cat.remediation.longer_term) == len(_bullets_after(lines, "Longer-term improvements:")) == 4


_GENERIC = {"testing", "verification", "attempts", "through", "under", "behavior", "behaviour", "checking",
            "model", "data", "from", "with", "that", "against", "what"}


def _stems(text: str) -> set[str]:
    words = re.findall(r"[a-z]+", text.lower())
    return {w[:5] for w in words if len(w) > 2 and w not in _GENERIC and w not in {"and", "the", "for", "all"}}


# --------------------------------------------------------------------- lookups


def test_impact_for_prefills_from_the_best_seed_row(cat: catalog_module.Catalog) -> None:
    injection = cat.impact_for(["AI-SEC-01"])  # through the control's criteria (CC6.6)
    assert injection is not None and injection.key == "prompt_injection_bypass"
    assert (injection.finding_severity, injection.soc2_impact) == ("high", "CC6.6 control failure")
    assert cat.impact_for(["cc7.3"]).key == "no_adversarial_monitoring"
    assert cat.impact_for(["PI1.5", "C1.1"]).key == "output_data_extraction"  # high outranks medium
    assert cat.impact_for(["AI-GOV-01"]).severity == "low-medium"
    assert cat.impact_for(["CC6.1"]) is None  # no seed row: the scenario's own severity stands
    assert cat.impact_for([]) is None


def test_lookups(cat: catalog_module.Catalog) -> None:
    assert cat.get(" ai-sec-01 ").objective == "Prompt injection prevention"
    assert cat.get("CC99.1") is None
    assert [c.id for c in cat.criteria_for_category("availability")] == ["A1.1", "A1.2"]
    with pytest.raises(ValueError):
        cat.criteria_for_category("safety")
    assert load_catalog() is load_catalog()  # the built-in part is read once


# ------------------------------------------------------------ user extensions


EXTENSION = """\
criteria:
  - id: CC9.2
    category: security
    name: Vendor risk
    traditional: Vendors are assessed and monitored.
    ai_extension: Model providers are assessed like any other vendor.
controls:
  - id: ACME-AI-01
    family: governance
    objective: "[red]Model cards[/red] reviewed"
    description: "Each model has a reviewed card \\e[31m before launch."
    criteria: [CC9.2, CC8.1]
crosswalk:
  - criterion: CC9.2
    iso42001: A.10.3 (Suppliers)
"""


def test_a_user_file_adds_criteria_controls_and_crosswalk(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text(EXTENSION, encoding="utf-8")
    extended = load_catalog([path])
    control = extended.get("ACME-AI-01")
    assert control is not None and control.source == str(path) and control.criteria == ("CC9.2", "CC8.1")
    assert extended.get("CC9.2").source == str(path)
    assert extended.crosswalk_for("CC9.2")["iso42001"] == "A.10.3 (Suppliers)"
    assert extended.ids() == load_catalog().ids() | {"CC9.2", "ACME-AI-01"}
    assert "ACME-AI-01" not in load_catalog().ids()  # the cached built-in catalog is untouched


def test_catalog_d_is_read_without_creating_the_data_dir(redline_home: Path) -> None:
    assert not redline_home.exists()
    load_catalog()
    assert not redline_home.exists()  # looking did not create it
    (redline_home / "catalog.d").mkdir(parents=True)
    (redline_home / "catalog.d" / "acme.yaml").write_text(EXTENSION, encoding="utf-8")
    assert "ACME-AI-01" in load_catalog().ids()


def _problem_for(tmp_path: Path, text: str) -> list:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FileFormatError) as info:
        load_catalog([path])
    assert all(p.path == str(path) for p in info.value.problems)
    return info.value.problems


def test_a_malformed_user_file_names_line_column_and_field(tmp_path: Path) -> None:
    bad_family = EXTENSION.replace("family: governance", "family: gouvernance")
    (problem,) = _problem_for(tmp_path, bad_family)
    assert (problem.line, problem.column, problem.field) == (9, 13, "controls[0].family")
    assert "governance" in problem.message

    (problem,) = _problem_for(tmp_path, EXTENSION.replace("[CC9.2, CC8.1]", "[CC9.2, CC99.1]"))
    assert (problem.line, problem.field) == (12, "controls[0].criteria[1]")
    assert "unknown criterion 'CC99.1'" in problem.message

    (problem,) = _problem_for(tmp_path, EXTENSION.replace("id: ACME-AI-01", "id: AI-SEC-01"))
    assert (problem.line, problem.field) == (8, "controls[0].id")
    assert "duplicate id 'AI-SEC-01'" in problem.message and "controls.yaml" in problem.message

    (problem,) = _problem_for(tmp_path, EXTENSION.replace("    family: governance\n",
                                                          "    family: governance\n    source: builtin\n"))
    assert (problem.line, problem.field) == (10, "controls[0].source")

    (problem,) = _problem_for(tmp_path, "methodology:\n  - key: mine\n")
    assert (problem.line, problem.field) == (1, "methodology")  # user files may not redefine the methodology

    (problem,) = _problem_for(tmp_path, "criteria:\n  - id: CC9.2\n    name: [unclosed\n")
    assert problem.line is not None and "invalid YAML" in problem.message


def test_a_malformed_builtin_file_is_reported_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "criteria.yaml").write_text("criteria:\n  - id: CC6.1\n    category: securty\n    name: x\n")
    monkeypatch.setattr(catalog_module, "builtin_dir", lambda: tmp_path)
    catalog_module._builtin_docs.cache_clear()
    catalog_module._builtin_catalog.cache_clear()
    try:
        with pytest.raises(FileFormatError) as info:
            load_catalog()
        (problem,) = info.value.problems
        assert (problem.line, problem.field) == (3, "criteria[0].category")
    finally:
        catalog_module._builtin_docs.cache_clear()
        catalog_module._builtin_catalog.cache_clear()


# --------------------------------------------------------------------- the CLI


def test_cli_json_lists_every_criterion_and_control(redline_home: Path) -> None:
    seed_ids = {i for _, rows in _tables_with("Criteria") for row in rows for i in _ids(row[0])}
    seed_ids |= {row[0] for _, rows in _tables_with("Control ID") for row in rows} | {"CC8.1"}
    done = subprocess.run([sys.executable, "-m", "app.cli", "catalog", "--json"], cwd=REPO,
                          capture_output=True, text=True, check=True)
    data = json.loads(done.stdout)
    assert list(data)[:2] == ["criteria", "controls"] and "methodology" in data
    assert {row["id"] for row in data["criteria"]} | {row["id"] for row in data["controls"]} == seed_ids
    assert list(data["criteria"][0]) == ["id", "category", "name", "traditional", "ai_extension", "source"]


def test_cli_sections_are_the_catalog_sections() -> None:
    from app.commands import catalog as command

    assert command.SECTIONS == catalog_module.SECTIONS


def test_cli_tables_show_user_text_literally(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli import main

    path = tmp_path / "acme.yaml"
    path.write_text(EXTENSION, encoding="utf-8")
    assert main(["catalog", "--section", "controls", "--file", str(path)]) == 0
    out = capsys.readouterr().out
    assert "[red]Model" in out and "AI-SEC-01" in out  # markup shown as typed, not obeyed
    assert "\x1b" not in out
    assert main(["catalog", "--section", "criteria"]) == 0
    out = capsys.readouterr().out
    assert "A.6.2.5" in out and "Boundary" in out and "P8" in out


def test_cli_reports_a_bad_file_plainly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli import main

    path = tmp_path / "bad.yaml"
    path.write_text(EXTENSION.replace("family: governance", "family: gouvernance"), encoding="utf-8")
    assert main(["catalog", "--file", str(path)]) == 2
    assert f"{path}:9:13: field 'controls[0].family'" in capsys.readouterr().err


# ------------------------------------------------------------------- the store


def test_sync_catalog_upserts_a_snapshot_and_records_changes(tmp_path: Path) -> None:
    from sqlmodel import select

    from app.store import session
    from app.store.models import AuditEvent, Control, Criterion

    with session() as db:
        sync_catalog(db, load_catalog())
    with session() as db:
        sync_catalog(db, load_catalog())  # unchanged: nothing new is recorded
    with session() as db:
        assert len(db.exec(select(Criterion)).all()) == len(load_catalog().criteria)
        assert db.get(Criterion, "CC6.6").crosswalk["nist_ai_rmf"] == "MS-2.3"
        assert db.get(Control, "AI-SEC-01").criteria == ["CC6.6", "CC6.8"]
        events = db.exec(select(AuditEvent).where(AuditEvent.action == "catalog.synced")).all()
        assert len(events) == 1 and "CC6.6" in events[0].payload["added"]

    path = tmp_path / "acme.yaml"
    path.write_text(EXTENSION, encoding="utf-8")
    with session() as db:
        sync_catalog(db, load_catalog([path]))
    with session() as db:
        assert db.get(Control, "ACME-AI-01").source == str(path)
        events = db.exec(select(AuditEvent).where(AuditEvent.action == "catalog.synced")).all()
        assert len(events) == 2 and events[1].payload["added"] == ["CC9.2", "ACME-AI-01"]
