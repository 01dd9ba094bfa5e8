"""``redline catalog``: show the control catalog as tables, or as JSON for other tools.

User catalog files are untrusted text, so every cell is a ``rich.text.Text``
made terminal-safe by ``app.text``: nothing from a file is read as markup.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.text import for_terminal

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table
    from rich.text import Text

    from app.catalog import Catalog

# app.catalog.SECTIONS, named here so that building the parser does not import
# pydantic for every ``redline`` start; a test keeps the two equal.
SECTIONS = ("criteria", "controls", "crosswalk", "audit_types", "auditor_questions", "evidence_types",
            "pre_engagement", "methodology", "finding_impacts", "remediation", "owasp_llm", "atlas")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "catalog", help="show the SOC 2 for AI control catalog",
        description="Show the Trust Services Criteria as applied to AI, the AI-specific controls, "
                    "the framework crosswalk and the audit tables. User files in "
                    "$REDLINE_HOME/catalog.d/*.yaml are included.",
    )
    parser.add_argument("--section", choices=SECTIONS, metavar="NAME",
                        help=f"show one section: {', '.join(SECTIONS)}")
    parser.add_argument("--json", action="store_true", help="print the catalog as JSON")
    parser.add_argument("--file", dest="files", action="append", type=Path, default=[], metavar="PATH",
                        help="add a user catalog file (repeatable)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.catalog import load_catalog

    catalog = load_catalog(args.files)
    sections = [args.section] if args.section else list(SECTIONS)
    if args.json:
        print(json.dumps(catalog.to_dict(sections), indent=2, ensure_ascii=False))
        return 0
    from app.terminal import console as make_console

    console = make_console(highlight=False)
    for name in sections:
        console.print(_RENDERERS[name](catalog))
    return 0


def _cell(value: Any) -> Text:
    from rich.text import Text

    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value)
    return Text(for_terminal(str(value)))


# Columns holding ids and keys: kept on one line so they can be copied into scenario files.
_SHORT = {"Id", "Key", "SOC 2", "Category", "Family", "#"}


def _table(title: str, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> Table:
    from rich.table import Table

    table = Table(title=_cell(title), show_lines=True, title_justify="left", expand=False)
    for column in columns:
        table.add_column(_cell(column), no_wrap=column in _SHORT, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    return table


def _criteria(c: Catalog) -> RenderableType:
    """One table per category, as auditors read them; the crosswalk sits beside each criterion."""
    from rich.console import Group

    from app.formats.scenario import CATEGORIES

    def crosswalk(ident: str) -> str:
        mapping = c.crosswalk_for(ident) or {}
        return "\n".join(f"{label}: {mapping[key]}" for key, label in _FRAMEWORKS if mapping.get(key))

    return Group(*(
        _table(f"Trust Services Criteria applied to AI: {category.replace('_', ' ')}",
               ("Id", "Name", "Traditional", "AI extension", "Crosswalk"),
               ((r.id, r.name + _from(r.source), r.traditional, r.ai_extension, crosswalk(r.id))
                for r in c.criteria_for_category(category)))
        for category in CATEGORIES if c.criteria_for_category(category)
    ))


_FRAMEWORKS = (("iso42001", "ISO 42001"), ("nist_ai_rmf", "NIST AI RMF"), ("eu_ai_act", "EU AI Act"))


def _from(source: str) -> str:
    return "" if source == "builtin" else f"\n(from {source})"


def _controls(c: Catalog) -> Table:
    return _table("AI-specific controls", ("Id", "Family", "Objective", "Description", "Red-team test", "Criteria"),
                  ((r.id, r.family, r.objective + _from(r.source), r.description, r.red_team_test, r.criteria)
                   for r in c.controls))


def _crosswalk(c: Catalog) -> Table:
    return _table("Crosswalk to other frameworks", ("SOC 2", "ISO 42001", "NIST AI RMF", "EU AI Act"),
                  ((r.criterion, r.iso42001, r.nist_ai_rmf, r.eu_ai_act) for r in c.crosswalk))


def _audit_types(c: Catalog) -> Table:
    return _table("Type I vs Type II", ("Dimension", "Type I", "Type II"),
                  ((r.dimension, r.type1, r.type2) for r in c.audit_types))


def _questions(c: Catalog) -> Table:
    return _table("What auditors ask about AI", ("Key", "Question", "Assesses", "Criteria", "How red teaming helps"),
                  ((r.key, r.question, r.assesses, r.criteria, r.red_team_help) for r in c.auditor_questions))


def _evidence(c: Catalog) -> Table:
    return _table("Evidence for auditors", ("Key", "Evidence", "Content", "SOC 2 relevance"),
                  ((r.key, r.name, r.content, r.soc2_relevance) for r in c.evidence_types))


def _steps(c: Catalog) -> Table:
    return _table("Pre-engagement alignment", ("#", "Key", "Step", "What to do"),
                  ((i, r.key, r.title, r.what) for i, r in enumerate(c.pre_engagement, 1)))


def _methodology(c: Catalog) -> Table:
    return _table("Testing methodology by category", ("Category", "Key", "Test"),
                  ((r.category, r.key, r.text) for r in c.methodology))


def _impacts(c: Catalog) -> Table:
    return _table("Findings that affect SOC 2 reports", ("Key", "Finding", "SOC 2 impact", "Severity", "Auditor view"),
                  ((r.key, r.finding, r.soc2_impact, r.severity, r.auditor_note) for r in c.finding_impacts))


def _remediation(c: Catalog) -> Table:
    rows = [("immediate (before the period ends)", item) for item in c.remediation.immediate]
    rows += [("longer term", item) for item in c.remediation.longer_term]
    return _table("Remediation priorities", ("When", "Priority"), rows)


def _owasp(c: Catalog) -> Table:
    return _table("OWASP Top 10 for LLM Applications (2025)", ("Id", "Risk", "In short"),
                  ((r.id, r.name, r.summary) for r in c.owasp_llm))


def _atlas(c: Catalog) -> Table:
    return _table("MITRE ATLAS techniques the library exercises", ("Id", "Technique", "Tactic", "In short"),
                  ((r.id, r.name if not r.parent else f"{r.parent} / {r.name}", r.tactic, r.summary) for r in c.atlas))


_RENDERERS: dict[str, Callable[[Catalog], RenderableType]] = {
    "criteria": _criteria, "controls": _controls, "crosswalk": _crosswalk, "audit_types": _audit_types,
    "auditor_questions": _questions, "evidence_types": _evidence, "pre_engagement": _steps,
    "methodology": _methodology, "finding_impacts": _impacts, "remediation": _remediation,
    "owasp_llm": _owasp, "atlas": _atlas,
}
