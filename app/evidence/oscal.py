"""OSCAL 1.1 documents for the bundle: assessment plan, assessment results, plan of action and milestones.

Written as plain dicts by Redline's own code (the test suite checks them with
the maintained OSCAL models). OSCAL vocabulary: each red-team turn is an
observation whose method is TEST; each criterion or control objective tested
gets a finding, satisfied or not-satisfied; open findings become POA&M items.
UUIDs are derived (uuid5) from the engagement and the row ids, so the same
data always gives the same documents.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any, Iterator, Optional

from app import __version__
from app.evidence import tables, wording
from app.evidence.collect import EvidenceSet, iso
from app.findings import OPEN_STATUSES
from app.text import one_line

OSCAL_VERSION = "1.1.2"
PROP_NS = "urn:redline"
_NAMESPACE = uuid.UUID("5b8e1f0c-3d47-4f6a-9c2e-7a1d0b6e4c93")
_RISK_STATUS = {"open": "open", "remediating": "remediating", "retest_failed": "open"}


def stable_uuid(ev: EvidenceSet, *parts: object) -> str:
    """The same UUID for the same engagement object, in every export."""
    key = "/".join([ev.engagement["name"], str(ev.engagement_id), *map(str, parts)])
    return str(uuid.uuid5(_NAMESPACE, key))


def _title(text: str) -> str:
    return one_line(text or "", 200).strip() or "(untitled)"


def _props(**values: Any) -> list[dict[str, str]]:
    return [{"name": k.replace("_", "-"), "ns": PROP_NS, "value": str(v).strip()}
            for k, v in values.items() if v is not None and str(v).strip()]


def _when(ev: EvidenceSet, *candidates: Optional[str]) -> str:
    """The first timestamp given, else the evidence's own as-of time (OSCAL wants a date everywhere)."""
    for value in candidates:
        if value:
            return value
    return iso(ev.data_as_of) or "1970-01-01T00:00:00+00:00"


def _metadata(ev: EvidenceSet, title: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"title": _title(title), "last-modified": _when(ev), "version": __version__,
                            "oscal-version": OSCAL_VERSION}
    if ev.engagement.get("client"):
        meta["parties"] = [{"uuid": stable_uuid(ev, "party", "client"), "type": "organization",
                            "name": _title(ev.engagement["client"])}]
    return meta


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


def _components(ev: EvidenceSet) -> list[dict[str, Any]]:
    tested = {r["system_id"] for r in ev.runs}
    out = []
    for s in ev.systems:
        if not (s["in_scope"] or s["id"] in tested):
            continue
        out.append({"uuid": stable_uuid(ev, "system", s["id"]), "type": "service", "title": _title(s["name"]),
                    "description": s["description"] or f"AI system {s['name']} ({s['kind']} target).",
                    "status": {"state": "operational" if s["in_scope"] else "other"},
                    "props": _props(target_kind=s["kind"], in_scope="yes" if s["in_scope"] else "no",
                                    owner=s["owner"])})
    return out


def _subjects(ev: EvidenceSet) -> list[dict[str, Any]]:
    return [{"subject-uuid": c["uuid"], "type": "component"} for c in _components(ev)]


def assessment_plan(ev: EvidenceSet) -> dict[str, Any]:
    name = ev.engagement["name"]
    plan: dict[str, Any] = {
        "uuid": stable_uuid(ev, "assessment-plan"),
        "metadata": _metadata(ev, f"Red-team assessment plan: {name}"),
        "import-ssp": {"href": "../data/systems.json",
                       "remarks": "Redline holds no OSCAL system security plan; the systems in scope are listed in "
                                  "data/systems.json."},
        "reviewed-controls": _reviewed_controls(ev),
    }
    components = _components(ev)
    activities = []
    for scen in ev.scenarios:
        activity: dict[str, Any] = {
            "uuid": stable_uuid(ev, "scenario", scen["id"]), "title": _title(f"{scen['scenario_id']}: {scen['title']}"),
            "description": scen["description"] or scen["title"] or scen["scenario_id"],
            "props": _props(method="TEST", category=scen["category"], severity=scen["severity"],
                            scenario_sha256=scen["sha256"], methodology=scen["methodology"])}
        if scen["controls"]:
            activity["related-controls"] = {"control-selections": [
                {"include-controls": [{"control-id": c} for c in scen["controls"]]}]}
        activities.append(activity)
    local: dict[str, Any] = {}
    if components:
        local["components"] = components
    if activities:
        local["activities"] = activities
    if local:
        plan["local-definitions"] = local
    if components:
        plan["assessment-subjects"] = [{"type": "component", "include-subjects": _subjects(ev)}]
    tasks = []
    for w in ev.windows:
        task: dict[str, Any] = {"uuid": stable_uuid(ev, "window", w["id"]), "type": "action",
                                "title": _title(f"Test window {w['name']}"),
                                "description": f"Planned red-team testing window ({w['status']}, {w['runs']} runs).",
                                "timing": {"within-date-range": {"start": f"{w['start']}T00:00:00+00:00",
                                                                 "end": f"{w['end']}T23:59:59+00:00"}}}
        if activities and components:
            task["associated-activities"] = [{"activity-uuid": a["uuid"], "subjects": [
                {"type": "component", "include-subjects": _subjects(ev)}]} for a in activities]
        tasks.append(task)
    if tasks:
        plan["tasks"] = tasks
    return {"assessment-plan": plan}


