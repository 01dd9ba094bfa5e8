"""``redline export ENGAGEMENT --out FILE.zip [--window NAME]...``: write the evidence bundle.

Parsing only; the bundle is built by :func:`app.evidence.bundle.build_bundle`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.text import for_terminal


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "export", help="write an engagement's evidence bundle (zip)",
        description="Write the evidence bundle a CPA firm can read, file and verify: report (Markdown and "
                    "HTML), workpapers (CSV and XLSX), data as JSON, transcripts, the audit trail, OSCAL "
                    "documents and a manifest of SHA-256 hashes. Check it later with `redline verify`.",
    )
    parser.add_argument("engagement", metavar="ENGAGEMENT", help="the engagement's name in the store")
    parser.add_argument("--out", required=True, type=Path, metavar="FILE.zip", help="where to write the bundle")
    parser.add_argument("--window", dest="windows", action="append", default=[], metavar="NAME",
                        help="only runs from this test window (repeatable); default: every run")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.evidence.bundle import ExportProgress, build_bundle
    from app.evidence.collect import find_engagement_id
    from app.store import session

    interactive = sys.stderr.isatty()

    def progress(step: ExportProgress) -> None:
        if interactive:
            sys.stderr.write(f"\r\x1b[2Kwriting {step.done}/{step.total}: {step.path}")
            sys.stderr.flush()

    with session() as db:
        result = build_bundle(db, find_engagement_id(db, args.engagement), args.out,
                              windows=args.windows or None, on_progress=progress)
    if interactive:
        sys.stderr.write("\r\x1b[2K")
    print(f"wrote {result.path} ({result.files} files plus manifest.json, {result.size:,} bytes): {result.runs} runs, "
          f"{result.turns} turns, {result.findings} findings")
    if result.flagged_runs:
        print(f"note: {result.flagged_runs} run(s) break a Type I/II dating rule; see the report's dating flags")
    for omitted in result.omitted:
        print(f"note: left out {omitted}")
    if not result.chain_ok:
        print("warning: the audit chain is broken; the bundle records it and `redline verify` will fail it:",
              file=sys.stderr)
        for problem in result.chain_problems:
            print(f"  - {for_terminal(problem)}", file=sys.stderr)
    return 0
