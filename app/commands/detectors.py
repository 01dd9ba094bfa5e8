"""``redline detectors calibrate``: how often each detector and judge is right on labelled responses."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("detectors", help="measure detectors and model judges",
                                   description="Measure detectors and model judges on labelled responses.")
    sub = parser.add_subparsers(dest="detectors_command", metavar="ACTION", required=True)
    cal = sub.add_parser(
        "calibrate", help="precision and recall of each detector and judge on the labelled set",
        description="Run each detector the labelled set lists (and each --judge) over its responses and "
                    "report precision and recall. With --engagement, judges are that engagement's systems and "
                    "the report is recorded in its audit chain, from where its evidence bundle takes it.")
    cal.add_argument("--judge", dest="judges", action="append", default=[], metavar="SYSTEM",
                     help="also measure this model judge: a system of --engagement, or 'demo' for the built-in "
                          "demo judge (repeatable)")
    cal.add_argument("--engagement", metavar="NAME", help="the engagement whose systems judge and whose chain "
                                                         "records the report")
    cal.add_argument("--set", dest="set_path", type=Path, metavar="FILE",
                     help="a labelled set of your own (default: the shipped one)")
    cal.add_argument("--seconds", type=float, default=60.0, metavar="S",
                     help="the longest wait for one judge reply (default 60)")
    cal.add_argument("--json", action="store_true", help="the whole report as JSON")
    cal.set_defaults(func=_calibrate)


def _calibrate(args: argparse.Namespace) -> int:
    from app.calibration import table_rows
    from app.calibration_run import calibrate
    from app.errors import FileFormatError
    from app.text import for_terminal

    try:
        result = calibrate(judges=args.judges, engagement=args.engagement, set_path=args.set_path,
                           seconds=args.seconds)
    except FileFormatError as exc:
        import sys

        for problem in exc.problems:
            print(for_terminal(str(problem)), file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
        return 0
    labelled = result["set"]
    counts = ", ".join(f"{n} {label}" for label, n in labelled["labels"].items())
    print(for_terminal(f"{labelled['path']} (sha256 {labelled['sha256'][:12]}): {labelled['items']} responses: "
                       f"{counts}"))
    header = ("DETECTOR", "FAILS ON", "PRECISION", "RECALL", "TP/FP/FN", "ERRORS")
    rows = [header, *table_rows(result)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print(for_terminal("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()))
    for judge in result["judges"]:
        print(for_terminal(f"judge {judge['system']}: prompt {judge['prompt_version']} "
                           f"(sha256 {judge['prompt_sha256'][:12]})"))
    if args.engagement:
        print(for_terminal(f"recorded in engagement '{args.engagement}''s audit chain"))
    return 0
