"""The evidence tables, as rows of plain values, shared by the report, the workpapers and OSCAL.

One function per evidence type of the seed (test plan, test results,
remediation verification, continuous monitoring, exception log) plus the
sampling table. Rows are dicts with stable keys; each sink chooses columns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from app.evidence import wording
from app.evidence.collect import EvidenceSet
from app.lifecycle import EXCEPTION_STATUSES

NO_WINDOW = "(counted in no window)"
NO_TEST_WINDOWS = "(no test windows planned)"  # e.g. Type I: every dated run is a sample of the as-of date


def test_plan(ev: EvidenceSet) -> list[dict[str, Any]]:
    """The control matrix mapped to criteria and scenarios, with coverage from the alignment."""
    gaps = {row.get("mapping_id") for row in (ev.coverage or {}).get("gaps", [])}
    unknown = {row.get("mapping_id"): row.get("unknown_scenarios") or [] for row in (ev.coverage or {}).get("rows", [])}
    known = {row.get("mapping_id"): row.get("scenarios") or [] for row in (ev.coverage or {}).get("rows", [])}
    waiting = {row.get("mapping_id"): row.get("waiting") or [] for row in (ev.coverage or {}).get("rows", [])}
    rows = []
    for m in ev.mappings:
        if ev.coverage is not None:
            state = "Gap: no runnable scenario" if m["id"] in gaps else "Covered"
            waits = waiting.get(m["id"]) or []
            if waits and len(waits) == len(known.get(m["id"]) or []):
                state = "Planned"
            if waits:  # planned, not broken: each names the client endpoint it waits for
                state += "; " + "; ".join(f"{sid} {why}" for sid, why in waits)
            if unknown.get(m["id"]):
                state += f" (unknown scenarios: {', '.join(unknown[m['id']])})"
        else:
            state = f"{len(m['scenarios'])} scenario(s) mapped"
        rows.append(dict(m, coverage=state))
    for control in (ev.coverage or {}).get("unmapped_ai_controls", []):
        # Not in the client's matrix, but scenarios that declare the control may still have tested it.
        tested = [r for r in ev.runs if control in r["controls"]]
        if tested:
            state = (f"Not in the client's matrix; tested by {len(tested)} run(s) of scenarios that declare it")
        else:
            state = "Gap: AI control not in the client's matrix, and no run tests it"
        rows.append({"id": None, "criterion": control, "criterion_name": ev.catalog.name(control), "client_ref": "",
                     "activity": "", "scenarios": [], "scenarios_run": sorted({r["scenario_id"] for r in tested}),
                     "runs": len(tested), "windows_tested": sorted({r["window"] for r in tested if r["window"]}),
                     "coverage": state})
    return rows


def controls_of_run(ev: EvidenceSet, run: dict[str, Any]) -> list[tuple[str, dict[str, Any] | None]]:
    """The (criterion, matrix row) pairs a run evidences: rows mapping its scenario, then its own controls."""
    pairs: list[tuple[str, dict[str, Any] | None]] = [
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
                   "scenario_id": run["scenario_id"], "strategy": run.get("strategy", ""), "system": run["system"],
                   "window": run["window"],
                   "tested_at": run["started_at"] or run["created_at"], "verdict": run["verdict"],
                   "run_type": run["run_type"], "system_sha256": run["system_sha256"], "dating_flags": "; ".join(run["dating_flags"])}


def strategy_variants(ev: EvidenceSet) -> list[dict[str, Any]]:
    """Per scenario and system that ran under a strategy: the plain verdicts beside each variant's.

    The sentence is computed from these runs alone: which forms of the attack
    the control held against and which it failed under.
    """
    groups: dict[tuple[str, str], dict[str, list[str]]] = {}
    controls: dict[str, list[str]] = {}
    for run in ev.runs:
        if run["placement"] == "retest":
            continue
        controls[run["scenario_id"]] = list(run["controls"])
        forms = groups.setdefault((run["scenario_id"], run["system"]), {})
        forms.setdefault(run.get("strategy") or "", []).append(run["verdict"] or "unfinished")
    rows = []
    for (scenario_id, system), forms in groups.items():
        if set(forms) == {""}:
            continue
        held = [name or "plain" for name, verdicts in forms.items() if verdicts and set(verdicts) == {"pass"}]
        failed = [name or "plain" for name, verdicts in forms.items() if "fail" in verdicts]
        other = [name or "plain" for name, verdicts in forms.items()
                 if (name or "plain") not in held and (name or "plain") not in failed]
        parts = ([f"held {', '.join(held)}"] if held else []) + ([f"failed under {', '.join(failed)}"] if failed
                                                                 else []) \
            + ([f"not conclusive under {', '.join(other)}"] if other else [])
        rows.append({"scenario_id": scenario_id, "system": system, "controls": ", ".join(controls[scenario_id]),
                     "plain": ", ".join(forms.get("", [])) or "not run",
                     "variants": "; ".join(f"{name}: {', '.join(v)}" for name, v in forms.items() if name),
                     "summary": "; ".join(parts)})
    return rows


def monitoring(ev: EvidenceSet) -> list[dict[str, Any]]:
    """Continuous monitoring: per control and test window, how its operating-effectiveness samples came out.

    Runs count in the window they ran inside (the dating rule); re-tests are
    remediation verification and are left out here; late, early or unplanned
    runs are shown apart, in a column that is no window's sample.
    """
    windows = [w["name"] for w in ev.windows if w["selected"]]
    counts: dict[tuple[str, str], Counter[str]] = {}
    controls: list[str] = [m["criterion"] for m in ev.mappings]
    for run in ev.runs:
        if run["placement"] == "retest":
            continue
        bucket = run["counted_window"] or (NO_TEST_WINDOWS if run["is_sample"] else NO_WINDOW)
        if bucket not in windows:
            windows.append(bucket)
        for criterion, _ in controls_of_run(ev, run):
            if criterion not in controls:
                controls.append(criterion)
            counts.setdefault((criterion, bucket), Counter())[run["verdict"] or "unfinished"] += 1
    rows = []
    for criterion in dict.fromkeys(controls):
        for window in windows:
            c = counts.get((criterion, window), Counter())
            if window in (NO_WINDOW, NO_TEST_WINDOWS) and not c:
                continue  # these columns only where something ran there
            result = wording.rollup_result(dict(c))
            if window == NO_WINDOW:
                result = f"Not a sample of any window (late, early or unplanned runs): {result}"
            rows.append({"criterion": criterion, "criterion_name": ev.catalog.name(criterion), "window": window,
                         "runs": sum(c.values()), "pass": c["pass"], "fail": c["fail"], "review": c["review"],
                         "error": c["error"], "result": result})
    return rows


def exception_log(ev: EvidenceSet) -> list[dict[str, Any]]:
    """Triaged control failures (findings past ``draft``, not dismissed) with management's responses.

    A draft, and a failed run no finding covers, are not exceptions yet: they
    are listed apart by :func:`awaiting_triage`.
    """
    audit_type = ev.engagement["audit_type"]
    rows: list[dict[str, Any]] = []
    for f in ev.findings:
        if f["status"] not in EXCEPTION_STATUSES:
            continue
        runs = [o["run"] for o in f["occurrences"]]
        base = {"exception": f"finding {f['id']}", "finding_id": f["id"], "title": f["title"],
                "controls": ", ".join(f["controls"]), "exception_type": f["exception_type"],
                "exception_kind": wording.effective_exception_kind(f["exception_kind"], audit_type),
                "classified": f["exception_kind"] in wording.EXCEPTION_KINDS,
                "severity": f["severity"], "status": f["status"], "observed_at": f["created_at"],
                "run_id": f["run_id"], "runs": runs, "occurrences": wording.occurrences_text(f["occurrences"]),
                "regression_of": f.get("regression_of"), "description": f["impact"] or f["title"],
                "accepted_by": f["accepted_by"] if f["status"] == "risk_accepted" else "",
                "accepted_reason": f["accepted_reason"] if f["status"] == "risk_accepted" else "",
                "risk_acceptance": wording.risk_acceptance(f), **remediation_columns(f)}
        for response in f["responses"] or [None]:
            rows.append(dict(base, **_response_columns(response)))
    return rows


def remediation_columns(f: dict[str, Any]) -> dict[str, Any]:
    """A finding's priority, due date and overdue flag as the register and the exception log show them."""
    due = f"due {f['due_date']}" if f.get("due_date") else "no due date"
    if f.get("overdue"):
        due = f"OVERDUE by {f['days_overdue']} day(s) ({due})"
    return {"priority": (f.get("priority") or "").replace("_", " "), "due_date": f.get("due_date") or "",
            "overdue": "yes" if f.get("overdue") else "no", "due": due,
            "attachments_text": "; ".join(f"{a['bundle_path']} (SHA-256 {a['sha256']})"
                                          for a in f.get("attachments", []))}