def _observations(ev: EvidenceSet) -> Iterator[dict[str, Any]]:
    for run, turns in ev.iter_transcripts():
        for t in turns:
            verdicts = "; ".join(f"{v['detector'] or 'auto'} {v['outcome']}: {v['reason']}" for v in t["auto_verdicts"])
            human = "; ".join(f"{v['actor'] or 'tester'} {v['outcome']}: {v['reason']}" for v in t["human_verdicts"])
            yield {
                "uuid": stable_uuid(ev, "turn", t["id"]),
                "title": _title(f"Run {run['id']} step {t['step']} sample {t['sample']}: {run['scenario_id']}"),
                "description": (f"Red-team turn ({t['kind']}) of scenario {run['scenario_id']} against "
                                f"{run['system']}; outcome {t['outcome'] or 'none'}. Automatic verdicts: "
                                f"{verdicts or 'none'}. Tester verdicts: {human or 'none'}."),
                "methods": ["TEST"],
                "types": ["control-objective"],
                "props": _props(run=run["id"], turn=t["id"], outcome=t["outcome"], status=t["status"],
                                error_type=t["error_type"], model_id=t["model_id"]),
                "subjects": [{"subject-uuid": stable_uuid(ev, "system", run["system_id"]), "type": "component"}],
                "relevant-evidence": [{"href": f"../transcripts/{run['id']}.jsonl",
                                       "description": f"Turn {t['id']}: the request as sent and the response as "
                                                      "received."}],
                "collected": _when(ev, t["finished_at"], t["started_at"], run["started_at"], run["created_at"]),
            }


def _findings(ev: EvidenceSet, turn_ids: dict[int, list[int]]) -> list[dict[str, Any]]:
    """One finding per criterion or control objective tested: not-satisfied on any exception, else satisfied."""
    runs_for: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in ev.runs:
        for criterion, _ in tables.controls_of_run(ev, run):
            runs_for[criterion].append(run)
    exceptions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in ev.findings:
        if f["status"] != "dismissed":
            for control in f["controls"]:
                exceptions[control].append(f)
    out = []
    for control in _control_ids(ev):
        runs = runs_for.get(control, [])
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
        description = (f"{len(runs)} run(s) evidence {control}: {len(passed)} passed, {len(failed)} failed. "
                       + (f"Exceptions: {described}." if described else
                          wording.NO_EXCEPTIONS if state == "satisfied" else "Exceptions noted in failed runs."))
        finding: dict[str, Any] = {
            "uuid": stable_uuid(ev, "objective", control),
            "title": _title(f"{control} {ev.catalog.name(control)}".strip()),
            "description": description,
            "target": {"type": "objective-id", "target-id": control, "status": {"state": state}},
        }
        related = [tid for r in evidence_runs for tid in turn_ids.get(r["id"], [])]
        related += [f["turn_id"] for f in found if f.get("turn_id") and f["run_id"] in turn_ids]
        if related:
            finding["related-observations"] = [{"observation-uuid": stable_uuid(ev, "turn", tid)}
                                               for tid in dict.fromkeys(related)]
        out.append(finding)
    return out


