"""``redline runs ENGAGEMENT [--json]``: run ids, states and verdicts, and which runs can be resumed.

Parsing and printing only; the rows are :func:`app.runs.list_runs`. Runs a dead process left
``running`` are recovered first (``RECOVER_FIRST`` in :mod:`app.cli`), so they show as interrupted.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from app.text import one_line


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "runs", help="list an engagement's runs: ids, states, verdicts, what can be resumed",
        description="List an engagement's runs, newest first, with their state and verdict. An interrupted or "
                    "cancelled run can be finished with `redline run ENGAGEMENT --resume RUN_ID`.",
    )
    parser.add_argument("engagement", metavar="ENGAGEMENT", help="the engagement's name in the store")
    parser.add_argument("--json", action="store_true", help="print the runs as JSON")
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="at most N runs (default 500)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.engagements import find_engagement
    from app.runs import DEFAULT_LIMIT, list_runs
    from app.store import session

    with session() as db:
        engagement = find_engagement(db, args.engagement)
        runs = list_runs(db, engagement.id or 0, limit=args.limit or DEFAULT_LIMIT)
    if args.json:
        print(json.dumps([r.to_json() for r in runs], indent=2, ensure_ascii=False))
        return 0
    from rich.table import Table
    from rich.text import Text

    from app.strategies.variants import run_label
    from app.terminal import console

    table = Table(title=f"{len(runs)} run{'s' if len(runs) != 1 else ''} of {one_line(engagement.name, 60)}",
                  title_justify="left")
    for name in ("run", "scenario", "system", "window", "state", "verdict", "resume with"):
        table.add_column(name, no_wrap=True)
    for listing in runs:
        r = listing.row
        table.add_row(str(r.run_id), *(Text(one_line(v, 120)) for v in (
            run_label(r.scenario_id, r.strategy), r.system, r.window or "-", r.status, r.verdict or "-",
            listing.resume_command or "")))
    console(highlight=False).print(table)
    return 0
