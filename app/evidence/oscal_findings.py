"""Redline's findings as OSCAL findings and risks, built once for both the assessment results and the POA&M.

A POA&M item must lead an auditor's tool to the very finding the assessment
results hold, so both documents take their findings from here: the same UUIDs
and the same content. An OSCAL finding has one target, so a Redline finding
becomes one OSCAL finding per control it fails. Each relates the observations
that show the failure and those of every re-test run (its ``Retest`` rows), and
one risk, which carries management's responses as remediations, with a
milestone on each response's date, and the finding's remediation plan (its
priority and due date, :mod:`app.remediation`) as a remediation whose
milestone is the due date. Attached files are back-matter resources (each with
its SHA-256), linked from the risk of the finding they belong to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from app.evidence import wording
from app.evidence.collect import EvidenceSet
from app.evidence.oscal_common import props, stable_uuid, taxonomy_props, title
from app.lifecycle import EXCEPTION_STATUSES

UNMAPPED = "unmapped"  # the target of a finding that names no control
# Finding status -> OSCAL risk status. A passed re-test still awaits the tester's close.
RISK_STATUS = {"draft": "investigating", "open": "open", "remediating": "remediating", "retest_failed": "open",
               "retest_passed": "remediating", "closed": "closed", "risk_accepted": "deviation-approved"}
REMEDIATED = ("retest_passed", "closed")  # a passing re-test verified the remediation


def exceptions(ev: EvidenceSet) -> list[dict[str, Any]]:
    """The findings that are exceptions: those a tester confirmed (the exception log's rule); a draft awaits
    triage and shows in the results only through its failed run's observations and objective conclusion."""
    return [f for f in ev.findings if f["status"] in EXCEPTION_STATUSES]


def targets(finding: Mapping[str, Any]) -> list[str]:
    """Every control the finding fails, each an OSCAL finding's target."""
    return list(dict.fromkeys(finding["controls"])) or [UNMAPPED]


def finding_uuid(ev: EvidenceSet, finding_id: int, control: str) -> str:
    return stable_uuid(ev, "finding", finding_id, control)


def risk_uuid(ev: EvidenceSet, finding_id: int) -> str:
    return stable_uuid(ev, "risk", finding_id)


def finding_runs(finding: Mapping[str, Any]) -> list[int]:
    """The runs whose turns a finding relates: the run that showed it, each later occurrence, each re-test run."""
    runs = [finding["run_id"]] if finding.get("run_id") else []
    runs += [o["run"] for o in finding.get("occurrences") or []]
    return list(dict.fromkeys(runs + [rt["run_id"] for rt in finding["retests"]]))


def related_turns(finding: Mapping[str, Any], turn_ids: Mapping[int, Sequence[int]]) -> list[int]:
    """For the run that showed the failure and each later occurrence, the failing turn (else every turn of
    that run); then every turn of each re-test run."""
    shown: list[int] = []
    seen = [(finding.get("run_id"), finding.get("turn_id"))]
    seen += [(o["run"], o.get("turn")) for o in finding.get("occurrences") or []]
    for run_id, turn_id in seen:
        turns = list(turn_ids.get(run_id or 0, []))
        shown += [turn_id] if turn_id in turns else turns
    retested = [t for rt in finding["retests"] for t in turn_ids.get(rt["run_id"], [])]
    return list(dict.fromkeys(shown + retested))


def oscal_findings(ev: EvidenceSet, findings: Iterable[dict[str, Any]],
                   turn_ids: Mapping[int, Sequence[int]]) -> list[dict[str, Any]]:
    """One OSCAL finding per (finding, control), not-satisfied, its re-tests told in the status remarks."""
    out = []
    scenarios = {s["scenario_id"]: s for s in ev.scenarios}  # what each finding's scenario cites (OWASP, ATLAS)
    for f in findings:
        related = related_turns(f, turn_ids)
        history = wording.retest_history(f["retests"])
        for control in targets(f):
            status: dict[str, Any] = {"state": "not-satisfied"}
            if history:
                status["remarks"] = history
            described = f"{f['impact'] or f['title']}. Severity {f['severity']}; status {f['status']}; " \
                        f"{f['exception_type']} exception."
            if control == UNMAPPED:
                described += " The finding names no control."
            item: dict[str, Any] = {
                "uuid": finding_uuid(ev, f["id"], control),
                "title": title(f"Finding {f['id']} ({control}): {f['title']}"),
                "description": described,
                "props": props(finding=f["id"], severity=f["severity"], finding_status=f["status"],
                               scenario=f.get("scenario_id")) + taxonomy_props(scenarios.get(f.get("scenario_id"), {})),
                "target": {"type": "objective-id", "target-id": control, "status": status},
                "related-risks": [{"risk-uuid": risk_uuid(ev, f["id"])}],
            }
            if related:
                item["related-observations"] = [{"observation-uuid": stable_uuid(ev, "turn", t)} for t in related]
            out.append(item)
    return out


def _remediation(ev: EvidenceSet, finding: Mapping[str, Any], response: Mapping[str, Any]) -> dict[str, Any]:
    """Management's response as an OSCAL remediation; its date, when it has one, as a milestone."""
    owner = response["owner"] or "not named"
    remediation: dict[str, Any] = {
        "uuid": stable_uuid(ev, "response", response["id"]),
        "lifecycle": "completed" if finding["status"] in REMEDIATED else "planned",
        "title": title(f"Management response {response['id']}"),
        "description": response["remediation"] or response["response"] or "No remediation described.",
        "props": props(owner=response["owner"], response_date=response["response_date"]),
        "remarks": f"Owner: {owner}; date: {response['response_date'] or 'not set'}.",
    }
    if response["response_date"]:
        remediation["tasks"] = [{
            "uuid": stable_uuid(ev, "milestone", response["id"]), "type": "milestone",
            "title": title(f"Management response dated {response['response_date']} (owner {owner})"),
            "description": response["response"] or remediation["description"],
            "timing": {"on-date": {"date": f"{response['response_date']}T00:00:00+00:00"}},
        }]
    return remediation


def _due(ev: EvidenceSet, finding: Mapping[str, Any]) -> dict[str, Any]:
    """The finding's priority and due date as a planned remediation whose milestone is the due date."""
    overdue = f"; overdue by {finding['days_overdue']} day(s) as of the evidence" if finding.get("overdue") else ""
    return {
        "uuid": stable_uuid(ev, "remediation-due", finding["id"]),
        "lifecycle": "completed" if finding["status"] in REMEDIATED else "planned",
        "title": title(f"Remediation of finding {finding['id']}: {finding['priority'].replace('_', ' ')} priority"),
        "description": f"Priority {finding['priority'].replace('_', ' ')} ({finding.get('priority_source')}), due "
                       f"{finding['due_date']}{overdue}.",
        "props": props(priority=finding["priority"], due_date=finding["due_date"],
                       overdue="yes" if finding.get("overdue") else "no"),
        "tasks": [{"uuid": stable_uuid(ev, "milestone-due", finding["id"]), "type": "milestone",
                   "title": title(f"Remediation due for finding {finding['id']}"),
                   "description": f"Finding {finding['id']} is to be remediated by {finding['due_date']}.",
                   "timing": {"on-date": {"date": f"{finding['due_date']}T00:00:00+00:00"}}}],
    }


def attachment_uuid(ev: EvidenceSet, attachment_id: int) -> str:
    return stable_uuid(ev, "attachment", attachment_id)


def back_matter(ev: EvidenceSet, attachments: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Attached files as OSCAL resources: what they are, who attached them, and the SHA-256 the chain recorded."""
    resources = []
    for a in attachments:
        on = (f"finding {a['finding_id']}" if a["finding_id"] else f"run {a['run_id']}" if a["run_id"]
              else f"control {a['control']}")
        resources.append({
            "uuid": attachment_uuid(ev, a["id"]), "title": title(f"Attachment {a['id']}: {a['filename']}"),
            "description": f"{a['note'] or 'No note.'} Attached to {on} by {a['attached_by']} at {a['attached_at']}.",
            "props": props(attachment=a["id"], attached_by=a["attached_by"], attached_at=a["attached_at"],
                           state_at_export=a["state"]),
            "rlinks": [{"href": f"../{a['bundle_path']}", "media-type": a["media_type"],
                        "hashes": [{"algorithm": "SHA-256", "value": a["sha256"]}]}],
        })
    return {"resources": resources} if resources else {}


def risks(ev: EvidenceSet, findings: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One risk per finding, its remediations from management's responses, then its due date."""
    out = []
    for f in findings:
        risk: dict[str, Any] = {
            "uuid": risk_uuid(ev, f["id"]), "title": title(f["title"]),
            "description": f["impact"] or f["title"],
            "statement": f["steps_to_reproduce"] or f"See finding {f['id']} in the bundle's report.",
            "status": RISK_STATUS.get(f["status"], "open"),
            "props": props(finding=f["id"], severity=f["severity"], finding_status=f["status"],
                           exception_type=f["exception_type"], approver=f.get("accepted_by"),
                           acceptance_reason=f.get("accepted_reason")),
        }
        remediations = [_remediation(ev, f, r) for r in f["responses"]]
        if f.get("due_date"):
            remediations.append(_due(ev, f))
        if remediations:
            risk["remediations"] = remediations
        if f.get("attachments"):
            risk["links"] = [{"href": f"#{attachment_uuid(ev, a['id'])}", "rel": "evidence"} for a in f["attachments"]]
        out.append(risk)
    return out
