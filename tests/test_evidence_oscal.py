"""The bundle's OSCAL documents parse with the maintained OSCAL models, speak OSCAL's vocabulary, and link up.

The second half exports a real demo engagement (runs, findings, a failed and a
passed re-test, a dated management response) and follows every uuid an
auditor's tool would: POA&M item -> results finding -> observations and risk,
re-test run -> the finding it re-tests, import-ssp -> the SSP in the bundle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from test_evidence_engagement import World, entries, export, world  # noqa: F401

from tests.test_lifecycle_support import confirm_all, demo, make_engagement, run  # noqa: F401

trestle_ap = pytest.importorskip("trestle.oscal.assessment_plan", reason="compliance-trestle is a test extra")
from trestle.oscal.assessment_results import AssessmentResults  # noqa: E402
from trestle.oscal.poam import PlanOfActionAndMilestones  # noqa: E402
from trestle.oscal.ssp import SystemSecurityPlan  # noqa: E402


def _unpack(files: dict[str, bytes], folder: Path) -> Path:
    for name, data in files.items():
        if name.startswith("oscal/"):
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return folder / "oscal"


def test_oscal_documents_validate_and_use_oscal_vocabulary(world: World, tmp_path: Path) -> None:
    files = entries(export(world.engagement_id, tmp_path / "b.zip").path)
    folder = _unpack(files, tmp_path / "x")
    plan = trestle_ap.AssessmentPlan.oscal_read(folder / "assessment-plan.json")
    results = AssessmentResults.oscal_read(folder / "assessment-results.json")
    poam = PlanOfActionAndMilestones.oscal_read(folder / "poam.json")
    assert plan is not None and results is not None and poam is not None

    selected = [c.control_id for c in plan.reviewed_controls.control_selections[0].include_controls]
    assert selected[:3] == ["CC6.6", "C1.1", "CC7.2"] and "AI-SEC-01" in selected
    assert [t.title for t in plan.tasks] == ["Test window Q1", "Test window Q2", "Test window Q3"]

    result = results.results[0]
    assert len(result.observations) == 7  # one per turn
    assert {tuple(str(getattr(m, "value", m)) for m in o.methods) for o in result.observations} == {("TEST",)}
    states = {f.target.target_id: f.target.status.state.value for f in result.findings}
    assert states["CC6.6"] == "not-satisfied" and states["C1.1"] == "not-satisfied"
    assert "CC7.2" not in states  # never tested: no conclusion either way
    observation_ids = {o.uuid for o in result.observations}
    for finding in result.findings:
        assert {r.observation_uuid for r in finding.related_observations or []} <= observation_ids

    assert [item.title for item in poam.poam_items] == ["Customer canary disclosed"]  # only the open finding
    assert poam.risks[0].remediations[0].description == "Mask customer ids in retrieval."


def test_a_passing_window_is_satisfied_and_poam_is_left_out(world: World, tmp_path: Path) -> None:
    files = entries(export(world.engagement_id, tmp_path / "q1.zip", windows=["Q1"]).path)
    folder = _unpack(files, tmp_path / "x")
    results = AssessmentResults.oscal_read(folder / "assessment-results.json")
    states = {f.target.target_id: f.target.status.state.value for f in results.results[0].findings}
    assert states == {"CC6.6": "not-satisfied", "AI-SEC-01": "not-satisfied", "C1.1": "satisfied",
                      "AI-SEC-02": "satisfied"}
    assert not (folder / "poam.json").exists()


def test_oscal_uuids_are_unique_and_stable(world: World, tmp_path: Path) -> None:
    first = entries(export(world.engagement_id, tmp_path / "a.zip").path)
    second = entries(export(world.engagement_id, tmp_path / "b.zip").path)
    for name in ("oscal/assessment-plan.json", "oscal/assessment-results.json", "oscal/poam.json"):
        assert first[name] == second[name]
    text = first["oscal/assessment-results.json"].decode()
    doc = json.loads(text)
    uuids: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("uuid"), str):
                uuids.append(node["uuid"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    assert len(uuids) == len(set(uuids)) > 7


# ---------------------------------------------------------------- following the uuids, on the real demo system

SCENARIOS = ("pi-direct-override", "sysprompt-summary-request")


@dataclass
class Traced:
    """A demo engagement exported: the bundle's files, the OSCAL folder and the store's own links."""

    files: dict[str, bytes]
    folder: Path
    failed_retest: int  # finding re-tested while still vulnerable: open, with a dated management response
    passed_retest: int  # finding re-tested after hardening: retest_passed, no response
    controls: dict[int, list[str]]
    retest_runs: dict[int, list[int]]  # finding id -> its re-test run ids (Retest rows)


def _demo_bundle(demo: Any, tmp_path: Path) -> Traced:
    from sqlmodel import select

    from app import alignment
    from app.evidence.bundle import build_bundle
    from app.retest import record_response, retest_findings
    from app.store import session
    from app.store.models import Finding, Retest

    eid = make_engagement(demo.base_url, scenarios=SCENARIOS)
    with session() as db:
        alignment.set_evidence(db, eid, ["report", "workpapers", "oscal"], "Example CPA LLP")
    assert [o.verdict for o in run(eid)] == ["fail", "fail"]
    confirm_all(eid)  # by "ana"
    with session() as db:
        by_scenario = {f.scenario_id: f for f in db.exec(select(Finding).where(Finding.engagement_id == eid)).all()}
        still, fixed = by_scenario["pi-direct-override"], by_scenario["sysprompt-summary-request"]
        record_response(db, still, response="An input filter is being deployed.", owner="Bob (CISO)",
                        response_date=date(2026, 3, 1), remediation="Deploy the prompt firewall", actor="ana")
        ids = (still.id or 0, fixed.id or 0)
        controls = {f.id or 0: list(f.controls) for f in by_scenario.values()}
    assert [o.status for o in retest_findings(eid, [ids[0]], probe=False)] == ["retest_failed"]
    demo.hardened = True
    assert [o.status for o in retest_findings(eid, [ids[1]], probe=False)] == ["retest_passed"]
    with session() as db:
        retest_runs: dict[int, list[int]] = {}
        for rt in db.exec(select(Retest).order_by(Retest.id)).all():
            retest_runs.setdefault(rt.finding_id, []).append(rt.run_id)
        result = build_bundle(db, eid, tmp_path / "demo.zip")
    files = entries(result.path)
    folder = tmp_path / "bundle"
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return Traced(files, folder / "oscal", ids[0], ids[1], controls, retest_runs)


@pytest.fixture
def traced(demo: Any, tmp_path: Path) -> Traced:
    return _demo_bundle(demo, tmp_path)


def _prop(node: Any, name: str) -> list[str]:
    return [p.value for p in getattr(node, "props", None) or [] if p.name == name]


def _token(value: Any) -> str:
    """An OSCAL token as text, whichever model type trestle parsed it into."""
    return str(getattr(value, "value", getattr(value, "root", value)))


def _kind(party: Any) -> tuple[str, str]:
    return str(getattr(party.type, "value", party.type)), str(party.name)


def _read(folder: Path) -> tuple[Any, Any, Any]:
    plan = trestle_ap.AssessmentPlan.oscal_read(folder / "assessment-plan.json")
    results = AssessmentResults.oscal_read(folder / "assessment-results.json")
    poam = PlanOfActionAndMilestones.oscal_read(folder / "poam.json")
    assert plan is not None and results is not None and poam is not None
    return plan, results, poam


def test_import_ssp_resolves_to_a_valid_system_security_plan_inside_the_bundle(traced: Traced) -> None:
    plan, _, poam = _read(traced.folder)
    ssp_paths = set()
    for document in (plan, poam):
        target = (traced.folder / document.import_ssp.href).resolve()
        assert target.is_file(), f"import-ssp {document.import_ssp.href!r} is not a file in the bundle"
        ssp_paths.add(target)
    [ssp_path] = ssp_paths
    assert ssp_path.parent == traced.folder.resolve() and ssp_path.suffix == ".json"
    ssp = SystemSecurityPlan.oscal_read(ssp_path)
    assert ssp is not None
    manifest = json.loads(traced.files["manifest.json"])
    assert f"oscal/{ssp_path.name}" in {f["path"] for f in manifest["files"]}

    # The plan's subjects are the plan's components, which are the SSP's components.
    ssp_components = {c.uuid: c for c in ssp.system_implementation.components}
    subjects = {s.subject_uuid for s in plan.assessment_subjects[0].include_subjects}
    assert subjects and subjects <= set(ssp_components)
    assert [ssp_components[s].title for s in subjects] == ["support-bot"]
    # Each control matrix row is an implemented requirement, described in the client's own wording.
    [requirement] = ssp.control_implementation.implemented_requirements
    assert requirement.control_id == "CC6.6"
    assert [b.description for b in requirement.by_components] == ["Prompts are screened for injected instructions."]
    assert _prop(requirement, "client-ref") == ["ACME-SEC-12"]


def test_poam_items_follow_to_the_assessment_results_findings_and_every_control(traced: Traced) -> None:
    _, results, poam = _read(traced.folder)
    result = results.results[0]
    ar_findings = {f.uuid: f for f in result.findings}
    poam_findings = {f.uuid: f for f in poam.findings}
    risks = {r.uuid: r for r in poam.risks}
    [item] = poam.poam_items  # only the finding whose re-test failed is still open
    assert _prop(item, "finding") == [str(traced.failed_retest)]
    related = [r.finding_uuid for r in item.related_findings]
    assert related and set(related) <= set(ar_findings), "POA&M item names findings the results do not hold"
    assert set(related) <= set(poam_findings)
    targets = sorted(ar_findings[u].target.target_id for u in related)
    assert targets == sorted(traced.controls[traced.failed_retest]) == ["AI-SEC-01", "CC6.6"]
    assert {ar_findings[u].target.status.state.value for u in related} == {"not-satisfied"}
    for u in related:  # the POA&M carries the same finding as the results, not a look-alike
        assert poam_findings[u].model_dump() == ar_findings[u].model_dump()

    [risk_ref] = item.related_risks
    risk = risks[risk_ref.risk_uuid]
    remediation, due = risk.remediations  # management's response, then the finding's own due date
    assert remediation.description == "Deploy the prompt firewall"
    assert _prop(due, "priority") and [_token(t.type) for t in due.tasks] == ["milestone"]
    milestones = [t for t in remediation.tasks or [] if _token(t.type) == "milestone"]
    assert [m.timing.on_date.date.date() for m in milestones] == [date(2026, 3, 1)]
    assert "Bob (CISO)" in (remediation.remarks or "")
    # Without a management response only the due date is a remediation (results carry every risk).
    by_finding = {_prop(r, "finding")[0]: r for r in result.risks}
    assert [r.title.startswith("Remediation of finding") for r in by_finding[str(traced.passed_retest)].remediations] \
        == [True]
    assert by_finding[str(traced.failed_retest)].model_dump() == risk.model_dump()


def test_retest_observations_are_referenced_by_the_finding_they_retest(traced: Traced) -> None:
    _, results, _ = _read(traced.folder)
    result = results.results[0]
    observations_of_run: dict[str, set[str]] = {}
    for o in result.observations:
        observations_of_run.setdefault(_prop(o, "run")[0], set()).add(o.uuid)
    assert traced.retest_runs and set(traced.retest_runs) == {traced.failed_retest, traced.passed_retest}
    for finding_id, run_ids in traced.retest_runs.items():
        mine = [f for f in result.findings if _prop(f, "finding") == [str(finding_id)]]
        assert mine, f"finding {finding_id} has no OSCAL finding in the results"
        assert {f.target.target_id for f in mine} == set(traced.controls[finding_id])
        for f in mine:
            referenced = {r.observation_uuid for r in f.related_observations or []}
            for run_id in run_ids:
                retest_obs = observations_of_run[str(run_id)]
                assert retest_obs <= referenced, f"re-test run {run_id} is an orphan"
                for o in result.observations:
                    if o.uuid in retest_obs:
                        assert _prop(o, "retest-of") == [str(finding_id)]
    # The passing re-test is told, the failing one too.
    passed = [f for f in result.findings if _prop(f, "finding") == [str(traced.passed_retest)]]
    assert all("re-test" in (f.target.status.remarks or "") and "passed" in f.target.status.remarks for f in passed)


def test_plan_and_results_name_the_assessor_as_party_and_role_beside_the_client(traced: Traced) -> None:
    plan, results, poam = _read(traced.folder)
    for document in (plan, results, poam):
        meta = document.metadata
        parties = {p.uuid: p for p in meta.parties}
        roles = {r.id for r in meta.roles or []}
        assert {"assessor", "prepared-for", "service-auditor"} <= roles
        holders = {rp.role_id: [parties[u] for u in rp.party_uuids] for rp in meta.responsible_parties}
        assert [_kind(p) for p in holders["prepared-for"]] == [("organization", "Acme Corp")]
        # The testers recorded in the audit chain: the configured tester (REDLINE_TESTER) and "ana".
        assert sorted(_kind(p) for p in holders["assessor"]) == [("person", "ana"), ("person", "test-tester")]
        assert [_kind(p) for p in holders["service-auditor"]] == [("organization", "Example CPA LLP")]


def test_assessors_come_from_the_evidence_not_the_exporting_machine(traced: Traced, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlmodel import select

    from app.evidence.bundle import build_bundle
    from app.store import session
    from app.store.models import Engagement

    monkeypatch.setenv("REDLINE_TESTER", "someone-else")  # another tester exports the same store
    with session() as db:
        eid = db.exec(select(Engagement.id)).one()
        again = entries(build_bundle(db, eid, tmp_path / "again.zip").path)
    for name in ("oscal/assessment-plan.json", "oscal/assessment-results.json", "oscal/poam.json"):
        assert again[name] == traced.files[name]
    assert b"someone-else" not in again["oscal/assessment-results.json"]
    assert b"test-tester" in again["oscal/assessment-results.json"]


def test_findings_say_what_their_retests_showed_only_when_they_were_retested(world: World, tmp_path: Path) -> None:
    files = entries(export(world.engagement_id, tmp_path / "b.zip").path)
    folder = _unpack(files, tmp_path / "x")
    result = AssessmentResults.oscal_read(folder / "assessment-results.json").results[0]
    remarks = {(_prop(f, "finding")[0], f.target.target_id): f.target.status.remarks
               for f in result.findings if _prop(f, "finding")}
    f1, f2 = str(world.findings["f1"]), str(world.findings["f2"])
    assert remarks == {(f1, "CC6.6"): f"Re-test run {world.runs['r3']}: Remediated: the re-test passed.",
                       (f1, "AI-SEC-01"): f"Re-test run {world.runs['r3']}: Remediated: the re-test passed.",
                       (f2, "C1.1"): None}  # never re-tested: nothing is claimed
    risks = {_prop(r, "finding")[0]: r for r in result.risks}
    # management's response, then the due-date remediation (app.remediation): both follow the re-test
    assert [_token(m.lifecycle) for m in risks[f1].remediations] == ["completed", "completed"]  # the re-test verified it
    assert [_token(m.lifecycle) for m in risks[f2].remediations] == ["planned", "planned"]


def test_the_system_security_plan_draws_the_scope_boundary_and_stands_without_a_matrix(
        world: World, tmp_path: Path) -> None:
    from sqlmodel import delete

    from app.store import session
    from app.store.models import ControlMapping

    files = entries(export(world.engagement_id, tmp_path / "b.zip").path)
    ssp = SystemSecurityPlan.oscal_read(_unpack(files, tmp_path / "x") / "system-security-plan.json")
    boundary = ssp.system_characteristics.authorization_boundary.description
    assert "1 AI system(s) in scope (support-bot); explicitly out of scope: legacy-faq." in boundary
    assert [r.control_id for r in ssp.control_implementation.implemented_requirements] == ["CC6.6", "C1.1", "CC7.2"]

    with session() as db:  # a matrix not yet written: the controls the scenarios evidence stand in
        db.exec(delete(ControlMapping))  # type: ignore[call-overload]
    files = entries(export(world.engagement_id, tmp_path / "c.zip").path)
    ssp = SystemSecurityPlan.oscal_read(_unpack(files, tmp_path / "y") / "system-security-plan.json")
    requirements = ssp.control_implementation.implemented_requirements
    assert [r.control_id for r in requirements] == ["CC6.6", "AI-SEC-01", "C1.1", "AI-SEC-02"]
    assert {r.remarks for r in requirements} == {"Not in the client's control matrix: evidenced by the scenarios "
                                                 "run only."}


def test_every_uuid_and_href_an_oscal_document_references_resolves_inside_the_bundle(traced: Traced) -> None:
    defined: dict[str, set[str]] = {}
    references: list[tuple[str, str, str]] = []  # (document, key, value)
    hrefs: list[tuple[str, str]] = []

    def walk(document: str, node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "uuid" and isinstance(value, str):
                    defined.setdefault(document, set()).add(value)
                elif key.endswith("-uuid") and isinstance(value, str):
                    references.append((document, key, value))
                elif key.endswith("-uuids") and isinstance(value, list):
                    references.extend((document, key, v) for v in value)
                elif key == "href" and isinstance(value, str):
                    hrefs.append((document, value))
                walk(document, value)
        elif isinstance(node, list):
            for value in node:
                walk(document, value)

    names = sorted(p.name for p in traced.folder.glob("*.json"))
    assert names == ["assessment-plan.json", "assessment-results.json", "poam.json", "system-security-plan.json"]
    for name in names:
        walk(name, json.loads((traced.folder / name).read_text()))
    # A document may use what it defines and what it imports (results -> plan -> SSP; POA&M -> SSP).
    imports = {"assessment-results.json": ["assessment-plan.json", "system-security-plan.json"],
               "assessment-plan.json": ["system-security-plan.json"], "poam.json": ["system-security-plan.json"],
               "system-security-plan.json": []}
    assert len(references) > 20
    for document, key, value in references:
        visible = defined[document].union(*(defined[i] for i in imports[document]))
        assert value in visible, f"{document}: {key} {value} resolves to nothing"
    for document, href in hrefs:
        if href.startswith("#"):
            assert href[1:] in defined[document], f"{document}: {href} names no resource"
        else:
            assert (traced.folder / href).resolve().is_file(), f"{document}: {href} is not in the bundle"


def test_an_objective_counts_its_samples_and_tells_re_tests_apart(world: World, tmp_path: Path) -> None:
    def read(zip_name: str, **options: Any) -> tuple[dict[str, Any], Any]:
        files = entries(export(world.engagement_id, tmp_path / zip_name, **options).path)
        folder = _unpack(files, tmp_path / zip_name.replace(".zip", ""))
        result = AssessmentResults.oscal_read(folder / "assessment-results.json").results[0]
        return {f.target.target_id: f for f in result.findings if _prop(f, "conclusion") == ["objective"]}, result

    whole, result = read("all.zip")  # r1 failed; r3 is the re-test of finding f1, not a sample
    assert whole["CC6.6"].description.startswith(
        "1 sample run(s) evidence CC6.6: 0 passed, 1 failed. 1 re-test run(s) verify remediation and are not counted "
        "as samples. Exceptions: finding")
    retest_turns = {o.uuid for o in result.observations if _prop(o, "run") == [str(world.runs["r3"])]}
    assert retest_turns and not retest_turns & {o.observation_uuid for o in whole["CC6.6"].related_observations}
    q1, _ = read("q1.zip", windows=["Q1"])  # the re-test ran in Q2: nothing to tell apart
    assert q1["CC6.6"].description.startswith("1 sample run(s) evidence CC6.6: 0 passed, 1 failed. Exceptions: finding")
    assert q1["C1.1"].description == "1 sample run(s) evidence C1.1: 1 passed, 0 failed. No exceptions noted."


def test_oscal_follows_the_exception_log_occurrences_and_the_dating_rule(world: World, tmp_path: Path) -> None:
    """One rule for every export: a draft is no exception in OSCAL either (it awaits triage, as in the
    exception log), a finding relates the failing turn of each later occurrence, and a run that is no
    window's sample (r4 late for Q2, r5 outside the period) is not counted in an objective's conclusion."""
    from sqlmodel import select

    from app.findings import create_finding
    from app.occurrences import add_occurrence
    from app.store import session
    from app.store.models import Finding, Turn

    with session() as db:
        f2 = db.get(Finding, world.findings["f2"])
        r5_turn = db.exec(select(Turn).where(Turn.run_id == world.runs["r5"])).one()
        add_occurrence(db, f2, world.runs["r5"], r5_turn.id, {"detector": "canary", "reason": "canary disclosed"})
        draft = create_finding(db, engagement_id=world.engagement_id, title="Refund promised without approval",
                               severity="medium", controls=["PI1.4"], scenario_id="canary-leak",
                               run_id=world.runs["r4"])
        db.commit()
        draft_id, r5_turn_id = draft.id, r5_turn.id
    files = entries(export(world.engagement_id, tmp_path / "all.zip").path)
    folder = _unpack(files, tmp_path / "all")
    result = AssessmentResults.oscal_read(folder / "assessment-results.json").results[0]
    finding_ids = {_prop(f, "finding")[0] for f in result.findings if _prop(f, "finding")}
    assert str(world.findings["f2"]) in finding_ids and str(draft_id) not in finding_ids
    turn_uuid = {_prop(o, "turn")[0]: o.uuid for o in result.observations}
    f2_oscal = next(f for f in result.findings if _prop(f, "finding") == [str(world.findings["f2"])])
    assert turn_uuid[str(r5_turn_id)] in {o.observation_uuid for o in f2_oscal.related_observations}
    c11 = next(f for f in result.findings
               if _prop(f, "conclusion") == ["objective"] and f.target.target_id == "C1.1").description
    assert c11.startswith("2 sample run(s) evidence C1.1: 1 passed, 1 failed. 2 run(s) that are no window's sample")
