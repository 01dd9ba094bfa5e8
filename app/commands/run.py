"""``redline run``: execute an engagement's scenarios headlessly (CI-friendly exit codes, JUnit)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run", help="run scenarios against the engagement's AI systems",
        description="Run scenarios against an engagement's in-scope AI systems and record the evidence. "
        "Without --scenario or --all, runs every scenario the control matrix maps. Exit codes: 0 all "
        "passed, 1 any failed, 2 usage or configuration error, 3 target errors left runs unjudged.",
    )
    parser.add_argument("engagement", metavar="ENGAGEMENT",
                        help="an engagement name in the store, or an engagement file (imported first)")
    parser.add_argument("--scenario", dest="scenarios", action="append", default=[], metavar="ID",
                        help="run this scenario (repeatable)")
    parser.add_argument("--all", dest="all_", action="store_true",
                        help="run the whole library plus the engagement's scenario folders")
    parser.add_argument("--strategy", dest="strategies", action="append", default=[], metavar="NAME",
                        help="also run each scenario under this strategy (repeatable; commas for several, "
                             "'+' to chain: --strategy base64,rot13 --strategy base64+roleplay); "
                             "see `redline strategies list`")
    parser.add_argument("--system", metavar="NAME", help="run against this system only")
    parser.add_argument("--window", metavar="NAME",
                        help="tag the runs with this test window (default: the window containing today)")
    parser.add_argument("--scenarios", dest="scenario_paths", action="append", default=[], metavar="DIR",
                        help="an extra scenario file or folder (repeatable)")
    parser.add_argument("--concurrency", type=_positive, default=4, metavar="N",
                        help="runs in flight at once (default 4)")
    parser.add_argument("--junit", type=Path, metavar="FILE", help="write a JUnit XML report for CI")
    parser.add_argument("--no-probe", dest="probe", action="store_false",
                        help="skip the canary probes that fingerprint each system for change detection")
    parser.add_argument("--no-transport-check", dest="transport", action="store_false",
                        help="skip the transport checks (CC6.7) of each system's URLs before the runs")
    parser.add_argument("--scheduled", action="store_true",
                        help="a run started by `redline schedule`'s timer: outside every test window it is tagged "
                             "with the window it was meant for and recorded as late (or early), and says so")
    parser.add_argument("--resume", type=int, metavar="RUN_ID",
                        help="finish an interrupted run without redoing its finished turns")
    parser.set_defaults(func=_run)


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _run(args: argparse.Namespace) -> int:
    from app.runner.console import run_from_cli

    if args.scheduled and args.window is None:
        args.window = _scheduled_window(args.engagement)
    return run_from_cli(args.engagement, scenario_ids=args.scenarios, all_=args.all_, system=args.system,
                        window=args.window, extra_paths=args.scenario_paths, concurrency=args.concurrency,
                        probe=args.probe, transport=args.transport,
                        junit=args.junit, resume=args.resume,
                        strategies=[c.strip() for value in args.strategies for c in value.split(",") if c.strip()])


def _scheduled_window(ref: str) -> str | None:
    """The window a scheduled run belongs to (app.schedule); outside every window, said before it starts."""
    import sys

    from app.engagements import find_engagement
    from app.runner.plan import today_utc
    from app.schedule import scheduled_window
    from app.store import session
    from app.text import for_terminal

    with session() as db:
        window, notice = scheduled_window(db, find_engagement(db, ref), today_utc())
    if notice:
        print(f"redline: {for_terminal(notice)}", file=sys.stderr)
    return window.name if window is not None else None
