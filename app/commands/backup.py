"""``redline backup --out FILE``: a consistent copy of the store and its attached files, taken while in use.

Parsing and the report only; the copy is :func:`app.store.backup.backup_store`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from app.text import for_terminal


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "backup", help="copy the store consistently, even while a run or the cockpit uses it",
        description="Write a consistent copy of the store with SQLite's online backup API: safe while a run "
                    "or the cockpit is writing. Attached evidence files go into FILE.attachments, each "
                    "checked against the SHA-256 recorded when it was attached. The copy is owner-only and "
                    "passes an integrity check. Put it back with `redline restore FILE`. Exits 1 when an "
                    "attached file is missing or no longer matches (the rest is still copied).",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="FILE", help="where to write the copy")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.store.backup import backup_store, copied_files_report

    copy = backup_store(args.out)
    print(for_terminal(f"wrote {copy.path} ({copy.size:,} bytes, schema {copy.schema_version}): "
                       f"{copy.engagements} engagements, {copy.runs} runs; SHA-256 {copy.sha256}"))
    return copied_files_report(copy)
