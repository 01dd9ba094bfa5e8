"""The evidence tables, as rows of plain values, shared by the report, the workpapers and OSCAL.

One function per evidence type of the seed (test plan, test results,
remediation verification, continuous monitoring, exception log) plus the
sampling table. Rows are dicts with stable keys; each sink chooses columns.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterator, Optional

from app.evidence import wording
from app.evidence.collect import EvidenceSet

NO_WINDOW = "(outside any window)"


def test_plan(ev: EvidenceSet) -> list[dict[str, Any]]:
    """The control matrix mapped to criteria and scenarios, with coverage from the alignment."""
    gaps = {row.get("mapping_id") for row in (ev.coverage or {}).get("gaps", [])}
    unknown = {row.get("mapping_id"): row.get("unknown_scenarios") or [] for row in (ev.coverage or {}).get("rows", [])}
    rows = []
    for m in ev.mappings:
        if ev.coverage is not None:
            state = "Gap: no runnable scenario" if m["id"] in gaps else "Covered"
            if unknown.get(m["id"]):
                state += f" (unknown scenarios: {', '.join(unknown[m['id']])})"
        else:
            state = f"{len(m['scenarios'])} scenario(s) mapped"
        rows.append(dict(m, coverage=state))
    for control in (ev.coverage or {}).get("unmapped_ai_controls", []):
        rows.append({"id": None, "criterion": control, "criterion_name": ev.catalog.name(control), "client_ref": "",
                     "activity": "", "scenarios": [], "scenarios_run": [], "runs": 0, "windows_tested": [],
                     "coverage": "Gap: AI control not in the client's matrix"})
    return rows


def controls_of_run(ev: EvidenceSet, run: dict[str, Any]) -> list[tuple[str, Optional[dict[str, Any]]]]:
    """The (criterion, matrix row) pairs a run evidences: rows mapping its scenario, then its own controls."""
    pairs: list[tuple[str, Optional[dict[str, Any]]]] = [
        (m["criterion"], m) for m in ev.mappings if run["scenario_id"] in m["scenarios"]]
    covered = {c for c, _ in pairs}
    pairs += [(c, None) for c in run["controls"] if c not in covered]
    return pairs


def results_of_tests(ev: EvidenceSet) -> Iterator[dict[str, Any]]:
    """Section-4 style rows: per control and run, the test performed and the result."""
    for run in ev.runs:
        performed = wording.test_performed(run)
        for criterion, mapping in controls_of_run(ev, run):
            yield {"criterion": criterion, "criterion_name": ev.catalog.name(criterion),
                   "client_ref": (mapping or {}).get("client_ref", ""),
                   "activity": (mapping or {}).get("activity", "") or "(not in the client's control matrix)",
                   "test_performed": performed, "result": run["result"], "run_id": run["id"],
                   "scenario_id": run["scenario_id"], "system": run["system"], "window": run["window"],
                   "tested_at": run["started_at"] or run["created_at"], "verdict": run["verdict"],
                   "dating_flags": "; ".join(run["dating_flags"])}


def monitoring(ev: EvidenceSet) -> list[dict[str, Any]]:
    """Continuous monitoring: per control and test window, how the runs came out (the Type II picture)."""
    windows = [w["name"] for w in ev.windows if w["selected"]]
    counts: dict[tuple[str, str], Counter[str]] = {}
    controls: list[str] = [m["criterion"] for m in ev.mappings]
    for run in ev.runs:
        bucket = run["window"] or NO_WINDOW
        if bucket == NO_WINDOW and NO_WINDOW not in windows:
            windows.append(NO_WINDOW)
        for criterion, _ in controls_of_run(ev, run):
            if criterion not in controls:
                controls.append(criterion)
            counts.setdefault((criterion, bucket), Counter())[run["verdict"] or "unfinished"] += 1
    rows = []
    for criterion in dict.fromkeys(controls):
        for window in windows:
            c = counts.get((criterion, window), Counter())
            if window == NO_WINDOW and not c:
                continue  # the out-of-window column only where something ran there
            rows.append({"criterion": criterion, "criterion_name": ev.catalog.name(criterion), "window": window,
                         "runs": sum(c.values()), "pass": c["pass"], "fail": c["fail"], "review": c["review"],
                         "error": c["error"], "result": wording.rollup_result(dict(c))})
    return rows


def exception_log(ev: EvidenceSet) -> list[dict[str, Any]]:
    """Control failures (findings, and failed runs no finding covers) with management's responses."""
    audit_type = ev.engagement["audit_type"]
    rows: list[dict[str, Any]] = []
    covered_runs = set()
    for f in ev.findings:
        if f["status"] == "dismissed":
            covered_runs.add(f["run_id"])
            continue
        covered_runs.add(f["run_id"])
        base = {"exception": f"finding {f['id']}", "finding_id": f["id"], "title": f["title"],
                "controls": ", ".join(f["controls"]), "exception_type": f["exception_type"],
                "severity": f["severity"], "status": f["status"], "observed_at": f["created_at"],
                "run_id": f["run_id"], "description": f["impact"] or f["title"]}
        for response in f["responses"] or [None]:
            rows.append(dict(base, **_response_columns(response)))
    for run in ev.runs:
        if run["verdict"] == "fail" and run["id"] not in covered_runs:
            rows.append({"exception": f"run {run['id']}", "finding_id": None, "title": run["title"],
                         "controls": ", ".join(run["controls"]),
                         "exception_type": wording.exception_kind("", audit_type), "severity": run["severity"],
                         "status": "no finding recorded", "observed_at": run["started_at"], "run_id": run["id"],
                         "description": run["result"], **_response_columns(None)})
    return rows


def _response_columns(response: Optional[dict[str, Any]]) -> dict[str, Any]:
    if response is None:
        return {"response": "No management response recorded.", "cause": "", "mitigating_controls": "",
                "remediation": "", "owner": "", "response_date": ""}
    return {key: response.get(key) or "" for key in
            ("response", "cause", "mitigating_controls", "remediation", "owner", "response_date")}


def sampling_rows(ev: EvidenceSet) -> list[dict[str, Any]]:
    """Windows planned, ran, missed; and how many runs fell outside every window."""
    rows = [{"window": w["name"], "start": w["start"], "end": w["end"], "runs": w["runs"], "status": w["status"],
             "in_bundle": "yes" if w["selected"] else "no (not selected for this export)"} for w in ev.windows]
    outside = sum(1 for r in ev.runs if r["window_id"] is None)
    if outside:
        rows.append({"window": NO_WINDOW, "start": "", "end": "", "runs": outside,
                     "status": "flagged: not in a planned window", "in_bundle": "yes"})
    return rows


def findings_rows(ev: EvidenceSet) -> list[dict[str, Any]]:
    rows = []
    for f in ev.findings:
        cross = f["crosswalk"]
        rows.append(dict(f, controls_text=", ".join(f["controls"]),
                         iso42001="; ".join(_cross(c, "iso42001") for c in cross),
                         nist_ai_rmf="; ".join(_cross(c, "nist_ai_rmf") for c in cross),
                         eu_ai_act="; ".join(_cross(c, "eu_ai_act") for c in cross),
                         quote=(f.get("evidence") or {}).get("quote", "")))
    return rows


def _cross(row: dict[str, str], key: str) -> str:
    via = f" (via {row['via']})" if row.get("via") else ""
    return f"{row['control']}: {row[key]}{via}" if row.get(key) else ""