def assessment_results(ev: EvidenceSet) -> dict[str, Any]:
    from sqlmodel import select

    from app.store.models import Run, Turn

    turn_ids: dict[int, list[int]] = defaultdict(list)
    run_ids = set(ev.run_ids())
    query = (select(Turn.id, Turn.run_id).join(Run, Run.id == Turn.run_id).where(Run.engagement_id == ev.engagement_id)
             .order_by(Turn.run_id, Turn.step, Turn.sample, Turn.id))
    for tid, rid in ev.db.exec(query):  # type: ignore[call-overload]
        if rid in run_ids:
            turn_ids[rid].append(tid)
    stamps = sorted(s for r in ev.runs for s in (r["started_at"], r["finished_at"]) if s)
    result: dict[str, Any] = {
        "uuid": stable_uuid(ev, "result", ",".join(ev.selected_windows or ["all"])),
        "title": _title(f"Red-team results: {ev.engagement['name']}"
                        + (f" (windows {', '.join(ev.selected_windows)})" if ev.selected_windows else "")),
        "description": f"{len(ev.runs)} scenario runs, {sum(len(v) for v in turn_ids.values())} turns. "
                       f"{ev.engagement['dating']}",
        "start": stamps[0] if stamps else _when(ev),
        "reviewed-controls": _reviewed_controls(ev),
    }
    if stamps:
        result["end"] = stamps[-1]
    if turn_ids:
        result["observations"] = _observations(ev)
    findings = _findings(ev, turn_ids)
    if findings:
        result["findings"] = findings
    return {"assessment-results": {
        "uuid": stable_uuid(ev, "assessment-results", ",".join(ev.selected_windows or ["all"])),
        "metadata": _metadata(ev, f"Red-team assessment results: {ev.engagement['name']}"),
        "import-ap": {"href": "assessment-plan.json"},
        "results": [result],
    }}


def poam(ev: EvidenceSet) -> Optional[dict[str, Any]]:
    """Open findings as POA&M items; None when nothing is open (OSCAL needs at least one item)."""
    open_findings = [f for f in ev.findings if f["status"] in OPEN_STATUSES]
    if not open_findings:
        return None
    risks, findings, items = [], [], []
    for f in open_findings:
        risk_id, finding_id = stable_uuid(ev, "risk", f["id"]), stable_uuid(ev, "finding", f["id"])
        risk: dict[str, Any] = {
            "uuid": risk_id, "title": _title(f["title"]),
            "description": f["impact"] or f["title"],
            "statement": f["steps_to_reproduce"] or f"See finding {f['id']} in the bundle's report.",
            "status": _RISK_STATUS.get(f["status"], "open"),
            "props": _props(severity=f["severity"], finding_status=f["status"], exception_type=f["exception_type"]),
        }
        remediations = [{"uuid": stable_uuid(ev, "response", r["id"]), "lifecycle": "planned",
                         "title": _title(f"Management response {r['id']}"),
                         "description": r["remediation"] or r["response"] or "No remediation described.",
                         "remarks": f"Owner: {r['owner'] or 'not named'}; date: {r['response_date'] or 'not set'}."}
                        for r in f["responses"]]
        if remediations:
            risk["remediations"] = remediations
        risks.append(risk)
        control = f["controls"][0] if f["controls"] else "unmapped"
        findings.append({"uuid": finding_id, "title": _title(f["title"]), "description": f["impact"] or f["title"],
                         "target": {"type": "objective-id", "target-id": control,
                                    "status": {"state": "not-satisfied"}},
                         "related-risks": [{"risk-uuid": risk_id}]})
        items.append({"uuid": stable_uuid(ev, "poam-item", f["id"]), "title": _title(f["title"]),
                      "description": f"Finding {f['id']} ({f['severity']}, {f['status']}) against "
                                     f"{', '.join(f['controls']) or 'no control'}: {f['impact'] or f['title']}",
                      "props": _props(severity=f["severity"], finding=f["id"]),
                      "related-findings": [{"finding-uuid": finding_id}],
                      "related-risks": [{"risk-uuid": risk_id}]})
    return {"plan-of-action-and-milestones": {
        "uuid": stable_uuid(ev, "poam"),
        "metadata": _metadata(ev, f"Plan of action and milestones: {ev.engagement['name']}"),
        "import-ssp": {"href": "../data/systems.json"},
        "risks": risks, "findings": findings, "poam-items": items,
    }}
