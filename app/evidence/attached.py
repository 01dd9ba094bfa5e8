"""The attachments an export carries, linked to the findings and runs they belong to.

Read in the same pass as the rest of the evidence (:func:`app.evidence.collect.load_evidence`),
each already checked against the audit chain (:func:`app.attachments.check_attachments`), so
every sink (report, workpapers, OSCAL, ``data/attachments.json``) shows the same state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlmodel import Session

    from app.evidence.sources import Scrubber


def link_attachments(db: Session, engagement_id: int, scrub: Scrubber, finding_records: list[dict[str, Any]],
                     run_records: list[dict[str, Any]], filtered: bool) -> list[dict[str, Any]]:
    """The attachments the exported findings and runs carry (all of them, unless windows were chosen);
    each finding and run record gets its own list under ``attachments``."""
    from app.attachments import check_attachments

    findings = {f["id"]: f for f in finding_records}
    runs = {r["id"]: r for r in run_records}
    for record in (*finding_records, *run_records):
        record["attachments"] = []
    linked = []
    for state in check_attachments(db, engagement_id):
        rec = scrub.deep(state.record)
        holder = findings.get(rec["finding_id"]) or runs.get(rec["run_id"])
        if holder is None and filtered and not rec["control"]:
            continue  # its finding or run is outside the chosen windows
        if holder is not None:
            holder["attachments"].append(rec)
        linked.append(rec)
    return linked

