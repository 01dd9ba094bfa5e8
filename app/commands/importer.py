"""``redline import garak|promptfoo FILE --engagement ENG --system NAME``: another tool's results as evidence.

Parsing and printing only; the import is :func:`app.importers.import_report`, in one transaction.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.text import for_terminal


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "import", help="import garak or promptfoo results as runs of an engagement",
        description="Turn a garak report (report.jsonl) or promptfoo eval results (promptfoo eval -o "
                    "results.json) into runs, turns and verdicts of an engagement's system, mapped to SOC 2 "
                    "controls, OWASP LLM and MITRE ATLAS through an editable table, marked with the tool and its "
                    "version, and hashed into the audit chain like native runs. Nothing is written if any part "
                    "of the file or the mapping is wrong.",
    )
    parser.add_argument("tool", choices=("garak", "promptfoo"), help="the tool that wrote the file")
    parser.add_argument("file", type=Path, metavar="FILE", help="the report to import")
    parser.add_argument("--engagement", required=True, metavar="ENG", help="the engagement's name in the store")
    parser.add_argument("--system", required=True, metavar="NAME", help="the engagement's system the tool tested")
    parser.add_argument("--mapping", type=Path, metavar="FILE",
                        help="a mapping table whose entries replace the shipped ones (see assets/importers)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.importers import import_report
    from app.store import session

    with session() as db:
        summary = import_report(db, tool=args.tool, path=args.file, engagement=args.engagement,
                                system=args.system, mapping=args.mapping)
    verdicts: dict[str, int] = {}
    for _, _, verdict in summary.runs:
        verdicts[verdict] = verdicts.get(verdict, 0) + 1
    told = ", ".join(f"{v} {k}" for k, v in sorted(verdicts.items()))
    print(for_terminal(f"imported {summary.tool} {summary.version}: {len(summary.runs)} run(s) ({told}), "
                       f"{summary.turns} turn(s) into '{args.engagement}' / {args.system}"))
    for run_id, probe, verdict in summary.runs:
        print(for_terminal(f"  run {run_id}: {probe}: {verdict}"))
    if summary.findings:
        print(f"draft findings: {', '.join(f'#{f}' for f in summary.findings)} (triage them in the cockpit or "
              "with `redline findings`)")
    if summary.unmapped:
        print(for_terminal(f"note: no control mapping for {', '.join(summary.unmapped)}: add them to a mapping "
                           "file (--mapping) so their runs count for a control"))
    for skipped in summary.skipped:
        print(for_terminal(f"note: left out {skipped}"))
    return 0
