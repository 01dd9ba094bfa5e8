"""What every OSCAL document of the bundle shares: derived UUIDs, props, dates, the parties and the components.

The parties are read from the evidence, never from the machine that exports:
the client and the CPA firm from the engagement, and the assessors from the
audit chain, whose every event names the tester who acted (the name given, else
``REDLINE_TESTER`` or the OS login when the event was recorded). So the same
store always names the same people, and an auditor's tool finds who tested,
for whom, and who relies on it, as OSCAL parties holding OSCAL roles.
"""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Any

from app import __version__
from app.evidence.collect import EvidenceSet, iso
from app.store import audit
from app.text import one_line

OSCAL_VERSION = "1.1.2"
PROP_NS = "urn:redline"
_NAMESPACE = uuid.UUID("5b8e1f0c-3d47-4f6a-9c2e-7a1d0b6e4c93")

# Role id -> title. "assessor" is the tester (or consultant) who ran and judged the tests;
# "service-auditor" is the CPA firm that relies on the evidence; "prepared-for" is the client.
ROLES: dict[str, str] = {
    "prepared-for": "Prepared for: the service organization (the client)",
    "assessor": "Assessor: the red-team tester who ran and judged the tests",
    "service-auditor": "Service auditor: the CPA firm that relies on this evidence",
}


def stable_uuid(ev: EvidenceSet, *parts: object) -> str:
    """The same UUID for the same engagement object, in every export and every document."""
    return _uuid_of("/".join([ev.engagement["name"], str(ev.engagement_id), *map(str, parts)]))


@lru_cache(maxsize=1 << 16)
def _uuid_of(key: str) -> str:
    """A turn's UUID is asked for by its observation, the conclusions relating it and the POA&M: made once."""
    return str(uuid.uuid5(_NAMESPACE, key))


def _line(text: str, limit: int) -> str:
    """:func:`one_line`, answered at once for the common case it returns unchanged (short printable ASCII)."""
    return text if len(text) <= limit and text.isascii() and text.isprintable() else one_line(text, limit)


def title(text: str) -> str:
    """One line of at most 200 characters: OSCAL titles are markup-line, and model output is hostile."""
    return _line(text or "", 200).strip() or "(untitled)"


def props(**values: Any) -> list[dict[str, str]]:
    """Redline's own facts as OSCAL props in Redline's namespace, each one line; empty values are left out."""
    flat = {k: _line(str(v), 1000).strip() for k, v in values.items() if v is not None}
    return [{"name": k.replace("_", "-"), "ns": PROP_NS, "value": v} for k, v in flat.items() if v]


def taxonomy_props(scenario: dict[str, Any]) -> list[dict[str, str]]:
    """One prop per OWASP LLM risk and MITRE ATLAS technique the scenario cites, for tools that filter on them."""
    return ([{"name": "owasp-llm", "ns": PROP_NS, "value": ident} for ident in scenario.get("owasp", [])]
            + [{"name": "mitre-atlas", "ns": PROP_NS, "value": ident} for ident in scenario.get("atlas", [])])


def when(ev: EvidenceSet, *candidates: str | None) -> str:
    """The first timestamp given, else the evidence's own as-of time (OSCAL wants a date everywhere)."""
    for value in candidates:
        if value:
            return value
    return iso(ev.data_as_of) or "1970-01-01T00:00:00+00:00"


def assessors(ev: EvidenceSet) -> list[str]:
    """The testers the audit chain names; only an engagement with no event at all falls back to the
    tester configured now, since somebody is exporting it."""
    names = [n for n in (one_line(ev.scrub.text(a), 200).strip() for a in ev.chain.actors) if n]
    return list(dict.fromkeys(names)) or [audit.default_actor()]


def _parties(ev: EvidenceSet) -> list[tuple[str, dict[str, Any]]]:
    """(role id, party) pairs: the client, the CPA firm (when the engagement names one), each assessor."""
    found: list[tuple[str, dict[str, Any]]] = []
    if ev.engagement.get("client"):
        found.append(("prepared-for", {"uuid": stable_uuid(ev, "party", "client"), "type": "organization",
                                       "name": title(ev.engagement["client"])}))
    if (ev.engagement.get("cpa_firm") or "").strip():
        found.append(("service-auditor", {"uuid": stable_uuid(ev, "party", "cpa-firm"), "type": "organization",
                                          "name": title(ev.engagement["cpa_firm"])}))
    for name in assessors(ev):
        found.append(("assessor", {"uuid": stable_uuid(ev, "party", "assessor", name), "type": "person",
                                   "name": name}))
    return found


def metadata(ev: EvidenceSet, heading: str, remarks: str = "") -> dict[str, Any]:
    """Title, dates and versions, and the parties with the roles they hold."""
    meta: dict[str, Any] = {"title": title(heading), "last-modified": when(ev), "version": __version__,
                            "oscal-version": OSCAL_VERSION}
    pairs = _parties(ev)
    used = [r for r in ROLES if any(role == r for role, _ in pairs)]
    if used:
        meta["roles"] = [{"id": r, "title": ROLES[r]} for r in used]
    if pairs:
        meta["parties"] = [party for _, party in pairs]
        meta["responsible-parties"] = [{"role-id": r, "party-uuids": [p["uuid"] for role, p in pairs if role == r]}
                                       for r in used]
    if remarks:
        meta["remarks"] = remarks
    return meta


def components(ev: EvidenceSet) -> list[dict[str, Any]]:
    """The AI systems in scope or tested, each an OSCAL service component; the same UUIDs in every document."""
    tested = {r["system_id"] for r in ev.runs}
    out = []
    for s in ev.systems:
        if not (s["in_scope"] or s["id"] in tested):
            continue
        out.append({"uuid": stable_uuid(ev, "system", s["id"]), "type": "service", "title": title(s["name"]),
                    "description": s["description"] or f"AI system {s['name']} ({s['kind']} target).",
                    "status": {"state": "operational" if s["in_scope"] else "other"},
                    "props": props(target_kind=s["kind"], in_scope="yes" if s["in_scope"] else "no",
                                   owner=s["owner"])})
    return out


def subjects(ev: EvidenceSet) -> list[dict[str, Any]]:
    return [{"subject-uuid": c["uuid"], "type": "component"} for c in components(ev)]
