"""OSCAL 1.1 documents for the bundle: assessment plan, assessment results, plan of action and milestones.

Written as plain dicts by Redline's own code (the test suite checks them with
the maintained OSCAL models). OSCAL vocabulary: each red-team turn is an
observation whose method is TEST; each criterion or control objective tested
gets a finding, satisfied or not-satisfied; open findings become POA&M items.
UUIDs are derived (uuid5) from the engagement and the row ids, so the same
data always gives the same documents.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from app.evidence import oscal_findings, tables, wording
from app.evidence.collect import EvidenceSet
from app.evidence.oscal_common import (
    OSCAL_VERSION,
    PROP_NS,
    components,
    metadata,
    props,
    stable_uuid,
    subjects,
    taxonomy_props,
    title,
    when,
)
from app.evidence.oscal_ssp import FILE_NAME as SSP_FILE
from app.evidence.oscal_ssp import system_security_plan
from app.findings import OPEN_STATUSES

__all__ = ["OSCAL_VERSION", "PROP_NS", "SSP_FILE", "assessment_plan", "assessment_results", "poam",
           "stable_uuid", "system_security_plan"]


def _control_ids(ev: EvidenceSet) -> list[str]:
    ids = [m["criterion"] for m in ev.mappings]
    for run in ev.runs:
        ids += [c for c, _ in tables.controls_of_run(ev, run)]
    for finding in ev.findings:
        ids += finding["controls"]
    return list(dict.fromkeys(ids))


def _reviewed_controls(ev: EvidenceSet) -> dict[str, Any]:
    ids = _control_ids(ev)
    selection: dict[str, Any] = {"include-controls": [{"control-id": c} for c in ids]} if ids else {"include-all": {}}
    return {"description": "The criteria and AI controls in the client's matrix and those the scenarios evidence.",
            "control-selections": [selection]}


def assessment_plan(ev: EvidenceSet) -> dict[str, Any]:
    name = ev.engagement["name"]
    plan: dict[str, Any] = {
        "uuid": stable_uuid(ev, "assessment-plan"),
        "metadata": metadata(ev, f"Red-team assessment plan: {name}"),
        "import-ssp": {"href": SSP_FILE,
                       "remarks": "The systems in scope and the client's control matrix, as the engagement "
                                  "records them."},
        "reviewed-controls": _reviewed_controls(ev),
    }
    parts = components(ev)
    activities = []
    for scen in ev.scenarios:
        activity: dict[str, Any] = {
            "uuid": stable_uuid(ev, "scenario", scen["id"]), "title": title(f"{scen['scenario_id']}: {scen['title']}"),
            "description": scen["description"] or scen["title"] or scen["scenario_id"],
            "props": props(method="TEST", category=scen["category"], severity=scen["severity"],
                           scenario_sha256=scen["sha256"], methodology=scen["methodology"]) + taxonomy_props(scen)}
        if scen["controls"]:
            activity["related-controls"] = {"control-selections": [
                {"include-controls": [{"control-id": c} for c in scen["controls"]]}]}
        activities.append(activity)
    local: dict[str, Any] = {}
    if parts:
        local["components"] = parts
    if activities:
        local["activities"] = activities
    if local:
        plan["local-definitions"] = local
    if parts:
        plan["assessment-subjects"] = [{"type": "component", "include-subjects": subjects(ev)}]
    tasks = []
    for w in ev.windows:
        task: dict[str, Any] = {"uuid": stable_uuid(ev, "window", w["id"]), "type": "action",
                                "title": title(f"Test window {w['name']}"),
                                "description": f"Planned red-team testing window ({w['status']}, {w['runs']} runs).",
                                "timing": {"within-date-range": {"start": f"{w['start']}T00:00:00+00:00",
                                                                 "end": f"{w['end']}T23:59:59+00:00"}}}
        if activities and parts:
            task["associated-activities"] = [{"activity-uuid": a["uuid"], "subjects": [
                {"type": "component", "include-subjects": subjects(ev)}]} for a in activities]
        tasks.append(task)
    if tasks:
        plan["tasks"] = tasks
    return {"assessment-plan": plan}


def _observations(ev: EvidenceSet, only: set[int] | None = None) -> Iterator[dict[str, Any]]:
    """Each turn of the evidence's runs (or only the turn ids given), an observation with method TEST;
    a re-test's names the finding it re-tests."""
    for run, turns in ev.iter_transcripts():
        retest = f"Re-test of finding {run['retest_of']}, run" if run.get("retest_of") else "Run"
        for t in turns:
            if only is not None and t["id"] not in only:
                continue
            verdicts = "; ".join(f"{v['detector'] or 'auto'} {v['outcome']}: {v['reason']}" for v in t["auto_verdicts"])
            human = "; ".join(f"{v['actor'] or 'tester'} {v['outcome']}: {v['reason']}" for v in t["human_verdicts"])
            yield {
                "uuid": stable_uuid(ev, "turn", t["id"]),
                "title": title(f"{retest} {run['id']} step {t['step']} sample {t['sample']}: {run['scenario_id']}"),
                "description": (f"Red-team turn ({t['kind']}) of scenario {run['scenario_id']} against "
                                f"{run['system']}; outcome {t['outcome'] or 'none'}. Automatic verdicts: "
                                f"{verdicts or 'none'}. Tester verdicts: {human or 'none'}."),
                "methods": ["TEST"],
                "types": ["control-objective"],
                "props": props(run=run["id"], turn=t["id"], retest_of=run.get("retest_of"), outcome=t["outcome"],
                               status=t["status"], error_type=t["error_type"], model_id=t["model_id"]),
                "subjects": [{"subject-uuid": stable_uuid(ev, "system", run["system_id"]), "type": "component"}],
                "relevant-evidence": [{"href": f"../transcripts/{run['id']}.jsonl",
                                       "description": f"Turn {t['id']}: the request as sent and the response as "
                                                      "received."}],
                "collected": when(ev, t["finished_at"], t["started_at"], run["started_at"], run["created_at"]),
            }


