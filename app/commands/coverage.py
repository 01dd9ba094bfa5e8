"""``redline coverage ENGAGEMENT [--taxonomy owasp|atlas] [--json]``: where the engagement stands on each OWASP
LLM risk and MITRE ATLAS technique.

Parsing and printing only; the rows are :func:`app.evidence.tables.attack_coverage`, the same rows the
report's attack-coverage table and the ``attack_coverage`` workpaper show, so the three never disagree.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from app.text import one_line

CHOICES = {"owasp": "OWASP Top 10 for LLM Applications (2025)", "atlas": "MITRE ATLAS"}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "coverage", help="an engagement's results by OWASP LLM Top 10 risk and MITRE ATLAS technique",
        description="For each OWASP Top 10 for LLM Applications (2025) risk and each MITRE ATLAS technique in the "
                    "catalog: the scenarios that cite it, how their runs came out, and the open findings. Re-tests "
                    "are left out, as in continuous monitoring. Answers 'where are we on LLM01 to LLM10?'.",
    )
    parser.add_argument("engagement", metavar="ENGAGEMENT", help="the engagement's name in the store")
    parser.add_argument("--taxonomy", choices=sorted(CHOICES), default=None,
                        help="only this taxonomy (default: both)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.evidence.collect import find_engagement_id, load_evidence
    from app.evidence.tables import attack_coverage
    from app.store import session

    with session() as db:
        ev = load_evidence(db, find_engagement_id(db, args.engagement))
        rows = attack_coverage(ev)
        name = str(ev.engagement["name"])
    if args.taxonomy:
        rows = [r for r in rows if r["taxonomy"] == CHOICES[args.taxonomy]]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    from rich.table import Table
    from rich.text import Text

    from app.terminal import console

    out = console(highlight=False)
    for label in CHOICES.values():
        shown = [r for r in rows if r["taxonomy"] == label]
        if not shown:
            continue
        table = Table(title=f"{label}: {one_line(name, 60)}", title_justify="left")
        for column in ("id", "name", "runs", "pass", "fail", "open findings", "result", "scenarios"):
            table.add_column(column, no_wrap=column not in ("result", "scenarios"))
        for r in shown:
            table.add_row(r["id"], Text(r["name"]), str(r["runs"]), str(r["pass"]), str(r["fail"]),
                          str(r["open_findings"]), Text(r["result"]), Text(one_line(r["scenarios"] or "-", 200)))
        out.print(table)
    return 0