def awaiting_triage(ev: EvidenceSet) -> list[dict[str, Any]]:
    """Failures no tester has decided on yet: draft findings, and failed runs no finding covers."""
    rows: list[dict[str, Any]] = []
    covered: set[int] = set()
    for f in ev.findings:
        covered.update(o["run"] for o in f["occurrences"])
        if f["run_id"] is not None:
            covered.add(f["run_id"])
        if f["status"] == "draft":
            rows.append({"item": f"finding {f['id']}", "finding_id": f["id"], "title": f["title"],
                         "controls": ", ".join(f["controls"]), "severity": f["severity"], "status": "draft",
                         "observed_at": f["created_at"], "runs": [o["run"] for o in f["occurrences"]],
                         "occurrences": wording.occurrences_text(f["occurrences"]),
                         "regression_of": f.get("regression_of"), "description": f["impact"] or f["title"]})
    findings = {f["id"] for f in ev.findings}
    for run in ev.runs:
        if run["verdict"] != "fail" or run["id"] in covered or run.get("retest_of") in findings:
            continue  # a failing re-test belongs to the finding it re-tests
        rows.append({"item": f"run {run['id']}", "finding_id": None, "title": run["title"],
                     "controls": ", ".join(run["controls"]), "severity": run["severity"],
                     "status": "no finding recorded", "observed_at": run["started_at"], "runs": [run["id"]],
                     "occurrences": wording.occurrences_text([{"run": run["id"], "started_at": run["started_at"]}]),
                     "regression_of": None, "description": run["result"]})
    return rows