def _objective_findings(ev: EvidenceSet, turn_ids: dict[int, list[int]]) -> list[dict[str, Any]]:
    """One conclusion per criterion or control objective tested: not-satisfied on any exception, else satisfied."""
    runs_for: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in ev.runs:
        for criterion, _ in tables.controls_of_run(ev, run):
            runs_for[criterion].append(run)
    exceptions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in oscal_findings.exceptions(ev):
        for control in f["controls"]:
            exceptions[control].append(f)
    out = []
    for control in _control_ids(ev):
        # Only operating-effectiveness samples speak for the control (the dating rule of app.evidence.dating):
        # a re-test verifies a remediation (its turns are related by the finding it re-tests), and a late,
        # early or unplanned run is recorded but counts for no window.
        runs = [r for r in runs_for.get(control, []) if r["is_sample"]]
        retests = [r for r in runs_for.get(control, []) if r["placement"] == "retest"]
        uncounted = [r for r in runs_for.get(control, []) if not r["is_sample"] and r["placement"] != "retest"]
        # A failure dismissed on review as a false positive reads "No exceptions noted." and is no exception.
        failed = [r for r in runs if r["verdict"] == "fail" and not r["result"].startswith(wording.NO_EXCEPTIONS)]
        passed = [r for r in runs if r["verdict"] == "pass"]
        found = exceptions.get(control, [])
        if found or failed:
            state, evidence_runs = "not-satisfied", failed
        elif passed:
            state, evidence_runs = "satisfied", passed
        else:
            continue  # nothing concluded about this control: no finding either way
        described = "; ".join(f"finding {f['id']} \"{f['title']}\" ({f['severity']}, {f['status']})" for f in found)
        description = (f"{len(runs)} sample run(s) evidence {control}: {len(passed)} passed, {len(failed)} failed. "
                       + (f"{len(retests)} re-test run(s) verify remediation and are not counted as samples. "
                          if retests else "")
                       + (f"{len(uncounted)} run(s) that are no window's sample (late, early, unplanned or outside the "
                          f"period) are recorded but not counted. "
                          if uncounted else "")
                       + (f"Exceptions: {described}." if described else
                          wording.NO_EXCEPTIONS if state == "satisfied" else
                          "Failed runs await triage; no exception is confirmed yet."))
        finding: dict[str, Any] = {
            "uuid": stable_uuid(ev, "objective", control),
            "title": title(f"{control} {ev.catalog.name(control)}".strip()),
            "description": description,
            "props": props(conclusion="objective"),
            "target": {"type": "objective-id", "target-id": control, "status": {"state": state}},
        }
        related = [tid for r in evidence_runs for tid in turn_ids.get(r["id"], [])]
        related += [f["turn_id"] for f in found if f.get("turn_id") and f["run_id"] in turn_ids]
        if related:
            finding["related-observations"] = [{"observation-uuid": stable_uuid(ev, "turn", tid)}
                                               for tid in dict.fromkeys(related)]
        out.append(finding)
    return out


