"""The system as the engagement describes it, as a minimal OSCAL system security plan inside the bundle.

OSCAL's assessment plan and POA&M must import a system security plan, and an
auditor's tool follows that link. Redline holds no SSP of the client's, so it
writes one from what the engagement itself records: the AI systems in and out
of the SOC 2 scope boundary, and the client's control matrix, in the client's
own wording, as the implemented requirements. It says so in its remarks, and
its components carry the same UUIDs as the plan's assessment subjects.
"""

from __future__ import annotations

from typing import Any

from app.evidence.collect import EvidenceSet
from app.evidence.oscal_common import components, metadata, props, stable_uuid, title

FILE_NAME = "system-security-plan.json"  # next to the other OSCAL documents, in oscal/
CRITERIA_SOURCE = ("The AICPA 2017 Trust Services Criteria (SOC 2) and Redline's SOC 2 for AI controls, "
                   "as listed in the bundle's data/controls.json.")


def _boundary(ev: EvidenceSet) -> str:
    inside = [s["name"] for s in ev.systems if s["in_scope"]]
    outside = [s["name"] for s in ev.systems if not s["in_scope"]]
    return (f"The SOC 2 scope boundary agreed for engagement {ev.engagement['name']}: "
            f"{len(inside)} AI system(s) in scope ({', '.join(inside) or 'none'})"
            + (f"; explicitly out of scope: {', '.join(outside)}." if outside else "."))


def _requirements(ev: EvidenceSet, this_system: str) -> list[dict[str, Any]]:
    """One implemented requirement per criterion of the client's matrix; each row is how the client words it.

    With no matrix at all, the controls the scenarios evidence stand in, each saying that the client
    described no control activity for it (an SSP needs at least one requirement).
    """
    rows: dict[str, list[dict[str, Any]]] = {}
    for m in ev.mappings:
        rows.setdefault(m["criterion"], []).append(m)
    out = []
    for criterion, mapped in rows.items():
        requirement: dict[str, Any] = {
            "uuid": stable_uuid(ev, "ssp-requirement", criterion), "control-id": criterion,
            "by-components": [{"uuid": stable_uuid(ev, "ssp-row", m["id"]), "component-uuid": this_system,
                               "description": m["activity"] or f"(no control activity worded for {criterion})"}
                              for m in mapped],
        }
        refs = [p for m in mapped for p in props(client_ref=m["client_ref"])]
        if refs:
            requirement["props"] = refs
        out.append(requirement)
    if not out:
        tested = list(dict.fromkeys(c for r in ev.runs for c in r["controls"])) or ["unmapped"]
        out = [{"uuid": stable_uuid(ev, "ssp-requirement", c), "control-id": c,
                "remarks": "Not in the client's control matrix: evidenced by the scenarios run only."}
               for c in tested]
    return out


def system_security_plan(ev: EvidenceSet) -> dict[str, Any]:
    """The SSP the plan and the POA&M import, built from the engagement's systems and control matrix."""
    name = ev.engagement["name"]
    this_system = stable_uuid(ev, "this-system")
    profile = stable_uuid(ev, "criteria-source")
    boundary = _boundary(ev)
    whole = {"uuid": this_system, "type": "this-system", "title": title(ev.engagement.get("client") or name),
             "description": f"The service organization's AI systems under test. {boundary}",
             "status": {"state": "operational"}}
    return {"system-security-plan": {
        "uuid": stable_uuid(ev, "ssp"),
        "metadata": metadata(ev, f"System description as tested: {name}",
                             remarks="Written by Redline from the engagement's systems and the client's control "
                                     "matrix; it is not the client's own system security plan."),
        "import-profile": {"href": f"#{profile}",
                           "remarks": "The criteria tested; no OSCAL profile of them exists in the bundle."},
        "system-characteristics": {
            "system-ids": [{"identifier-type": "https://ietf.org/rfc/rfc4122", "id": this_system}],
            "system-name": title(ev.engagement.get("client") or name),
            "description": f"AI systems of a SOC 2 {ev.engagement.get('audit_type_label', '')} engagement "
                           f"({name}). {boundary}",
            "system-information": {"information-types": [{
                "uuid": stable_uuid(ev, "information-type"),
                "title": "Information handled by the AI systems in scope",
                "description": "Not categorised: the engagement records each system's target, not the "
                               "information types it processes."}]},
            "status": {"state": "operational"},
            "authorization-boundary": {"description": boundary},
        },
        "system-implementation": {"components": [whole, *components(ev)]},
        "control-implementation": {
            "description": "The client's control matrix: each criterion or AI control, with the control "
                           "activity in the client's own wording.",
            "implemented-requirements": _requirements(ev, this_system),
        },
        "back-matter": {"resources": [{"uuid": profile, "title": "Criteria tested",
                                       "description": CRITERIA_SOURCE}]},
    }}
