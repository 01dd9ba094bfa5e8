"""The bundle's OSCAL documents parse with the maintained OSCAL models and speak OSCAL's vocabulary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from test_evidence_engagement import World, entries, export, world  # noqa: F401

trestle_ap = pytest.importorskip("trestle.oscal.assessment_plan", reason="compliance-trestle is a test extra")
from trestle.oscal.assessment_results import AssessmentResults  # noqa: E402
from trestle.oscal.poam import PlanOfActionAndMilestones  # noqa: E402


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
