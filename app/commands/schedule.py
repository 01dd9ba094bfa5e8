"""``redline schedule ENGAGEMENT --print cron|systemd|github-actions``: a ready schedule of Type II runs.

Parsing and printing only; the days and the command are :mod:`app.schedule`'s.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    from app.schedule import FORMS

    parser = subparsers.add_parser(
        "schedule", help="print a cron table, systemd timer or GitHub Actions workflow running each test window",
        description="Print a ready schedule that runs the engagement's library once in each test window (or "
                    "every N days inside the windows), in UTC. Every form runs `redline run ENGAGEMENT "
                    "--scheduled`, which tags the run with its window and says when it is late.",
    )
    parser.add_argument("engagement", metavar="ENGAGEMENT", help="the engagement's name")
    parser.add_argument("--print", dest="form", required=True, choices=FORMS, help="the scheduler to write for")
    parser.add_argument("--every", type=int, metavar="DAYS",
                        help="run every DAYS days inside each window (default: once per window)")
    parser.add_argument("--at", default="06:00", metavar="HH:MM", help="the time of day, UTC (default 06:00)")
    parser.add_argument("--redline", metavar="PATH", help="the redline executable the schedule calls "
                                                         "(default: the one on PATH)")
    parser.add_argument("--runner", default="self-hosted", metavar="LABEL",
                        help="github-actions: the runner label (default self-hosted: where the store lives)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="systemd: write the .service and .timer files into DIR instead of printing them")
    parser.set_defaults(func=_schedule)


def _schedule(args: argparse.Namespace) -> int:
    from app.engagements import find_engagement
    from app.errors import UsageError
    from app.runner.plan import today_utc
    from app.schedule import build_spec, cron_table, github_workflow, systemd_units
    from app.store import session

    with session() as db:
        engagement = find_engagement(db, args.engagement)
        spec = build_spec(db, engagement, today=today_utc(), at=args.at, every_days=args.every,
                          redline=args.redline)
    if args.form == "cron":
        print(cron_table(spec), end="")
    elif args.form == "github-actions":
        print(github_workflow(spec, args.runner), end="")
    else:
        units = systemd_units(spec)
        if args.out is None:
            for name, text in units.items():
                print(f"# ---- {name}\n{text}")
            return 0
        if not args.out.is_dir():
            raise UsageError(f"--out {args.out}: no such folder")
        for name, text in units.items():
            (args.out / name).write_text(text, encoding="utf-8")
            print(args.out / name)
    return 0