def _response_columns(response: dict[str, Any] | None) -> dict[str, Any]:
    if response is None:
        return {"response": "No management response recorded.", "cause": "", "mitigating_controls": "",
                "remediation": "", "owner": "", "response_date": ""}
    return {key: response.get(key) or "" for key in
            ("response", "cause", "mitigating_controls", "remediation", "owner", "response_date")}


def sampling_rows(ev: EvidenceSet) -> list[dict[str, Any]]:
    """Per planned window: population, sample, runs not counted, re-tests, status and rationale.

    Then one row for the runs that count in no window (late, early, unplanned).
    """
    rows = []
    for w in ev.windows:
        late = w["not_counted"]
        rows.append({"window": w["name"], "start": w["start"], "end": w["end"], "population": w["population"],
                     "sampled": w["sampled"], "runs": w["runs"], "status": w["status"],
                     "not_counted": ", ".join(f"run {x['run']} ({x['kind']})" for x in late),
                     "retests": ", ".join(f"run {r}" for r in w["retests"]), "rationale": w["rationale"],
                     "in_bundle": "yes" if w["selected"] else "no (not selected for this export)"})
    outside = [r for r in ev.runs if r["placement"] not in ("sample", "retest") and r["window_id"] is None]
    if outside:
        rows.append({"window": NO_WINDOW, "start": "", "end": "", "population": None, "sampled": None,
                     "runs": 0, "status": "flagged: not in a planned window",
                     "not_counted": ", ".join(f"run {r['id']} ({r['placement']})" for r in outside),
                     "retests": "", "rationale": "Runs tagged with no planned window are no window's sample.",
                     "in_bundle": "yes"})
    return rows