def _turn_ids(ev: EvidenceSet) -> dict[int, list[int]]:
    """Each run's turn ids in transcript order, from the turn records every file shares (no read of its own)."""
    return {run["id"]: [t["id"] for t in turns] for run, turns in ev.iter_transcripts() if turns}


def assessment_results(ev: EvidenceSet) -> dict[str, Any]:
    turn_ids = _turn_ids(ev)
    stamps = sorted(s for r in ev.runs for s in (r["started_at"], r["finished_at"]) if s)
    result: dict[str, Any] = {
        "uuid": stable_uuid(ev, "result", ",".join(ev.selected_windows or ["all"])),
        "title": title(f"Red-team results: {ev.engagement['name']}"
                       + (f" (windows {', '.join(ev.selected_windows)})" if ev.selected_windows else "")),
        "description": f"{len(ev.runs)} scenario runs, {sum(len(v) for v in turn_ids.values())} turns. "
                       f"{ev.engagement['dating']}",
        "start": stamps[0] if stamps else when(ev),
        "reviewed-controls": _reviewed_controls(ev),
    }
    if stamps:
        result["end"] = stamps[-1]
    if turn_ids:
        result["observations"] = _observations(ev)
    exceptions = oscal_findings.exceptions(ev)
    if exceptions:
        result["risks"] = oscal_findings.risks(ev, exceptions)
    findings = _objective_findings(ev, turn_ids) + oscal_findings.oscal_findings(ev, exceptions, turn_ids)
    if findings:
        result["findings"] = findings
    document: dict[str, Any] = {
        "uuid": stable_uuid(ev, "assessment-results", ",".join(ev.selected_windows or ["all"])),
        "metadata": metadata(ev, f"Red-team assessment results: {ev.engagement['name']}"),
        "import-ap": {"href": "assessment-plan.json"},
        "results": [result],
    }
    back = oscal_findings.back_matter(ev, ev.attachments)
    if back:
        document["back-matter"] = back
    return {"assessment-results": document}


def poam(ev: EvidenceSet) -> dict[str, Any] | None:
    """Open findings as POA&M items; None when nothing is open (OSCAL needs at least one item).

    The findings and risks are the assessment results' own (same UUIDs, same content), and the
    observations they relate are copied in, so the POA&M can be followed on its own.
    """
    open_findings = [f for f in ev.findings if f["status"] in OPEN_STATUSES]
    if not open_findings:
        return None
    turn_ids = _turn_ids(ev)
    findings = oscal_findings.oscal_findings(ev, open_findings, turn_ids)
    items = []
    for f in open_findings:
        items.append({"uuid": stable_uuid(ev, "poam-item", f["id"]), "title": title(f["title"]),
                      "description": f"Finding {f['id']} ({f['severity']}, {f['status']}) against "
                                     f"{', '.join(f['controls']) or 'no control'}: {f['impact'] or f['title']} "
                                     f"Priority {f['priority'].replace('_', ' ')}, due {f['due_date']}"
                                     + (f", overdue by {f['days_overdue']} day(s)." if f["overdue"] else "."),
                      "props": props(severity=f["severity"], finding=f["id"], priority=f["priority"],
                                     due_date=f["due_date"], overdue="yes" if f["overdue"] else "no"),
                      "related-findings": [{"finding-uuid": oscal_findings.finding_uuid(ev, f["id"], c)}
                                           for c in oscal_findings.targets(f)],
                      "related-risks": [{"risk-uuid": oscal_findings.risk_uuid(ev, f["id"])}]})
    document: dict[str, Any] = {
        "uuid": stable_uuid(ev, "poam"),
        "metadata": metadata(ev, f"Plan of action and milestones: {ev.engagement['name']}"),
        "import-ssp": {"href": SSP_FILE},
    }
    # Only the turns the findings relate, read only from their runs.
    related = {t for f in open_findings for t in oscal_findings.related_turns(f, turn_ids)}
    if related:
        runs = {r for f in open_findings for r in oscal_findings.finding_runs(f)}
        subset = dataclasses.replace(ev, runs=[r for r in ev.runs if r["id"] in runs])
        document["observations"] = _observations(subset, related)  # streamed as the file is written
    document.update({"risks": oscal_findings.risks(ev, open_findings), "findings": findings, "poam-items": items})
    back = oscal_findings.back_matter(ev, [a for f in open_findings for a in f.get("attachments", [])])
    if back:
        document["back-matter"] = back
    return {"plan-of-action-and-milestones": document}
