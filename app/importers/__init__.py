"""Results from other tools as evidence: garak reports and promptfoo eval results imported as runs.

Consultants already run garak and promptfoo. Their attempts become Redline runs, turns and verdicts against
an engagement's system, mapped to SOC 2 controls, OWASP LLM and MITRE ATLAS through an editable table
(:mod:`app.importers.mapping`), marked with the tool and its version, and hashed into the audit chain like
native runs, so they flow through triage, findings and the bundle. :func:`import_report` is the one entry.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from app.importers.model import ImportedReport, ReportImportError
from app.importers.record import ImportSummary

if TYPE_CHECKING:
    from sqlmodel import Session

TOOLS = ("garak", "promptfoo")


def parse_report(tool: str, path: Path) -> ImportedReport:
    """The report read by its tool's parser; a clear error for a missing file or an unknown tool."""
    if tool not in TOOLS:
        raise ReportImportError(f"unknown tool '{tool}' (known: {', '.join(TOOLS)})")
    if not path.is_file():
        raise ReportImportError(f"{path}: no such file")
    if tool == "garak":
        from app.importers import garak

        return garak.parse(path)
    from app.importers import promptfoo

    return promptfoo.parse(path)


def import_report(db: Session, *, tool: str, path: Path, engagement: str, system: str,
                  mapping: Path | None = None, actor: str = "") -> ImportSummary:
    """Parse and map first (so a bad file or mapping writes nothing), then record every probe as a run."""
    from sqlmodel import select

    from app.engagements import find_engagement
    from app.importers.mapping import load_mapping
    from app.importers.record import record_report
    from app.store.models import AISystem

    report = parse_report(tool, path)
    table = load_mapping(mapping)
    row = find_engagement(db, engagement)
    systems = list(db.exec(select(AISystem).where(AISystem.engagement_id == row.id)).all())
    found = next((s for s in systems if s.name == system), None)
    if found is None:
        known = ", ".join(sorted(s.name for s in systems)) or "none"
        raise ReportImportError(f"engagement '{row.name}' has no system '{system}' (its systems: {known})")
    return record_report(db, row, found, report, table, actor)


__all__ = ["TOOLS", "ReportImportError", "ImportSummary", "import_report", "parse_report"]