def system_configurations(ev: EvidenceSet) -> list[dict[str, Any]]:
    """The system as tested: each distinct configuration runs were made against, with those runs.

    Read from each run's own snapshot, so an engagement edit after a run (a
    demo hardened, a model upgraded) never rewrites what that run was tested
    against; the current configuration is marked for comparison.
    """
    current = {s["name"]: s.get("config_sha256", "") for s in ev.systems}
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for run in ev.runs:
        key = (run["system"], run["system_sha256"] or "")
        group = groups.setdefault(key, {"system": run["system"], "sha256": run["system_sha256"] or "",
                                        "configuration": wording.configuration(run["system_snapshot"]),
                                        "run_ids": [], "first": run["started_at"], "last": run["started_at"]})
        group["run_ids"].append(run["id"])
        group["last"] = run["started_at"] or group["last"]
    rows = []
    for (system, sha), group in groups.items():
        is_current = bool(sha) and current.get(system) == sha
        rows.append(dict(group, runs=", ".join(str(r) for r in group["run_ids"]), count=len(group["run_ids"]),
                         current="yes" if is_current else ("unknown" if not sha else "no (changed since)")))
    return rows


def findings_rows(ev: EvidenceSet) -> list[dict[str, Any]]:
    rows = []
    for f in ev.findings:
        cross = f["crosswalk"]
        rows.append(dict(f, controls_text=", ".join(f["controls"]),
                         iso42001="; ".join(_cross(c, "iso42001") for c in cross),
                         nist_ai_rmf="; ".join(_cross(c, "nist_ai_rmf") for c in cross),
                         eu_ai_act="; ".join(_cross(c, "eu_ai_act") for c in cross),
                         quote=(f.get("evidence") or {}).get("quote", ""),
                         occurrences_text=wording.occurrences_text(f["occurrences"]),
                         risk_acceptance=wording.risk_acceptance(f), **remediation_columns(f)))
    return rows


def _cross(row: dict[str, str], key: str) -> str:
    via = f" (via {row['via']})" if row.get("via") else ""
    return f"{row['control']}: {row[key]}{via}" if row.get(key) else ""


TAXONOMY_LABELS = {"owasp": "OWASP Top 10 for LLM Applications (2025)", "atlas": "MITRE ATLAS"}


def attack_coverage(ev: EvidenceSet) -> list[dict[str, Any]]:
    """Where the engagement stands on each OWASP LLM risk and ATLAS technique, from the same runs as the SOC 2 tables.

    A run counts for every id its scenario cites; re-tests are remediation
    verification and are left out, as in continuous monitoring. An id no
    scenario of the bundle cites is listed as not tested, so the table answers
    "where are we on LLM01 to LLM10?" with every row, not only the good ones.
    """
    by_pk = {s["id"]: s for s in ev.scenarios}
    by_scenario_id = {s["scenario_id"]: s for s in ev.scenarios}
    rows = []
    for field_name, label in TAXONOMY_LABELS.items():
        counts: dict[str, Counter[str]] = {}
        scenarios: dict[str, dict[str, None]] = {}
        for run in ev.runs:
            scen = by_pk.get(run["scenario_pk"], {})
            for ident in scen.get(field_name, []):
                scenarios.setdefault(ident, {})[run["scenario_id"]] = None
                if run["placement"] != "retest":
                    counts.setdefault(ident, Counter())[run["verdict"] or "unfinished"] += 1
        open_findings: Counter[str] = Counter()
        for f in ev.findings:
            for ident in by_scenario_id.get(f.get("scenario_id") or "", {}).get(field_name, []):
                open_findings[ident] += bool(f["open"])
        for entry in ev.catalog.taxonomy(field_name):
            c = counts.get(entry["id"], Counter())
            rows.append({"taxonomy": label, "id": entry["id"], "name": entry["name"], "tactic": entry["tactic"],
                         "scenarios": ", ".join(scenarios.get(entry["id"], {})), "runs": sum(c.values()),
                         "pass": c["pass"], "fail": c["fail"], "review": c["review"], "error": c["error"],
                         "open_findings": open_findings[entry["id"]], "result": wording.rollup_result(dict(c))})
    return rows
