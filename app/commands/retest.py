"""``redline retest ENGAGEMENT``: re-run the scenario behind each open finding and move it by the result."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from app.text import for_terminal


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "retest", help="re-test open findings after remediation",
        description="Re-run the scenario behind each open finding (open, remediating, retest_failed) against "
        "the same AI system; a pass moves the finding to retest_passed, a failure to retest_failed. "
        "Exit codes: 0 every re-test passed (or nothing was open), 1 any failed, 2 usage error, "
        "3 some re-tests could not be concluded.",
    )
    parser.add_argument("engagement", metavar="ENGAGEMENT",
                        help="an engagement name in the store, or an engagement file (imported first)")
    parser.add_argument("--finding", dest="findings", action="append", type=int, default=[], metavar="ID",
                        help="re-test only this finding (repeatable; it must be open)")
    parser.add_argument("--window", metavar="NAME",
                        help="tag the re-test runs with this test window (default: the window containing today)")
    parser.add_argument("--by", metavar="NAME", default="",
                        help="the tester (default: $REDLINE_TESTER or your login)")
    parser.add_argument("--concurrency", type=int, default=4, metavar="N", help="runs in flight at once (default 4)")
    parser.add_argument("--junit", type=Path, metavar="FILE", help="write a JUnit XML report of the re-test runs")
    parser.add_argument("--no-probe", dest="probe", action="store_false",
                        help="skip the canary probes that fingerprint each re-tested system's behaviour")
    parser.add_argument("--json", action="store_true", help="print the outcomes as JSON")
    parser.set_defaults(func=_retest)


def _retest(args: argparse.Namespace) -> int:
    from app.findings import OPEN_STATUSES, find
    from app.retest import exit_code, retest_findings_async
    from app.runner.console import ConsoleProgress, open_engagement
    from app.secrets import SecretResolver
    from app.store import session
    from app.terminal import console as make_console

    err = make_console(stderr=True)
    with session() as db:
        engagement = open_engagement(db, args.engagement)
        total = len(args.findings) or len(find(db, engagement.id or 0, statuses=OPEN_STATUSES))
    resolver = SecretResolver()

    async def main() -> list[Any]:
        with ConsoleProgress(err, max(total, 1)) as progress:
            return await retest_findings_async(engagement.id or 0, args.findings or None, window=args.window,
                                               actor=args.by, concurrency=max(1, args.concurrency),
                                               probe=args.probe, on_event=progress, secrets=resolver)

    outcomes = asyncio.run(main())
    for notice in resolver.notices:
        err.print(f"redline: {for_terminal(notice)}", markup=False)
    if args.json:
        print(json.dumps([o.to_json() for o in outcomes], indent=2, ensure_ascii=False))
    else:
        make_console().print(summary_table(engagement.name, outcomes))
    if args.junit is not None:
        from app.junit import write_junit

        write_junit(args.junit, [o.run for o in outcomes if o.run is not None], suite=f"{engagement.name} re-tests")
        err.print(f"redline: JUnit report written to {for_terminal(str(args.junit))}", markup=False)
    return exit_code(outcomes)


def summary_table(engagement: str, outcomes: list[Any]) -> Any:
    """finding, title, scenario @ system, status before → after, re-test run, outcome."""
    from rich.table import Table
    from rich.text import Text

    from app.text import one_line

    if not outcomes:
        return Text(f"No open findings to re-test in engagement '{one_line(engagement)}'.")
    table = Table(title=Text(f"Re-tests · {one_line(engagement)}"), title_justify="left")
    for name in ("finding", "title", "scenario @ system", "status", "run", "outcome"):
        table.add_column(name, overflow="fold", ratio=1 if name == "title" else None)
    styles = {"pass": "green", "fail": "bold red", "error": "yellow", "review": "cyan"}
    for o in outcomes:
        outcome = Text(o.outcome, style=styles.get(o.outcome, "dim"))
        if o.reason and o.outcome != "pass":
            outcome.append(f"\n{one_line(o.reason, 120)}", style="dim")
        table.add_row(Text(f"#{o.finding_id}"), Text(one_line(o.title, 120)),
                      Text(one_line(f"{o.scenario_id} @ {o.system}" if o.system else o.scenario_id, 80)),
                      Text(f"{o.before} → {o.status}"), Text(f"{o.original_run_id or '–'} → {o.run_id or '–'}"),
                      outcome)
    return table
