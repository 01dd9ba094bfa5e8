"""``redline manual ENGAGEMENT [RUN STEP --verdict pass|fail --note TEXT]``: manual steps, headless.

Without RUN and STEP, lists the manual steps that await the tester; with them,
records one step's outcome (:func:`app.manual.record_manual_outcome`) and
prints the run's verdict after it. Parsing and printing only.
"""

from __future__ import annotations

import argparse
from typing import Any

from app.text import for_terminal, one_line


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "manual", help="list manual steps awaiting the tester, or record one's outcome",
        description="A manual step asks the tester to do or observe something (trigger a failover, check the "
                    "SIEM) and record the outcome. A run with an unrecorded manual step is never a pass. "
                    "Without RUN and STEP, lists the steps awaiting a record.",
    )
    parser.add_argument("engagement", metavar="ENGAGEMENT", help="the engagement's name in the store")
    parser.add_argument("run_id", metavar="RUN", type=int, nargs="?", help="the run holding the manual step")
    parser.add_argument("step", metavar="STEP", type=int, nargs="?",
                        help="the step's number in the scenario (1 = first)")
    parser.add_argument("--verdict", choices=("pass", "fail"), help="what the tester observed")
    parser.add_argument("--note", default="", help="what was done and observed (required when recording)")
    parser.add_argument("--attachment", metavar="REF", default=None,
                        help="reference of an attached file that evidences the observation")
    parser.add_argument("--sample", type=int, default=0, metavar="N", help="the sample, for sampled scenarios")
    parser.add_argument("--by", default="", metavar="NAME", help="who recorded it (default: the OS user)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.engagements import find_engagement
    from app.errors import UsageError
    from app.manual import pending_for_engagement, record_manual_outcome
    from app.store import session

    if args.run_id is None:
        with session() as db:
            engagement = find_engagement(db, args.engagement)
            items = pending_for_engagement(db, engagement.id or 0)
        if not items:
            print(f"no manual step awaits a record in {for_terminal(engagement.name)}")
        for item in items:
            print(f"run {item.run_id} step {item.step + 1}"
                  + (f" sample {item.sample}" if item.sample else "") + f": {one_line(item.instruction, 200)}")
        return 0
    if args.step is None or args.verdict is None:
        raise UsageError("to record a manual step give RUN, STEP, --verdict pass|fail and --note TEXT")
    if args.step < 1:
        raise UsageError("STEP counts from 1, as the run screen shows it")
    with session() as db:
        engagement = find_engagement(db, args.engagement)
        from app.store.models import Run

        found = db.get(Run, args.run_id)
        if found is None or found.engagement_id != engagement.id:
            raise UsageError(f"engagement '{engagement.name}' has no run {args.run_id}")
        verdict = record_manual_outcome(db, run_id=args.run_id, step=args.step - 1, sample=args.sample,
                                        outcome=args.verdict, note=args.note, actor=args.by,
                                        attachment=args.attachment)
    print(f"run {args.run_id} step {args.step}: {args.verdict} recorded; the run's verdict is now {verdict}")
    return 0
