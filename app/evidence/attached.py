"""The attachments an export carries, linked to the findings and runs they belong to.

Read in the same pass as the rest of the evidence (:func:`app.evidence.collect.load_evidence`),
each already checked against the audit chain (:func:`app.attachments.check_attachments`), so
every sink (report, workpapers, OSCAL, ``data/attachments.json``) shows the same state.
"""

from __future__ import annotations

from app.evidence.collect import EvidenceSet


def link_attachments(ev: EvidenceSet, filtered: bool) -> None:
    """The attachments the exported findings and runs carry (all of them, unless windows were chosen)."""
    from app.attachments import check_attachments

    findings = {f["id"]: f for f in ev.findings}
    runs = {r["id"]: r for r in ev.runs}
    for record in (*ev.findings, *ev.runs):
        record["attachments"] = []
    for state in check_attachments(ev.db, ev.engagement_id):
        rec = ev.scrub.deep(state.record)
        holder = findings.get(rec["finding_id"]) or runs.get(rec["run_id"])
        if holder is None and filtered and not rec["control"]:
            continue  # its finding or run is outside the chosen windows
        if holder is not None:
            holder["attachments"].append(rec)
        ev.attachments.append(rec)

